// The reference: a bare nats.js (@nats-io/transport-node) subscriber that only takes each message off the wire and
// JSON.parses it. Its CPU-seconds for the same entries are what the agent is compared to.
import { connect } from '@nats-io/transport-node';
import type { BareArgs, BareCommand, BareEvent } from './protocol.js';

function post(event: BareEvent): void {
  process.send?.(event);
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as BareArgs;
  const nc = await connect({ servers: args.natsUrl, name: args.name, maxReconnectAttempts: -1 });
  const decoder = new TextDecoder();
  let count = 0;
  let objects = 0;
  let parseErrors = 0;
  let expected = -1;
  nc.subscribe(args.subject, {
    callback: (err, msg) => {
      if (err !== null) return;
      try {
        // Kept in a counter so the parse has an observable effect.
        if (typeof JSON.parse(decoder.decode(msg.data)) === 'object') objects++;
      } catch {
        parseErrors++;
      }
      if (++count === expected) post({ ev: 'reached', count, at: performance.timeOrigin + performance.now() });
    },
  });
  await nc.flush();
  post({ ev: 'ready' });

  process.on('message', (raw) => {
    const command = raw as BareCommand;
    if (command.cmd === 'expect') {
      expected = count + command.count;
      if (command.count === 0) post({ ev: 'reached', count, at: Date.now() });
    } else if (command.cmd === 'count') {
      post({ ev: 'count', count, parseErrors });
    } else {
      void nc.close().then(() => process.exit(objects >= 0 ? 0 : 1));
    }
  });
  process.on('disconnect', () => process.exit(0));
}

main().catch((error: unknown) => {
  post({ ev: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
});

// The nats-server helper itself: start, auth, subscription visibility, paced publishing,
// restart on the same port. The e2e scenarios depend on each of these.
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { connectPublisher, publishAll, startNatsServer, type NatsServer } from '../../support/nats.js';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';

const servers: NatsServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
});

describe('nats support', () => {
  it('publishes a paced run that a subscriber receives completely and in order', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const sub = await connect({ servers: server.url, name: 'probe-sub' });
    const got: string[] = [];
    const s = sub.subscribe('logs.>', { queue: 'q1' });
    void (async () => {
      for await (const m of s) got.push(m.subject);
    })();
    const subs = await server.waitForSubscribers('logs.>', 1, { queue: 'q1' });
    expect(subs[0]!.connectionName).toBe('probe-sub');

    const entries = makeFlyEntries(3000, { seed: 5 });
    const nc = await connectPublisher(server.url);
    const t0 = performance.now();
    await publishAll(nc, entries, { ratePerSec: 10_000 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    await waitFor(() => got.length === entries.length, { what: 'all messages', timeoutMs: 10_000 });
    expect(got).toEqual(entries.map((e) => e.subject));
    await nc.close();
    await sub.close();
  });

  it('restarts on the same port and the publisher reconnects', async () => {
    const server = await startNatsServer({ user: 'my-org', pass: 'fm2_tok+en/with=,chars' });
    servers.push(server);
    await expect(connect({ servers: server.url, reconnect: false, user: 'my-org', pass: 'wrong' })).rejects.toThrow();
    const nc = await connectPublisher(server.url, { user: 'my-org', pass: 'fm2_tok+en/with=,chars' });
    const firstPid = server.process.pid;
    await server.restart();
    expect(server.process.pid).not.toBe(firstPid);
    await waitFor(async () => {
      await nc.flush();
      const varz = await server.varz();
      return Number(varz.connections) >= 1;
    }, { what: 'publisher reconnected', timeoutMs: 15_000 });
    await nc.close();
  });
});

// A real nats-server with users as Fly's log stream has them (org slug / token as user /
// password), plus one whose token may not subscribe to logs.> (a Permissions Violation).
// Clients without credentials become `personal`, so startNatsServer's readiness probe works.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from './nats.js';

export const NATS_ORG = 'personal';
export const NATS_TOKEN = 'fm2_right-token-for-the-org';
export const NATS_NO_SUB_USER = 'nosub';
export const NATS_NO_SUB_TOKEN = 'fm2_token-that-may-not-read-logs';

export async function startNatsWithUsers(): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'logferry-nats-users-'));
  const conf = join(dir, 'nats.conf');
  await writeFile(
    conf,
    `authorization {
  users = [
    { user: "${NATS_ORG}", password: "${NATS_TOKEN}" }
    { user: "${NATS_NO_SUB_USER}", password: "${NATS_NO_SUB_TOKEN}", permissions: { subscribe: { deny: ["logs.>"] } } }
  ]
}
no_auth_user: "${NATS_ORG}"
`,
  );
  const server = await startNatsServer({ extraArgs: ['-c', conf] });
  // nats-server has read the file; it is not needed again (restart() re-reads it, so keep it until stop).
  const stop = server.stop.bind(server);
  return Object.assign(Object.create(server) as NatsServer, {
    async stop(signal?: NodeJS.Signals) {
      await stop(signal);
      await rm(dir, { recursive: true, force: true });
    },
  });
}

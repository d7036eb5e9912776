// Issue 2, test 9: a missing or malformed variable stops the agent at start with exit code
// 2 and exactly one line on stderr, `logferry: invalid configuration: <VARIABLE>: <what is
// expected>`, and a secret's value never appears anywhere in the output.
import { beforeAll, describe, it } from 'vitest';
import { runAgentToExit } from '../../support/agent.js';
import { freePort } from '../../support/ports.js';

interface Case {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  /** The variable the line must name (regex source for the part after the prefix). */
  readonly variable: string;
  /** Values that must not appear in stdout or stderr. */
  readonly secrets?: readonly string[];
  /** Further text the message must contain. */
  readonly mentions?: readonly string[];
  /** Leave out the base HTTP_URL (so no sink is configured). */
  readonly noSink?: boolean;
}

const CASES: readonly Case[] = [
  { name: 'NATS_URL with a foreign scheme', env: { NATS_URL: 'ftp://x' }, variable: 'NATS_URL' },
  { name: 'HTTP_URL that is not a URL', env: { HTTP_URL: 'not a url' }, variable: 'HTTP_URL' },
  { name: 'HTTP_COMPRESSION unknown', env: { HTTP_COMPRESSION: 'brotli' }, variable: 'HTTP_COMPRESSION' },
  { name: 'HTTP_FORMAT unknown', env: { HTTP_FORMAT: 'xml' }, variable: 'HTTP_FORMAT' },
  { name: 'METRICS_PORT out of range', env: { METRICS_PORT: '99999' }, variable: 'METRICS_PORT' },
  { name: 'METRICS_PORT not a number', env: { METRICS_PORT: 'metrics' }, variable: 'METRICS_PORT' },
  { name: 'STALL_TIMEOUT not a duration', env: { STALL_TIMEOUT: 'soon' }, variable: 'STALL_TIMEOUT' },
  { name: 'SHUTDOWN_TIMEOUT not a duration', env: { SHUTDOWN_TIMEOUT: 'later' }, variable: 'SHUTDOWN_TIMEOUT' },
  { name: 'HEALTH_FAIL_AFTER not a duration', env: { HEALTH_FAIL_AFTER: 'a while' }, variable: 'HEALTH_FAIL_AFTER' },
  { name: 'RETRY_INITIAL_BACKOFF not a duration', env: { RETRY_INITIAL_BACKOFF: 'fast' }, variable: 'RETRY_INITIAL_BACKOFF' },
  { name: 'RETRY_MAX_BACKOFF not a duration', env: { RETRY_MAX_BACKOFF: 'slow' }, variable: 'RETRY_MAX_BACKOFF' },
  { name: 'HTTP_BATCH_MAX_ENTRIES not a number', env: { HTTP_BATCH_MAX_ENTRIES: 'lots' }, variable: 'HTTP_BATCH_MAX_ENTRIES' },
  { name: 'HTTP_BATCH_MAX_BYTES not a size', env: { HTTP_BATCH_MAX_BYTES: 'big' }, variable: 'HTTP_BATCH_MAX_BYTES' },
  { name: 'HTTP_BATCH_MAX_AGE not a duration', env: { HTTP_BATCH_MAX_AGE: 'forever' }, variable: 'HTTP_BATCH_MAX_AGE' },
  { name: 'HTTP_MAX_IN_FLIGHT zero', env: { HTTP_MAX_IN_FLIGHT: '0' }, variable: 'HTTP_MAX_IN_FLIGHT' },
  { name: 'HTTP_BUFFER_MAX_BYTES not a size', env: { HTTP_BUFFER_MAX_BYTES: 'huge' }, variable: 'HTTP_BUFFER_MAX_BYTES' },
  { name: 'LOG_LEVEL unknown', env: { LOG_LEVEL: 'loud' }, variable: 'LOG_LEVEL' },
  { name: 'SHIP_OWN_LOGS not a boolean', env: { SHIP_OWN_LOGS: 'maybe' }, variable: 'SHIP_OWN_LOGS' },
  { name: 'SUBJECT with spaces', env: { SUBJECT: 'logs with spaces' }, variable: 'SUBJECT' },
  { name: 'OPSVERSE_LOGS_ENDPOINT without a password', env: { OPSVERSE_LOGS_ENDPOINT: 'https://loki.opsverse.example', OPSVERSE_USERNAME: 'ops-user-42' }, variable: 'OPSVERSE_PASSWORD' },
  { name: 'OPSVERSE_PASSWORD without an endpoint', env: { OPSVERSE_USERNAME: 'ops-user-42', OPSVERSE_PASSWORD: 'Ops-Secret-9931' }, variable: 'OPSVERSE_LOGS_ENDPOINT', secrets: ['Ops-Secret-9931'] },
  { name: 'OPSVERSE_LOGS_ENDPOINT malformed', env: { OPSVERSE_LOGS_ENDPOINT: 'loki.opsverse.example:Ops-Secret-9931', OPSVERSE_USERNAME: 'u', OPSVERSE_PASSWORD: 'Ops-Secret-9931' }, variable: 'OPSVERSE_LOGS_ENDPOINT', secrets: ['Ops-Secret-9931'] },
  { name: 'LOKI_LINE_FORMAT unknown', env: { LOKI_URL: 'http://127.0.0.1:3100', LOKI_LINE_FORMAT: 'xml' }, variable: 'LOKI_LINE_FORMAT' },
  { name: 'NETWORK not an IPv6 prefix', env: { NATS_URL: '', NETWORK: 'not/a/prefix' }, variable: 'NETWORK' },
  { name: 'ORG without ACCESS_TOKEN', env: { ORG: 'my-org' }, variable: 'ACCESS_TOKEN' },
  {
    // ORG defaults to `personal` (as fly-log-shipper): the token alone is enough, a bad knob next to it is named.
    name: 'ACCESS_TOKEN without ORG next to a bad value',
    env: { ACCESS_TOKEN: 'FlyV1 fm2_SECRETaccess0001', LOG_LEVEL: 'loud' },
    variable: 'LOG_LEVEL',
    secrets: ['fm2_SECRETaccess0001'],
  },
  {
    name: 'on Fly without ACCESS_TOKEN',
    env: { FLY_APP_NAME: 'my-logferry', ORG: 'my-org' },
    variable: 'ACCESS_TOKEN',
  },
  {
    name: 'on Fly with no sink and no DATA_DIR',
    env: { FLY_APP_NAME: 'my-logferry', ORG: 'my-org', ACCESS_TOKEN: 'FlyV1 fm2_SECRETaccess0003' },
    noSink: true,
    variable: '[^:]+',
    mentions: ['HTTP_URL', 'LOKI_URL', 'AWS_BUCKET'],
    secrets: ['fm2_SECRETaccess0003'],
  },
  {
    name: 'a bad value next to an ACCESS_TOKEN',
    env: { ORG: 'my-org', ACCESS_TOKEN: 'FlyV1 fm2_SECRETaccess0004', STALL_TIMEOUT: 'soon' },
    variable: 'STALL_TIMEOUT',
    secrets: ['fm2_SECRETaccess0004'],
  },
  {
    name: 'a bad value next to an HTTP_TOKEN',
    env: { HTTP_TOKEN: 'tok_SECRET_http_0005', HTTP_COMPRESSION: 'brotli' },
    variable: 'HTTP_COMPRESSION',
    secrets: ['tok_SECRET_http_0005'],
  },
  {
    name: 'HTTP_URL with credentials that does not parse',
    env: { HTTP_URL: 'https://user:pw_SECRET_url_0006@exa mple.com/ingest' },
    variable: 'HTTP_URL',
    secrets: ['pw_SECRET_url_0006'],
  },
  {
    name: 'NATS_URL with credentials that does not parse',
    env: { NATS_URL: 'nats://my-org:pw_SECRET_nats_0007@127.0.0.1:port' },
    variable: 'NATS_URL',
    secrets: ['pw_SECRET_nats_0007'],
  },
];

let baseEnv: Record<string, string>;
beforeAll(async () => {
  // Valid defaults, so each case fails only on its own variable; an unused port so an
  // agent that wrongly accepted its configuration would not find a server either.
  baseEnv = { NATS_URL: `nats://127.0.0.1:${await freePort()}`, HTTP_URL: 'http://127.0.0.1:9/ingest', METRICS_PORT: String(await freePort()) };
});

// Each case is one short-lived process: run a few at once (vitest's maxConcurrency) to keep the file quick.
describe('e2e: configuration errors', () => {
  it.concurrent.for(CASES)('$name → exit 2 naming $variable', async (c, { expect }) => {
    const env: Record<string, string> = { ...baseEnv, ...c.env };
    if (c.noSink) delete env.HTTP_URL;
    for (const [k, v] of Object.entries(env)) if (v === '') delete env[k];
    const run = await runAgentToExit(env, { timeoutMs: 15_000 });
    const output = `code ${run.code} signal ${run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    expect(run.code, output).toBe(2);
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    expect(lines, output).toHaveLength(1);
    expect(run.stderr.endsWith('\n')).toBe(true);
    expect(lines[0], output).toMatch(new RegExp(`^logferry: invalid configuration: ${c.variable}: \\S`));
    for (const m of c.mentions ?? []) expect(lines[0]).toContain(m);
    for (const s of c.secrets ?? []) expect(run.stdout + run.stderr, `secret ${s} leaked`).not.toContain(s);
    expect(run.stdout, output).toBe('');
  });
});

describe('e2e: several configuration errors', () => {
  it('names every problem in one block on stderr, exit 2, no secret', async ({ expect }) => {
    const env: Record<string, string> = {
      ...baseEnv,
      FLY_APP_NAME: 'my-logferry',
      HTTP_TOKEN: 'tok_SECRET_http_0008',
      HTTP_COMPRESSION: 'brotli',
      STALL_TIMEOUT: 'soon',
      METRICS_PORT: '99999',
    };
    const run = await runAgentToExit(env, { timeoutMs: 15_000 });
    const output = `code ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    expect(run.code, output).toBe(2);
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    expect(lines[0], output).toBe('logferry: invalid configuration (4 problems):');
    expect(lines.slice(1).map((l) => /^ {2}([A-Z_]+): \S/.exec(l)?.[1]).sort(), output).toEqual(['ACCESS_TOKEN', 'HTTP_COMPRESSION', 'METRICS_PORT', 'STALL_TIMEOUT']);
    expect(run.stdout + run.stderr).not.toContain('tok_SECRET_http_0008');
    expect(run.stdout, output).toBe('');
  });
});

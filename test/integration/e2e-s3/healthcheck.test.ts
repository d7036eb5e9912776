// Issue 3, test 4: wrong credentials and a missing bucket. The agent logs one clear error line
// naming the problem, /health answers 503 with the sink's state, the process keeps running
// (no crash loop), entries published meanwhile are counted as rejected with the store's
// status, and SIGINT still stops it cleanly with exit code 0. A key that may write but not
// list (AccessDenied on the start-up listing) is only warned about, until an upload is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { delay } from '../../support/poll.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { errorLines, startS3Scenario, type S3Scenario } from './s3-scenario.js';

// How long the agent must stay up with a broken sink: a crash loop would have shown by then.
const STAYS_UP_MS = 3000;

let h: S3Scenario;
beforeAll(async () => {
  h = await startS3Scenario({ proxy: true });
});
afterAll(async () => {
  await h?.close();
});

interface Case {
  readonly name: string;
  /** Each case ships its own app, on its own subject. */
  readonly app: string;
  readonly env: () => Record<string, string>;
  readonly setup?: () => void;
  /** What the one healthcheck line must say. */
  readonly says: readonly RegExp[];
  /** How uploads are then refused. */
  readonly rejectReason: string;
  /** The sink's state from the start-up check on (credentials refused: auth_failed; missing bucket: unhealthy). */
  readonly stateAfterUpload: 'auth_failed' | 'unhealthy';
  /** Values that must never appear in the agent's output. */
  readonly secrets: readonly string[];
}

const CASES: readonly Case[] = [
  {
    name: 'an access key the store does not know (s3rver: InvalidAccessKeyId)',
    app: 'unknown-key',
    env: () => ({ S3_ENDPOINT: h.s3.endpoint, AWS_ACCESS_KEY_ID: 'AKIAE2EUNKNOWNKEY01', AWS_SECRET_ACCESS_KEY: 'e2e-s3cret-never-logged-01' }),
    says: [/does not know the access key in AWS_ACCESS_KEY_ID/, /InvalidAccessKeyId/, /HTTP 403/],
    rejectReason: 'http_403',
    stateAfterUpload: 'auth_failed',
    secrets: ['e2e-s3cret-never-logged-01'],
  },
  {
    name: 'a secret key that does not match (scripted 403 SignatureDoesNotMatch)',
    app: 'bad-secret',
    env: () => ({ AWS_SECRET_ACCESS_KEY: 'e2e-s3cret-never-logged-02' }),
    setup: () => h.proxy!.failAll({ status: 403, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' }),
    says: [/refused the signature/, /AWS_SECRET_ACCESS_KEY/, /SignatureDoesNotMatch/],
    rejectReason: 'http_403',
    stateAfterUpload: 'auth_failed',
    secrets: ['e2e-s3cret-never-logged-02'],
  },
  {
    name: 'a bucket that does not exist (s3rver: NoSuchBucket)',
    app: 'no-bucket',
    env: () => ({ S3_ENDPOINT: h.s3.endpoint, AWS_BUCKET: 'e2e-missing-bucket' }),
    says: [/bucket "e2e-missing-bucket" does not exist/, /NoSuchBucket/, /AWS_BUCKET/],
    rejectReason: 'http_404',
    stateAfterUpload: 'unhealthy',
    secrets: [],
  },
];

describe('e2e s3: wrong credentials and a missing bucket', () => {
  for (const c of CASES) {
    it(`${c.name}: one clear line, /health 503, keeps running, exits 0 on SIGINT`, async () => {
      h.proxy!.failAll(undefined);
      c.setup?.();
      const agent = await h.startAgent({ ...c.env(), SUBJECT: `logs.${c.app}.>` }, { label: c.app });

      const line = await agent.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('sink healthcheck failed'), 'the healthcheck failure');
      expect(line.level).toBe('error');
      expect(line.sink).toBe('s3');
      for (const re of c.says) expect(line.msg, agent.tail()).toMatch(re);

      const health = await agent.health();
      expect(health.status, JSON.stringify(health.body)).toBe(503);
      expect(health.body.status).toBe('failing');
      expect(health.body.nats.connected).toBe(true);
      expect(health.body.sinks.s3.state).toBe(c.stateAfterUpload);
      expect(health.body.sinks.s3.healthcheckError).toBe(line.err);
      expect(await agent.metric('logferry_sink_up', { sink: 's3' })).toBe(0);

      // No crash loop: still up a while later, and that one line is the only error.
      await delay(STAYS_UP_MS);
      expect(agent.isRunning(), agent.tail()).toBe(true);
      expect(errorLines(agent), agent.tail()).toEqual([line]);

      // What arrives meanwhile is accounted for: refused by the store, counted as rejected.
      const entries = makeFlyEntries(20, { seed: 3400, apps: [c.app], idPrefix: `${c.app}-` });
      await h.publish(entries);
      const a = await waitForSettled(agent, entries.length, 's3');
      expect(a).toMatchObject({ received: 20, delivered: 0, rejected: 20, dropped: 0, pending: 0 });
      expect(await agent.metric('logferry_sink_entries_rejected_total', { sink: 's3', reason: c.rejectReason })).toBe(20);
      const after = await agent.health();
      expect(after.status).toBe(503);
      expect(after.body.sinks.s3.state).toBe(c.stateAfterUpload);
      expect(agent.isRunning()).toBe(true);

      const counters = await stopCleanly(agent);
      expect(counters.sinks.s3!.rejected).toEqual({ [c.rejectReason]: 20 });
      const output = agent.stdoutLines.join('\n') + agent.stderr();
      for (const secret of c.secrets) expect(output).not.toContain(secret);
    });
  }

  it('a key that may write but not list: a warning at start, then a refused upload turns /health to auth_failed', async () => {
    const proxy = h.proxy!;
    proxy.failAll({ status: 403, code: 'AccessDenied', message: 'Access Denied' });
    const agent = await h.startAgent({ SUBJECT: 'logs.write-only.>' }, { label: 'write-only' });
    const warning = await agent.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('AccessDenied'), 'the AccessDenied warning');
    expect(warning.level).toBe('warn');
    // The listing was refused, but that is no reason to call the sink broken.
    expect(proxy.requests.some((r) => r.method === 'GET' && r.status === 403)).toBe(true);
    let health = await agent.health();
    expect(health.status, JSON.stringify(health.body)).toBe(200);
    expect(health.body.sinks.s3.state).toBe('ok');
    expect(errorLines(agent)).toEqual([]);

    const entries = makeFlyEntries(20, { seed: 3401, apps: ['write-only'], idPrefix: 'wo-' });
    await h.publish(entries);
    const a = await waitForSettled(agent, entries.length, 's3');
    expect(a).toMatchObject({ received: 20, delivered: 0, rejected: 20, dropped: 0, pending: 0 });
    // The upload's refusal is loud, and /health names it.
    const loud = errorLines(agent);
    expect(loud.length, agent.tail()).toBeGreaterThan(0);
    expect(loud[0]!.msg).toMatch(/credentials/);
    expect(String(loud[0]!.err)).toMatch(/AccessDenied/);
    health = await agent.health();
    expect(health.status).toBe(503);
    expect(health.body.sinks.s3.state).toBe('auth_failed');
    expect(health.body.sinks.s3.lastError).toMatch(/AccessDenied/);
    expect(agent.isRunning()).toBe(true);

    const counters = await stopCleanly(agent);
    expect(counters.sinks.s3!.rejected).toEqual({ http_403: 20 });
  });
});

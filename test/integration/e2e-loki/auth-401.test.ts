// Issue 4, test 5: Loki refuses the credentials (401). The start-up check logs one clear
// line naming the settings to fix and /health answers 503; once a push is refused, the agent
// says so loudly, /health reports `auth_failed`, the entries are counted as rejected, and the
// process keeps running until SIGINT stops it with exit code 0. The password never shows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { delay } from '../../support/poll.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { errorLines, startLokiScenario, type LokiScenario } from './loki-scenario.js';

const WRONG_PASSWORD = 'glc_e2e-wrong-password-never-logged';
// How long the agent must stay up with refused credentials: a crash loop would have shown by then.
const STAYS_UP_MS = 3000;

let h: LokiScenario;
beforeAll(async () => {
  h = await startLokiScenario({ auth: { username: '123456', password: 'glc_the-right-one' } });
});
afterAll(async () => {
  await h?.close();
});

describe('e2e loki: refused credentials (401)', () => {
  it('logs a loud error, reports auth_failed on /health, counts the entries, and keeps running', async () => {
    const agent = await h.startAgent({ LOKI_USERNAME: '123456', LOKI_PASSWORD: WRONG_PASSWORD });

    // The start-up check: /ready is open, the empty push is refused.
    const line = await agent.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('sink healthcheck failed'), 'the healthcheck failure');
    expect(line.level).toBe('error');
    expect(line.sink).toBe('loki');
    expect(line.msg).toMatch(/refused the credentials \(HTTP 401/);
    expect(line.msg).toMatch(/LOKI_USERNAME\/LOKI_PASSWORD/);
    let health = await agent.health();
    expect(health.status, JSON.stringify(health.body)).toBe(503);
    expect(health.body.sinks.loki.healthcheckError).toBe(line.err);
    expect(await agent.metric('logferry_sink_up', { sink: 'loki' })).toBe(0);

    await delay(STAYS_UP_MS);
    expect(agent.isRunning(), agent.tail()).toBe(true);
    expect(errorLines(agent), agent.tail()).toEqual([line]);

    // A real push is refused: loud, and /health names it.
    const entries = makeFlyEntries(50, { seed: 4501 });
    await h.publish(entries);
    const a = await waitForSettled(agent, entries.length, 'loki');
    expect(a).toMatchObject({ received: 50, delivered: 0, rejected: 50, dropped: 0, pending: 0 });
    expect(await agent.metric('logferry_sink_entries_rejected_total', { sink: 'loki', reason: 'http_401' })).toBe(50);
    expect(h.loki.pushes.filter((p) => p.entries > 0).every((p) => p.status === 401)).toBe(true);
    expect(h.loki.entries()).toEqual([]);

    const loud = errorLines(agent).slice(1);
    expect(loud.length, agent.tail()).toBeGreaterThan(0);
    expect(loud[0]!.msg).toMatch(/credentials/);
    expect(String(loud[0]!.err)).toMatch(/HTTP 401/);
    health = await agent.health();
    expect(health.status).toBe(503);
    expect(health.body.status).toBe('failing');
    expect(health.body.sinks.loki.state).toBe('auth_failed');
    expect(health.body.sinks.loki.lastError).toMatch(/401/);
    // No retry storm against a gateway that refuses us.
    expect(await agent.metric('logferry_sink_retries_total', { sink: 'loki' })).toBe(0);
    expect(agent.isRunning()).toBe(true);

    const counters = await stopCleanly(agent);
    expect(counters.sinks.loki!.rejected).toEqual({ http_401: 50 });
    const output = agent.stdoutLines.join('\n') + agent.stderr();
    expect(output).not.toContain(WRONG_PASSWORD);
    expect(output).not.toContain(Buffer.from(`123456:${WRONG_PASSWORD}`).toString('base64'));
  });
});

// Issue 18: /health answers 503 for what should stop a Fly deploy. Against a real nats-server
// whose users are an ORG with a token, and one whose token may not subscribe to the log stream:
// refused credentials and a refused subscription each turn /health to 503 with the reason in
// the body (never the token). (200 during a sink outage with room left is proven in
// dashboard-and-alerts.test.ts, with the agent's spool working.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../support/agent.js';
import { startHttpReceiver, type HttpReceiver } from '../../support/http-receiver.js';
import type { NatsServer } from '../../support/nats.js';
import { NATS_NO_SUB_TOKEN, NATS_NO_SUB_USER, NATS_ORG, NATS_TOKEN, startNatsWithUsers } from '../../support/nats-users.js';
import { waitFor } from '../../support/poll.js';

const WRONG_TOKEN = 'fm2_wrong-token-never-shown';

let nats: NatsServer;
let receiver: HttpReceiver;
const agents: Agent[] = [];

beforeAll(async () => {
  nats = await startNatsWithUsers();
  receiver = await startHttpReceiver();
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  await receiver?.close();
  await nats?.stop('SIGKILL');
});

async function start(org: string, token: string): Promise<Agent> {
  const agent = await startAgent({ NATS_URL: nats.url, ORG: org, ACCESS_TOKEN: token, HTTP_URL: `${receiver.url}/ingest` }, { label: org });
  agents.push(agent);
  return agent;
}

async function unhealthy(agent: Agent, settled: (body: any) => boolean = () => true): Promise<{ status: number; body: any }> {
  return waitFor(
    async () => {
      const h = await agent.health();
      return h.status === 503 && settled(h.body) && h;
    },
    { what: `${agent.label} /health to answer 503`, timeoutMs: 15_000, intervalMs: 100, context: async () => `${JSON.stringify((await agent.health()).body)}\n${agent.tail(10)}` },
  );
}

describe('/health for deploys', () => {
  it('the right credentials: 200, subscribed', async () => {
    const agent = await start(NATS_ORG, NATS_TOKEN);
    const h = await agent.waitForReady();
    await waitFor(async () => (await agent.health()).body?.nats?.subscribed === true, { what: 'subscribed' });
    expect(h.status).toBe(200);
  });

  it('NATS refuses the credentials: 503 at once, naming ORG / ACCESS_TOKEN, without the token', async () => {
    const agent = await start(NATS_ORG, WRONG_TOKEN);
    const h = await unhealthy(agent, (body) => body.nats?.authError !== undefined);
    expect(h.body.status).toBe('failing');
    expect(h.body.nats).toMatchObject({ connected: false, subscribed: false });
    expect(h.body.nats.authError).toMatch(/authorization violation/i);
    expect(h.body.problems[0]).toBe('nats: credentials refused (ORG / ACCESS_TOKEN)');
    expect(JSON.stringify(h.body)).not.toContain(WRONG_TOKEN);
    expect(await agent.metric('logferry_nats_subscribed')).toBe(0);
    // Well inside HEALTH_FAIL_AFTER (60 s by default): refused credentials do not wait for it.
    expect(agent.isRunning()).toBe(true);
  });

  it('NATS refuses the subscription: 503 while connected, naming the subject', async () => {
    const agent = await start(NATS_NO_SUB_USER, NATS_NO_SUB_TOKEN);
    // Before the server's refusal arrives the agent is 503 for "not subscribed yet"; wait for the refusal itself.
    const h = await unhealthy(agent, (body) => body.nats?.subscriptionError !== undefined);
    expect(h.body.nats).toMatchObject({ connected: true, subscribed: false });
    expect(h.body.nats.subscriptionError).toMatch(/permissions violation for subscription to "logs\.>"/i);
    expect(h.body.problems[0]).toBe('nats: subscription refused (SUBJECT not permitted)');
    expect(JSON.stringify(h.body)).not.toContain(NATS_NO_SUB_TOKEN);
    expect(await agent.metric('logferry_nats_connected')).toBe(1);
    expect(await agent.metric('logferry_nats_subscribed')).toBe(0);
  });
});

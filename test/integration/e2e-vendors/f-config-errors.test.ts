// The f-dest-http destinations' configuration errors through the agent process: exit code 2,
// one line naming the variable, no secret anywhere in the output.
import { beforeAll, describe, it } from 'vitest';
import { runAgentToExit } from '../../support/agent.js';
import { freePort } from '../../support/ports.js';

interface Case {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  readonly variable: string;
  readonly secrets: readonly string[];
}

const CASES: readonly Case[] = [
  { name: 'AXIOM_TOKEN without AXIOM_DATASET', env: { AXIOM_TOKEN: 'xaat-SECRET-ax-01' }, variable: 'AXIOM_DATASET', secrets: ['xaat-SECRET-ax-01'] },
  { name: 'LOGFLARE_API_KEY without LOGFLARE_SOURCE_TOKEN', env: { LOGFLARE_API_KEY: 'lf-SECRET-02' }, variable: 'LOGFLARE_SOURCE_TOKEN', secrets: ['lf-SECRET-02'] },
  { name: 'UPTRACE_PROJECT without UPTRACE_API_KEY', env: { UPTRACE_PROJECT: '7' }, variable: 'UPTRACE_API_KEY', secrets: [] },
  {
    name: 'OPENOBSERVE_URI that does not parse',
    env: { OPENOBSERVE_URI: 'https://root:oo-SECRET-03@exa mple.com/api/o/s/_json', OPENOBSERVE_USER: 'u', OPENOBSERVE_PASSWORD: 'oo-SECRET-04' },
    variable: 'OPENOBSERVE_URI',
    secrets: ['oo-SECRET-03', 'oo-SECRET-04'],
  },
  { name: 'BETTER_STACK_SOURCE_TOKEN with a line break', env: { BETTER_STACK_SOURCE_TOKEN: 'bs-SECRET-05\nX-Evil: 1' }, variable: 'BETTER_STACK_SOURCE_TOKEN', secrets: ['bs-SECRET-05'] },
  { name: 'SLACK_WEBHOOK_URL without SLACK_ALERT_KEYWORDS', env: { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/slack-SECRET-06' }, variable: 'SLACK_ALERT_KEYWORDS', secrets: ['slack-SECRET-06'] },
  { name: 'SLACK_ALERT_KEYWORDS not a list of expressions', env: { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/slack-SECRET-07', SLACK_ALERT_KEYWORDS: "[r'(unclosed']" }, variable: 'SLACK_ALERT_KEYWORDS', secrets: ['slack-SECRET-07'] },
  { name: 'a bad BASELIME_DATASET next to the key', env: { BASELIME_API_KEY: 'bl-SECRET-08', BASELIME_DATASET: 'a/b' }, variable: 'BASELIME_DATASET', secrets: ['bl-SECRET-08'] },
  { name: 'AXIOM_URL that is not http(s)', env: { AXIOM_TOKEN: 'xaat-SECRET-09', AXIOM_DATASET: 'd', AXIOM_URL: 'ftp://files' }, variable: 'AXIOM_URL', secrets: ['xaat-SECRET-09'] },
];

let baseEnv: Record<string, string>;
beforeAll(async () => {
  // An unused NATS port: an agent that wrongly accepted its configuration would not find a server either.
  baseEnv = { NATS_URL: `nats://127.0.0.1:${await freePort()}`, METRICS_PORT: String(await freePort()) };
});

describe('e2e: fly-log-shipper destination secrets', () => {
  it.concurrent.for(CASES)('$name → exit 2 naming $variable', async (c, { expect }) => {
    const run = await runAgentToExit({ ...baseEnv, ...c.env }, { timeoutMs: 15_000 });
    const output = `code ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    expect(run.code, output).toBe(2);
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    expect(lines, output).toHaveLength(1);
    expect(lines[0], output).toMatch(new RegExp(`^logferry: invalid configuration: ${c.variable}: \\S`));
    for (const s of c.secrets) expect(run.stdout + run.stderr, `secret ${s} leaked`).not.toContain(s);
    expect(run.stdout, output).toBe('');
  });
});

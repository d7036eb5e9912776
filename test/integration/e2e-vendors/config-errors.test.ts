// Issue 17: every vendor destination's missing or malformed secret stops the agent at start
// with exit code 2 and one line `logferry: invalid configuration: <VARIABLE>: ...`, and no
// secret's value appears anywhere in the output.
import { beforeAll, describe, it } from 'vitest';
import { runAgentToExit } from '../../support/agent.js';
import { freePort } from '../../support/ports.js';

interface Case {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  readonly variable: string;
  readonly secrets?: readonly string[];
}

const CASES: readonly Case[] = [
  { name: 'DATADOG_SITE without DATADOG_API_KEY', env: { DATADOG_SITE: 'datadoghq.eu' }, variable: 'DATADOG_API_KEY' },
  { name: 'DATADOG_API_KEY with a line break', env: { DATADOG_API_KEY: 'dd_SECRET_0001\nx' }, variable: 'DATADOG_API_KEY', secrets: ['dd_SECRET_0001'] },
  { name: 'DATADOG_SITE not a host', env: { DATADOG_API_KEY: 'dd_SECRET_0002', DATADOG_SITE: 'https://datadoghq.eu/' }, variable: 'DATADOG_SITE', secrets: ['dd_SECRET_0002'] },
  { name: 'HONEYCOMB_API_KEY without HONEYCOMB_DATASET', env: { HONEYCOMB_API_KEY: 'hc_SECRET_0003' }, variable: 'HONEYCOMB_DATASET', secrets: ['hc_SECRET_0003'] },
  { name: 'HONEYCOMB_DATASET without HONEYCOMB_API_KEY', env: { HONEYCOMB_DATASET: 'fly' }, variable: 'HONEYCOMB_API_KEY' },
  { name: 'NEW_RELIC_REGION unknown', env: { NEW_RELIC_LICENSE_KEY: 'nr_SECRET_0004', NEW_RELIC_REGION: 'ap' }, variable: 'NEW_RELIC_REGION', secrets: ['nr_SECRET_0004'] },
  { name: 'NEW_RELIC_ACCOUNT_ID not numeric', env: { NEW_RELIC_INSERT_KEY: 'nr_SECRET_0005', NEW_RELIC_ACCOUNT_ID: 'acme' }, variable: 'NEW_RELIC_ACCOUNT_ID', secrets: ['nr_SECRET_0005'] },
  { name: 'NEW_RELIC_REGION without a key', env: { NEW_RELIC_REGION: 'eu' }, variable: 'NEW_RELIC_LICENSE_KEY' },
  { name: 'HUMIO_ENDPOINT not a URL', env: { HUMIO_TOKEN: 'hu_SECRET_0006', HUMIO_ENDPOINT: 'cloud.humio.com' }, variable: 'HUMIO_ENDPOINT', secrets: ['hu_SECRET_0006'] },
  { name: 'HUMIO_TOKEN with a space', env: { HUMIO_TOKEN: 'hu SECRET_0007' }, variable: 'HUMIO_TOKEN', secrets: ['SECRET_0007'] },
  { name: 'ERASEARCH_URL without ERASEARCH_INDEX', env: { ERASEARCH_URL: 'https://api.era.co', ERASEARCH_AUTH: 'Bearer era_SECRET_0008' }, variable: 'ERASEARCH_INDEX', secrets: ['era_SECRET_0008'] },
  { name: 'ERASEARCH_INDEX with upper case', env: { ERASEARCH_URL: 'https://api.era.co', ERASEARCH_INDEX: 'Fly', ERASEARCH_AUTH: 'Bearer era_SECRET_0009' }, variable: 'ERASEARCH_INDEX', secrets: ['era_SECRET_0009'] },
  { name: 'ERASEARCH_AUTH without ERASEARCH_URL', env: { ERASEARCH_AUTH: 'Bearer era_SECRET_0010' }, variable: 'ERASEARCH_URL', secrets: ['era_SECRET_0010'] },
  { name: 'SEMATEXT_TOKEN without SEMATEXT_REGION', env: { SEMATEXT_TOKEN: 'st_SECRET_0011' }, variable: 'SEMATEXT_REGION', secrets: ['st_SECRET_0011'] },
  { name: 'SEMATEXT_REGION unknown', env: { SEMATEXT_TOKEN: 'st_SECRET_0012', SEMATEXT_REGION: 'asia' }, variable: 'SEMATEXT_REGION', secrets: ['st_SECRET_0012'] },
  { name: 'CLOUDWATCH_LOG_GROUP_NAME without AWS_REGION', env: { CLOUDWATCH_LOG_GROUP_NAME: '/fly', AWS_ACCESS_KEY_ID: 'AKIA0013', AWS_SECRET_ACCESS_KEY: 'aws_SECRET_0013' }, variable: 'AWS_REGION', secrets: ['aws_SECRET_0013'] },
  { name: 'CLOUDWATCH_LOG_GROUP_NAME without AWS_SECRET_ACCESS_KEY', env: { CLOUDWATCH_LOG_GROUP_NAME: '/fly', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIA0014' }, variable: 'AWS_SECRET_ACCESS_KEY' },
  { name: 'CLOUDWATCH_LOG_GROUP_NAME with a space', env: { CLOUDWATCH_LOG_GROUP_NAME: 'fly logs', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIA0015', AWS_SECRET_ACCESS_KEY: 'aws_SECRET_0015' }, variable: 'CLOUDWATCH_LOG_GROUP_NAME', secrets: ['aws_SECRET_0015'] },
  { name: 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS not a URL', env: { CLOUDWATCH_LOG_GROUP_NAME: '/fly', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIA0016', AWS_SECRET_ACCESS_KEY: 'aws_SECRET_0016', AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: 'localhost:4566' }, variable: 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', secrets: ['aws_SECRET_0016'] },
  { name: 'PAPERTRAIL_ENDPOINT without a port', env: { PAPERTRAIL_ENDPOINT: 'logs3.papertrailapp.com' }, variable: 'PAPERTRAIL_ENDPOINT' },
  { name: 'PAPERTRAIL_ENCODING_CODEC unknown', env: { PAPERTRAIL_ENDPOINT: 'logs3.papertrailapp.com:12345', PAPERTRAIL_ENCODING_CODEC: 'avro' }, variable: 'PAPERTRAIL_ENCODING_CODEC' },
];

let baseEnv: Record<string, string>;
beforeAll(async () => {
  // No other sink: each case's destination is the only one configured.
  baseEnv = { NATS_URL: `nats://127.0.0.1:${await freePort()}`, METRICS_PORT: String(await freePort()) };
});

describe('e2e: vendor configuration errors', () => {
  it.concurrent.for(CASES)('$name → exit 2 naming $variable', async (c, { expect }) => {
    const run = await runAgentToExit({ ...baseEnv, ...c.env }, { timeoutMs: 15_000 });
    const output = `code ${run.code} signal ${run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    expect(run.code, output).toBe(2);
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    expect(lines, output).toHaveLength(1);
    expect(lines[0], output).toMatch(new RegExp(`^logferry: invalid configuration: ${c.variable}: \\S`));
    for (const s of c.secrets ?? []) expect(run.stdout + run.stderr, `secret ${s} leaked`).not.toContain(s);
    expect(run.stdout, output).toBe('');
  });
});

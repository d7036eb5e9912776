// Issue 18: `logferry check`, run as a user runs it (bin/logferry.js, the `logferry` on the
// PATH), against real servers: all healthy; NATS down; wrong NATS credentials; a token that
// may not subscribe; a sink answering 401; an unwritable spool directory; an invalid
// configuration. In each the right line fails (and only it), the exit code is right (0 / 1
// / 2) and no secret appears in the output. Plus --help and --version.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { REPO_ROOT } from '../../support/agent.js';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { startHttpReceiver, type HttpReceiver } from '../../support/http-receiver.js';
import { startLokiReceiver, type LokiReceiver } from '../../support/loki-receiver.js';
import { connectPublisher, type NatsServer } from '../../support/nats.js';
import { NATS_NO_SUB_TOKEN, NATS_NO_SUB_USER, NATS_ORG, NATS_TOKEN, startNatsWithUsers } from '../../support/nats-users.js';
import { freePort } from '../../support/ports.js';

const BIN = join(REPO_ROOT, 'bin', 'logferry.js');
const WRONG_TOKEN = 'fm2_wrong-nats-token-never-printed';
const LOKI_PASSWORD = 'glc_right-loki-password';
const WRONG_LOKI_PASSWORD = 'glc_wrong-loki-password-never-printed';

interface CheckRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** name → outcome, from the one-line-per-check output. */
  readonly lines: Map<string, { outcome: string; text: string }>;
}

let dir: string;
let nats: NatsServer;
let publisher: NatsConnection;
let http: HttpReceiver;
let loki: LokiReceiver;
let flowing: NodeJS.Timeout | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'logferry-check-'));
  nats = await startNatsWithUsers();
  publisher = await connectPublisher(nats.url, { user: NATS_ORG, pass: NATS_TOKEN });
  http = await startHttpReceiver();
  loki = await startLokiReceiver({ auth: { username: '123456', password: LOKI_PASSWORD } });
  // Apps logging all along, so the check sees a first message.
  const entries = makeFlyEntries(50, { seed: 1804 });
  let i = 0;
  flowing = setInterval(() => {
    const e = entries[i++ % entries.length]!;
    publisher.publish(e.subject, e.payload);
  }, 50);
});

afterAll(async () => {
  if (flowing !== undefined) clearInterval(flowing);
  await publisher?.close().catch(() => undefined);
  await http?.close();
  await loki?.close();
  await nats?.stop('SIGKILL');
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function baseEnv(): Record<string, string> {
  return {
    NATS_URL: nats.url,
    ORG: NATS_ORG,
    ACCESS_TOKEN: NATS_TOKEN,
    HTTP_URL: `${http.url}/ingest`,
    LOKI_URL: loki.url,
    LOKI_USERNAME: '123456',
    LOKI_PASSWORD,
    SPOOL_DIR: join(dir, 'spool'),
  };
}

async function runCheck(env: Record<string, string>, args: readonly string[] = ['check', '--wait', '3']): Promise<CheckRun> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  const lines = new Map<string, { outcome: string; text: string }>();
  for (const line of stdout.split('\n')) {
    const outcome = line.slice(0, 8).trim();
    if (!['ok', 'warning', 'failed'].includes(outcome)) continue;
    lines.set(line.slice(8, 28).trim(), { outcome, text: line });
  }
  return { code, stdout, stderr, lines };
}

const ALL = ['config', 'nats connection', 'nats credentials', 'nats subscription', 'sink http', 'sink loki', 'spool'];

function outcomes(run: CheckRun): Record<string, string> {
  return Object.fromEntries(ALL.map((name) => [name, run.lines.get(name)?.outcome ?? 'missing']));
}

function expectNoSecret(run: CheckRun, ...secrets: string[]): void {
  for (const s of [NATS_TOKEN, LOKI_PASSWORD, ...secrets]) {
    expect(run.stdout + run.stderr, `output shows ${s}`).not.toContain(s);
  }
}

describe('logferry check', () => {
  it('all healthy: every line ok, exit 0', async () => {
    const run = await runCheck(baseEnv());
    expect(outcomes(run), run.stdout + run.stderr).toEqual(Object.fromEntries(ALL.map((n) => [n, 'ok'])));
    expect(run.code).toBe(0);
    expect(run.lines.get('nats subscription')!.text).toMatch(/subscribed to logs\.>; first message after/);
    expect(run.lines.get('sink loki')!.text).toMatch(/healthcheck passed/);
    expect(run.lines.get('spool')!.text).toMatch(/writable; .* free, bound [\d.]+ GiB × 2 sinks/);
    expect(run.stdout).toMatch(/all checks passed\n$/);
    expectNoSecret(run);
    // The spool directory it had to create is gone again (run as root it would be root's).
    expect(existsSync(join(dir, 'spool'))).toBe(false);
  });

  it('NATS down: the connection line fails with what to do, the sinks and spool are still checked, exit 1', async () => {
    const run = await runCheck({ ...baseEnv(), NATS_URL: `nats://127.0.0.1:${await freePort()}` });
    expect(outcomes(run)).toEqual({ ...Object.fromEntries(ALL.map((n) => [n, 'ok'])), 'nats connection': 'failed', 'nats credentials': 'failed', 'nats subscription': 'failed' });
    expect(run.lines.get('nats connection')!.text).toMatch(/cannot reach nats:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.* → check NATS_URL/);
    expect(run.lines.get('nats credentials')!.text).toMatch(/not checked/);
    expect(run.code).toBe(1);
    expectNoSecret(run);
  });

  it('wrong NATS credentials: the credentials line fails, the token is never printed, exit 1', async () => {
    const run = await runCheck({ ...baseEnv(), ACCESS_TOKEN: `FlyV1 ${WRONG_TOKEN}` });
    expect(outcomes(run)).toEqual({ ...Object.fromEntries(ALL.map((n) => [n, 'ok'])), 'nats credentials': 'failed', 'nats subscription': 'failed' });
    expect(run.lines.get('nats credentials')!.text).toMatch(/refused by the server \(.*Authorization Violation.*\) → check ORG .* and ACCESS_TOKEN/i);
    expect(run.code).toBe(1);
    expectNoSecret(run, WRONG_TOKEN);
  });

  it('a token that may not read the log stream: the subscription line fails, exit 1', async () => {
    const run = await runCheck({ ...baseEnv(), ORG: NATS_NO_SUB_USER, ACCESS_TOKEN: NATS_NO_SUB_TOKEN });
    expect(outcomes(run)).toEqual({ ...Object.fromEntries(ALL.map((n) => [n, 'ok'])), 'nats subscription': 'failed' });
    expect(run.lines.get('nats subscription')!.text).toMatch(/refused a subscription to logs\.>.*Permissions Violation/i);
    expect(run.code).toBe(1);
    expectNoSecret(run, NATS_NO_SUB_TOKEN);
  });

  it('no message within the wait: a warning, still exit 0', async () => {
    const run = await runCheck({ ...baseEnv(), SUBJECT: 'logs.an-app-that-is-quiet.>' }, ['check', '--wait', '1']);
    expect(outcomes(run)).toEqual({ ...Object.fromEntries(ALL.map((n) => [n, 'ok'])), 'nats subscription': 'warning' });
    expect(run.lines.get('nats subscription')!.text).toMatch(/no message arrived within 1 s → /);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/all checks passed \(1 warning\)\n$/);
  });

  it('a sink answering 401: that sink\'s line fails, naming the credentials to fix, exit 1', async () => {
    const run = await runCheck({ ...baseEnv(), LOKI_PASSWORD: WRONG_LOKI_PASSWORD });
    expect(outcomes(run)).toEqual({ ...Object.fromEntries(ALL.map((n) => [n, 'ok'])), 'sink loki': 'failed' });
    expect(run.lines.get('sink loki')!.text).toMatch(/refused the credentials \(HTTP 401.*LOKI_USERNAME\/LOKI_PASSWORD.* → fix the LOKI_\* credentials/);
    expect(run.code).toBe(1);
    expectNoSecret(run, WRONG_LOKI_PASSWORD);
  });

  it('an unwritable spool directory: the spool line fails, exit 1', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a directory');
    const run = await runCheck({ ...baseEnv(), SPOOL_DIR: join(file, 'spool') });
    expect(outcomes(run)).toEqual({ ...Object.fromEntries(ALL.map((n) => [n, 'ok'])), spool: 'failed' });
    expect(run.lines.get('spool')!.text).toMatch(/is not writable: ENOTDIR.* → point SPOOL_DIR at a writable directory/);
    expect(run.code).toBe(1);
  });

  it('an invalid configuration: one failed config line naming the variable, not its value, exit 2 (as the agent)', async () => {
    const run = await runCheck({ ...baseEnv(), HTTP_URL: 'ftp://user:pw-in-a-bad-url@example.com/x' });
    expect(run.code).toBe(2);
    expect([...run.lines.keys()]).toEqual(['config']);
    expect(run.lines.get('config')!.text).toMatch(/^failed {2}config {14}HTTP_URL: /);
    expectNoSecret(run, 'pw-in-a-bad-url');
  });

  it('--help and --version', async () => {
    const help = await runCheck({}, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: logferry \[command\]/);
    expect(help.stdout).toContain('check [--wait N]');
    const version = await runCheck({}, ['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^logferry \d+\.\d+\.\d+\n$/);
    const wrong = await runCheck({}, ['chek']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/unknown command "chek"/);
  });
});

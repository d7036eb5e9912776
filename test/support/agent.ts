// The agent as a child process, run the way a user runs it: `node dist/src/main.js` with
// only the environment a test gives it. Collects its pino JSON logs, reads /metrics and
// /health, and stops it with a signal. Build first (`npx tsc -p tsconfig.json`).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dockerNodeFlags, dockerRuntimeEnv } from './dockerfile.js';
import { freePort } from './ports.js';
import { waitFor } from './poll.js';
import type { NatsServer } from './nats.js';
import { accountingBalances, metricValue, sinkAccounting, type SinkAccounting } from './prometheus.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const AGENT_MAIN = join(REPO_ROOT, 'dist', 'src', 'main.js');

export type AgentLog = Record<string, unknown> & { msg?: string; level?: string | number };

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface HealthAnswer {
  readonly status: number;
  readonly body: any;
}

export interface AgentOptions {
  /**
   * Working directory. Default: a fresh temporary directory per agent, so its default data
   * directory (./data, where the file sink and the default spool go) is its own; pass the
   * same directory to a second agent to let it find what the first one spooled.
   */
  readonly cwd?: string;
  /** Copy the agent's stdout/stderr to this process's stderr, for debugging a test. */
  readonly echo?: boolean;
  /** Name shown in failure messages when a test runs several agents. */
  readonly label?: string;
}

export interface Agent {
  readonly label: string;
  readonly pid: number;
  readonly process: ChildProcess;
  readonly metricsPort: number;
  /** Parsed stdout lines, in order (lines that are not JSON are kept as `{ raw }`). */
  readonly logs: AgentLog[];
  /** Raw stdout lines. */
  readonly stdoutLines: string[];
  stderr(): string;
  /** Last log lines and stderr, for failure messages. */
  tail(lines?: number): string;
  waitForLog(predicate: (log: AgentLog) => boolean, what: string, timeoutMs?: number): Promise<AgentLog>;
  /** Polls /health until it answers (any status) and reports NATS connected and subscribed; fails fast if the agent exits. */
  waitForReady(timeoutMs?: number): Promise<HealthAnswer>;
  metrics(): Promise<string>;
  metric(name: string, labels?: Readonly<Record<string, string>>): Promise<number>;
  accounting(sink: string): Promise<SinkAccounting>;
  /**
   * Waits until received = delivered + rejected + dropped + pending for `sink` (a scrape can
   * straddle an update, so it is re-read briefly) and returns the balanced accounting.
   */
  balancedAccounting(sink: string, timeoutMs?: number): Promise<SinkAccounting>;
  health(): Promise<HealthAnswer>;
  /** Sends `signal` and waits for exit (SIGKILL after `timeoutMs`, then throws). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitStatus>;
  /** SIGKILL, for cleanup; resolves when gone. */
  kill(): Promise<ExitStatus>;
  readonly exited: Promise<ExitStatus>;
  isRunning(): boolean;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function assertBuilt(): void {
  if (!existsSync(AGENT_MAIN)) throw new Error(`${AGENT_MAIN} is missing: run \`npx tsc -p tsconfig.json\` first`);
}

/** The environment the agent gets: PATH and HOME from the test runner, then the test's own variables. */
function agentEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  const base: Record<string, string> = {};
  if (process.env.PATH !== undefined) base.PATH = process.env.PATH;
  if (process.env.HOME !== undefined) base.HOME = process.env.HOME;
  return { ...base, LOG_LEVEL: 'info', ...env };
}

let started = 0;

// Agents' working directories, removed when the test process exits.
const agentDirs: string[] = [];
process.once('exit', () => {
  for (const dir of agentDirs) rmSync(dir, { recursive: true, force: true });
});

/** A new empty directory for an agent to run in (its ./data is then its own). */
export function freshAgentDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'logferry-agent-'));
  agentDirs.push(dir);
  return dir;
}

export async function startAgent(env: Readonly<Record<string, string>>, options: AgentOptions = {}): Promise<Agent> {
  assertBuilt();
  const metricsPort = env.METRICS_PORT !== undefined ? Number(env.METRICS_PORT) : await freePort();
  const fullEnv = agentEnv({ METRICS_PORT: String(metricsPort), ...env });
  const label = options.label ?? `agent#${++started}`;
  const child = spawnAgentProcess(fullEnv, options.cwd ?? freshAgentDir());
  running.add(child);

  const logs: AgentLog[] = [];
  const stdoutLines: string[] = [];
  let stderrText = '';
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  // Stdout may still hold lines when 'exit' fires; 'close' means every line has been read.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  createInterface({ input: child.stdout! }).on('line', (line) => {
    stdoutLines.push(line);
    if (options.echo) process.stderr.write(`[${label}] ${line}\n`);
    try {
      const parsed: unknown = JSON.parse(line);
      logs.push(parsed !== null && typeof parsed === 'object' ? (parsed as AgentLog) : { raw: line });
    } catch {
      logs.push({ raw: line });
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    const s = chunk.toString('utf8');
    stderrText += s;
    if (options.echo) process.stderr.write(`[${label} stderr] ${s}`);
  });

  const base = `http://127.0.0.1:${metricsPort}`;
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
  const tail = (n = 30): string =>
    `--- ${label} (pid ${child.pid}, ${isRunning() ? 'running' : `exited ${child.exitCode ?? child.signalCode}`}) last ${n} log lines:\n` +
    `${stdoutLines.slice(-n).join('\n')}\n--- stderr:\n${stderrText.slice(-4000)}`;

  const metrics = async (): Promise<string> => {
    const res = await fetch(`${base}/metrics`);
    if (!res.ok) throw new Error(`${label} /metrics answered ${res.status}`);
    return res.text();
  };

  const health = async (): Promise<HealthAnswer> => {
    const res = await fetch(`${base}/health`);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Keep the raw text; the test will say what it expected.
    }
    return { status: res.status, body };
  };

  const stop = async (signal: NodeJS.Signals = 'SIGINT', timeoutMs = 40_000): Promise<ExitStatus> => {
    if (isRunning()) child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${label} did not exit within ${timeoutMs} ms of ${signal}\n${tail()}`);
    }
    await closed;
    return result;
  };

  const accounting = async (sink: string): Promise<SinkAccounting> => sinkAccounting(await metrics(), sink);

  const agent: Agent = {
    label,
    pid: child.pid ?? -1,
    process: child,
    metricsPort,
    logs,
    stdoutLines,
    stderr: () => stderrText,
    tail,
    waitForLog: (predicate, what, timeoutMs = 20_000) =>
      waitFor(() => logs.find(predicate), { what: `${label} to log ${what}`, timeoutMs, context: () => tail() }),
    async waitForReady(timeoutMs = 20_000) {
      return waitFor(
        async () => {
          if (!isRunning()) throw new Error(`${label} exited before becoming ready`);
          const h = await health();
          return h.body?.nats?.connected === true && h.body.nats.subscribed === true ? h : undefined;
        },
        { what: `${label} /health to report NATS connected and subscribed`, timeoutMs, intervalMs: 100, context: () => tail() },
      );
    },
    metrics,
    metric: async (name, labels) => metricValue(await metrics(), name, labels),
    accounting,
    async balancedAccounting(sink, timeoutMs = 5_000) {
      return waitFor(
        async () => {
          const a = await accounting(sink);
          return accountingBalances(a) ? a : undefined;
        },
        { what: `${label} sink ${sink}: received = delivered + rejected + dropped + pending`, timeoutMs, intervalMs: 100 },
      );
    },
    health,
    stop,
    async kill() {
      if (isRunning()) child.kill('SIGKILL');
      return exited;
    },
    exited,
    isRunning,
  };
  return agent;
}

// The subject and queue each agent started by startSubscribedAgent subscribes with.
const subscriptionOf = new WeakMap<Agent, string>();

/**
 * Starts an agent, adds it to `agents`, and waits until it is ready and nats-server holds
 * the subscription of every running agent on the same subject and queue: core NATS keeps
 * nothing for absent subscribers, so tests publish only after this.
 */
export async function startSubscribedAgent(
  nats: Pick<NatsServer, 'waitForSubscribers'>,
  agents: Agent[],
  env: Readonly<Record<string, string>>,
  options: AgentOptions = {},
): Promise<Agent> {
  const agent = await startAgent(env, options);
  agents.push(agent);
  const subject = env.SUBJECT ?? 'logs.>';
  const queue = env.QUEUE;
  const key = `${subject} ${queue ?? ''}`;
  subscriptionOf.set(agent, key);
  await agent.waitForReady();
  const running = agents.filter((a) => a.isRunning() && subscriptionOf.get(a) === key).length;
  await nats.waitForSubscribers(subject, running, queue !== undefined ? { queue } : {});
  return agent;
}

export interface AgentRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the agent expecting it to exit on its own (configuration errors); SIGKILLs it and
 * reports `code: null` if it is still running after `timeoutMs`. METRICS_PORT is not added.
 */
export async function runAgentToExit(env: Readonly<Record<string, string>>, options: { timeoutMs?: number; cwd?: string } = {}): Promise<AgentRun> {
  assertBuilt();
  const child = spawnAgentProcess(agentEnv(env), options.cwd ?? freshAgentDir());
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  const { code, signal } = await new Promise<ExitStatus>((resolve) => child.once('close', (c, s) => resolve({ code: c, signal: s })));
  clearTimeout(timer);
  running.delete(child);
  return { code, signal, stdout, stderr };
}

/**
 * `node dist/src/main.js`. With LOGFERRY_TEST_MEMORY_CGROUP=<a cgroup v1 memory directory>
 * the agent joins that cgroup before it starts (so it sees its limit, as on a Fly VM) and runs
 * with the Dockerfile's runtime ENV and node flags: for runs by hand that try fly.toml's
 * 256 MB, e.g. the e2e-defaults scenarios. Every agent joins that one cgroup, so run one test
 * file at a time (`--no-file-parallelism`), or two agents share the 256 MB.
 */
function spawnAgentProcess(env: NodeJS.ProcessEnv, cwd: string): ReturnType<typeof spawn> {
  const cgroup = process.env.LOGFERRY_TEST_MEMORY_CGROUP;
  if (cgroup === undefined || cgroup === '') return spawn(process.execPath, [AGENT_MAIN], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  // As on the VM: the Dockerfile's runtime ENV and node flags (a test's own env wins).
  const vmEnv = { ...dockerRuntimeEnv(REPO_ROOT), ...env };
  const script = 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"';
  return spawn('/bin/sh', ['-c', script, 'sh', cgroup, process.execPath, ...dockerNodeFlags(REPO_ROOT), AGENT_MAIN], { cwd, env: vmEnv, stdio: ['ignore', 'pipe', 'pipe'] });
}

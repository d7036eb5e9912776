// The agent as the benchmark runs it: `node [node flags] dist/src/main.js` with only the
// environment given (plus PATH and HOME), its metrics listener on a free port, stopped with
// SIGINT as Fly stops it. Node flags are how bench:profile adds --cpu-prof.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from '../test/support/poll.js';
import { freePort } from '../test/support/ports.js';
import { AGENT_MAIN } from './paths.js';
import type { ProcessCgroup } from './vm-memory.js';

export interface AgentProcess {
  readonly label: string;
  readonly pid: number;
  readonly metricsPort: number;
  /** The memory cgroup it runs in (removed once it exited), if any. */
  readonly cgroup: ProcessCgroup | undefined;
  metrics(): Promise<string>;
  /** Last log lines and stderr, for error messages. */
  tail(lines?: number): string;
  /** The fields of the agent's "logferry started" line, once it was logged. */
  startLine(): Readonly<Record<string, unknown>> | undefined;
  waitForReady(timeoutMs: number): Promise<void>;
  isRunning(): boolean;
  /** SIGINT and wait for exit (SIGKILL after `timeoutMs`); resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startAgentProcess(
  env: Readonly<Record<string, string>>,
  options: { label: string; nodeFlags?: readonly string[]; echo?: boolean; cgroup?: ProcessCgroup | undefined },
): Promise<AgentProcess> {
  if (!existsSync(AGENT_MAIN)) throw new Error(`${AGENT_MAIN} is missing: run \`npx tsc -p tsconfig.json\` first`);
  const metricsPort = await freePort();
  const fullEnv: Record<string, string> = {};
  if (process.env.PATH !== undefined) fullEnv.PATH = process.env.PATH;
  if (process.env.HOME !== undefined) fullEnv.HOME = process.env.HOME;
  Object.assign(fullEnv, env, { METRICS_PORT: String(metricsPort) });
  // Its own working directory: the default spool (./data/spool) of one run must not feed the next.
  const cwd = mkdtempSync(join(tmpdir(), 'logferry-bench-agent-'));
  const argv = [...(options.nodeFlags ?? []), AGENT_MAIN];
  const [file, args] = options.cgroup !== undefined ? options.cgroup.wrap(process.execPath, argv) : [process.execPath, argv];
  const child = spawn(file, args, { cwd, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  child.once('exit', () => rmSync(cwd, { recursive: true, force: true }));
  running.add(child);
  const label = options.label;
  const lines: string[] = [];
  let started: Record<string, unknown> | undefined;
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      if (options.cgroup === undefined) resolve(code);
      else void options.cgroup.remove().then(() => resolve(code), () => resolve(code));
    });
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    if (lines.length > 200) lines.splice(0, 100);
    if (started === undefined && line.includes('"logferry started"')) {
      try {
        started = JSON.parse(line) as Record<string, unknown>;
      } catch {
        // Not one of the agent's JSON lines.
      }
    }
    if (options.echo) process.stderr.write(`[${label}] ${line}\n`);
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4000);
    if (options.echo) process.stderr.write(`[${label} stderr] ${c.toString('utf8')}`);
  });
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
  const base = `http://127.0.0.1:${metricsPort}`;
  const tail = (n = 20): string => `--- ${label} last ${n} log lines:\n${lines.slice(-n).join('\n')}\n--- stderr:\n${stderr}`;
  return {
    label,
    pid: child.pid ?? -1,
    metricsPort,
    cgroup: options.cgroup,
    async metrics() {
      const res = await fetch(`${base}/metrics`);
      if (!res.ok) throw new Error(`${label} /metrics answered ${res.status}`);
      return res.text();
    },
    tail,
    startLine: () => started,
    async waitForReady(timeoutMs) {
      await waitFor(
        async () => {
          if (!isRunning()) throw new Error(`${label} exited`);
          const res = await fetch(`${base}/health`);
          const body = (await res.json()) as { nats?: { connected?: boolean; subscribed?: boolean } };
          return body.nats?.connected === true && body.nats.subscribed === true;
        },
        { what: `${label} to report NATS connected and subscribed`, timeoutMs, intervalMs: 50, context: () => tail() },
      );
    },
    isRunning,
    async stop(timeoutMs = 40_000) {
      if (isRunning()) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (isRunning()) child.kill('SIGKILL');
      await exited;
    },
  };
}

// The benchmark's own knobs (BENCH_*), read once by the orchestrator. Quick mode
// (BENCH_QUICK=1) shrinks everything so a run takes well under a minute while developing.
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';
import { dockerNodeFlags as readDockerNodeFlags, dockerRuntimeEnv as readDockerRuntimeEnv } from '../test/support/dockerfile.js';

/** fly.toml's VM: 256 MB. */
export const FLY_VM_MEMORY_BYTES = 256 * 1024 * 1024;

export type BenchSink = 'http' | 's3' | 'loki';
const ALL_SINKS: readonly BenchSink[] = ['http', 's3', 'loki'];

export interface BenchConfig {
  readonly quick: boolean;
  /** Entries per full-speed run (bare reference and agent alike). */
  readonly entries: number;
  /**
   * Entries each full-speed run first takes unmeasured (both processes alike): JIT
   * compilation, first buffers and GC sizing happen once per process, not per entry.
   */
  readonly warmUpEntries: number;
  /** Bare/agent full-speed pairs per sink; medians are reported (the machine is noisy). */
  readonly repeat: number;
  /** Distinct entries generated; the publisher cycles through them. */
  readonly poolSize: number;
  readonly fixedRate: number;
  readonly fixedSeconds: number;
  readonly sinks: readonly BenchSink[];
  readonly seed: number;
  /** Where BENCHMARKS.md goes; undefined: print only (quick mode without BENCH_OUTPUT). */
  readonly output: string | undefined;
  /** Extra agent variables from BENCH_AGENT_<NAME>=value (e.g. BENCH_AGENT_HTTP_COMPRESSION_LEVEL=1). */
  readonly agentOverrides: Readonly<Record<string, string>>;
  /** The agent's node flags: the Dockerfile CMD's, or BENCH_AGENT_NODE_FLAGS (space-separated; empty for none). */
  readonly agentNodeFlags: readonly string[];
  /**
   * Full speed without the delivery window: the publisher is paced by NATS alone, like a real
   * burst, and the agent drops what overflows its buffer (counted, and reported as lost).
   */
  readonly flood: boolean;
  /**
   * The deployment VM's memory (fly.toml: 256 MB), which agent and bare subscriber run under
   * (bench/vm-memory.ts); undefined (BENCH_VM_MEMORY=0): the machine as it is.
   */
  readonly vmMemoryBytes: number | undefined;
  /** Passes the agent's output through to stderr. */
  readonly echoAgent: boolean;
  /** Entries of the slow-sink case (0: skip it). */
  readonly slowSinkEntries: number;
  /** The slow endpoint's rate; undefined: a quarter of the HTTP sink's measured full-speed rate. */
  readonly slowSinkRate: number | undefined;
}

/** An integer knob of at least `min` (1 unless told), or `fallback` when unset. */
function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected a whole number of at least ${min}, got "${raw}"`);
  return n;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  return raw !== undefined && raw !== '' && raw !== '0' && raw.toLowerCase() !== 'false';
}

export function readBenchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = flag(env, 'BENCH_QUICK');
  const entries = intVar(env, 'BENCH_ENTRIES', quick ? 20_000 : 300_000);
  const sinkList = (env.BENCH_SINKS ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  for (const s of sinkList) {
    if (!ALL_SINKS.includes(s as BenchSink)) throw new Error(`BENCH_SINKS: unknown sink "${s}"; choose from ${ALL_SINKS.join(', ')}`);
  }
  const agentOverrides: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('BENCH_AGENT_') && k !== 'BENCH_AGENT_NODE_FLAGS' && v !== undefined) agentOverrides[k.slice('BENCH_AGENT_'.length)] = v;
  }
  // The agent runs with the production environment (Node flags, malloc) unless told otherwise.
  for (const [k, v] of Object.entries(dockerRuntimeEnv())) agentOverrides[k] ??= v;
  const output = env.BENCH_OUTPUT !== undefined && env.BENCH_OUTPUT !== '' ? env.BENCH_OUTPUT : quick ? undefined : join(REPO_ROOT, 'BENCHMARKS.md');
  return {
    quick,
    entries,
    warmUpEntries: intVar(env, 'BENCH_WARMUP_ENTRIES', quick ? 5_000 : 50_000, 0),
    repeat: intVar(env, 'BENCH_REPEAT', quick ? 1 : 3),
    poolSize: Math.min(entries, intVar(env, 'BENCH_POOL', 50_000)),
    fixedRate: intVar(env, 'BENCH_FIXED_RATE', 10_000),
    fixedSeconds: intVar(env, 'BENCH_FIXED_SECONDS', quick ? 5 : 60),
    sinks: sinkList.length > 0 ? (sinkList as BenchSink[]) : ALL_SINKS,
    seed: intVar(env, 'BENCH_SEED', 1),
    output,
    agentOverrides,
    agentNodeFlags: env.BENCH_AGENT_NODE_FLAGS !== undefined ? env.BENCH_AGENT_NODE_FLAGS.split(' ').filter((f) => f !== '') : dockerNodeFlags(),
    flood: flag(env, 'BENCH_FLOOD'),
    vmMemoryBytes: intVar(env, 'BENCH_VM_MEMORY', FLY_VM_MEMORY_BYTES, 0) || undefined,
    echoAgent: flag(env, 'BENCH_ECHO_AGENT'),
    slowSinkEntries: intVar(env, 'BENCH_SLOW_SINK_ENTRIES', quick ? 20_000 : 300_000, 0),
    slowSinkRate: env.BENCH_SLOW_SINK_RATE !== undefined && env.BENCH_SLOW_SINK_RATE !== '' ? intVar(env, 'BENCH_SLOW_SINK_RATE', 10_000) : undefined,
  };
}

/** The Dockerfile's runtime ENV: the environment production runs the agent in. */
export const dockerRuntimeEnv = (): Record<string, string> => readDockerRuntimeEnv(REPO_ROOT);

/** The node flags of the Dockerfile's CMD: what production runs the agent with. */
export const dockerNodeFlags = (): string[] => readDockerNodeFlags(REPO_ROOT);

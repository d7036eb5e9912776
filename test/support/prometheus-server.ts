// A real Prometheus for tests (Debian's `prometheus` package: /usr/bin/prometheus and
// /usr/bin/promtool; .ci/run installs it): scrapes the given targets every second with the
// labels Fly's managed Prometheus attaches (app, instance, region), evaluates rule files
// every second, and answers the HTTP query API. Distinct from prometheus.ts, which parses
// the agent's /metrics text.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { waitFor } from './poll.js';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

export interface ScrapeTarget {
  /** host:port of a /metrics endpoint. */
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface PromSample {
  readonly metric: Record<string, string>;
  /** [unix seconds, value as text] */
  readonly value: [number, string];
}

export interface PromAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: 'pending' | 'firing' | 'inactive';
  readonly value: string;
}

export interface PrometheusServer {
  readonly url: string;
  /** Instant query; throws with Prometheus's error text when it does not parse or evaluate. */
  query(expr: string): Promise<PromSample[]>;
  alerts(): Promise<PromAlert[]>;
  /** Waits until every target was scraped successfully at least once. */
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  readonly targets: readonly ScrapeTarget[];
  /** Rule files, as text (written to the server's temporary directory). */
  readonly rules?: readonly string[];
}

export function promtool(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PROMTOOL_BIN, args, { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'logferry-prom-'));
  const port = await freePort();
  const ruleFiles: string[] = [];
  for (const [i, text] of (options.rules ?? []).entries()) {
    const file = join(dir, `rules-${i}.yml`);
    await writeFile(file, text);
    ruleFiles.push(file);
  }
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    ...(ruleFiles.length > 0 ? ['rule_files:', ...ruleFiles.map((f) => `  - ${yamlString(f)}`)] : []),
    'scrape_configs:',
    '  - job_name: logferry',
    '    static_configs:',
    ...options.targets.flatMap((t) => [
      `      - targets: [${yamlString(t.address)}]`,
      '        labels:',
      ...Object.entries(t.labels).map(([k, v]) => `          ${k}: ${yamlString(v)}`),
    ]),
    '',
  ].join('\n');
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, config);
  const check = promtool(['check', 'config', configFile]);
  if (check.code !== 0) throw new Error(`promtool refused the test's prometheus.yml:\n${check.stdout}${check.stderr}\n${config}`);

  let lines: string[] = [];
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (chunk: Buffer): void => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 400) lines = lines.slice(-200);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const url = `http://127.0.0.1:${port}`;
  const output = (): string => `prometheus said:\n${lines.slice(-30).join('\n')}`;

  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}`);
      return (await fetch(`${url}/-/ready`)).ok;
    },
    { what: 'prometheus to be ready', timeoutMs: 30_000, intervalMs: 100, context: output },
  );

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.errorType ?? ''} ${body.error ?? res.status}`);
    return body.data;
  };

  const query = async (expr: string): Promise<PromSample[]> => {
    const data = await api<{ resultType: string; result: PromSample[] | [number, string] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      // A scalar result (e.g. vector(0) arithmetic folded) is one sample without labels.
    return data.resultType === 'scalar' ? [{ metric: {}, value: data.result as [number, string] }] : (data.result as PromSample[]);
  };

  return {
    url,
    query,
    async alerts() {
      return (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts;
    },
    async waitForTargetsUp(timeoutMs = 20_000) {
      await waitFor(
        async () => {
          const up = await query('up');
          return up.length === options.targets.length && up.every((s) => s.value[1] === '1');
        },
        { what: 'every scrape target up', timeoutMs, intervalMs: 200, context: output },
      );
    },
    output,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

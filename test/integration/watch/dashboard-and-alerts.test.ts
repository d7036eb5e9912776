// Issue 18: the Grafana dashboard and the alert rules, verified against a real Prometheus.
// Two agents run side by side on one nats-server, each scraped with the labels Fly's managed
// Prometheus attaches (app, instance, region): a healthy one, and one whose HTTP sink refuses
// a batch (400) and then fails every request (503) while entries flow, so its 1 MiB spool
// fills and drops the oldest entries. Then:
// - every panel query of grafana/logferry.json (Grafana's variables substituted: All for the
//   label filters, 10s for $__rate_interval) parses and returns data, the accounting identity
//   reads 0 for every sink of both agents;
// - every rule of prometheus/logferry.rules.yml parses, and its expression without the
//   final threshold returns data (the thresholded one is empty when nothing is wrong, which is
//   the point); `promtool check rules` passes;
// - with a copy of the rules whose `for:` durations are rewritten to 2s (the only change),
//   evaluated by Prometheus every second: "entries dropped" and "sink failing" fire for the
//   failing agent and never for the healthy one;
// - /health answers 200 during the sink outage while the spool has room;
// - the dashboard model: schema version for Grafana 9+, every panel and query on the
//   ${datasource} variable, the app/instance/region variables, and every metric it (or a
//   rule) names exported by the agent's /metrics.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { REPO_ROOT, startSubscribedAgent, type Agent } from '../../support/agent.js';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { startHttpReceiver, type HttpReceiver } from '../../support/http-receiver.js';
import { startLokiReceiver, type LokiReceiver } from '../../support/loki-receiver.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer } from '../../support/nats.js';
import { waitFor } from '../../support/poll.js';
import { parseMetrics } from '../../support/prometheus.js';
import { promtool, startPrometheus, type PromAlert, type PrometheusServer } from '../../support/prometheus-server.js';

const DASHBOARD_FILE = join(REPO_ROOT, 'grafana', 'logferry.json');
const RULES_FILE = join(REPO_ROOT, 'prometheus', 'logferry.rules.yml');
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
const rulesText = readFileSync(RULES_FILE, 'utf8');

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown; definition?: string }> };
}

const LABELS = { failing: { app: 'logferry-failing', instance: 'failing-1', region: 'ams' }, healthy: { app: 'logferry-healthy', instance: 'healthy-1', region: 'ams' } };

function queryPanels(): Panel[] {
  return dashboard.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

/** What Grafana sends for "All" on every filter and a rate interval fitting a 1 s scrape. */
function substitute(expr: string): string {
  return expr.replaceAll('$__rate_interval', '10s').replace(/\$\{?(app|instance|region)\}?/g, '.*');
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  summary: string;
}

/** The rules file's alerts (a small reader for its own layout, checked against promtool's count below). */
function readRules(text: string): Rule[] {
  const rules: Rule[] = [];
  const blocks = text.split(/\n\s*- alert: /).slice(1);
  for (const block of blocks) {
    const alert = block.split('\n')[0]!.trim();
    const exprMatch = /\n\s*expr: (?:>-\n((?:\s{10,}.*\n)+)|(.*)\n)/.exec(block);
    const expr = (exprMatch?.[1] ?? exprMatch?.[2] ?? '').replace(/\s+/g, ' ').trim();
    const forMatch = /\n\s*for: (\S+)/.exec(block);
    const summary = /\n\s*summary: (.*)/.exec(block)?.[1] ?? '';
    rules.push({ alert, expr, ...(forMatch ? { for: forMatch[1] } : {}), summary });
  }
  return rules;
}

/** The expression without its final threshold (`… > 0`, `… == 1`). */
function withoutThreshold(expr: string): string {
  const m = /^(.*\S)\s*(>|<|==|!=|>=|<=)\s*[0-9.]+$/s.exec(expr);
  if (m === null) throw new Error(`rule expression has no final threshold: ${expr}`);
  return m[1]!;
}

function metricNames(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\blogferry_[a-z0-9_]+/g)].map((m) => m[0]))];
}

let nats: NatsServer;
let publisher: NatsConnection;
let failingHttp: HttpReceiver;
let healthyHttp: HttpReceiver;
let loki: LokiReceiver;
let prom: PrometheusServer | undefined;
let spoolRoot: string;
const agents: Agent[] = [];
let failing: Agent;
let healthy: Agent;

beforeAll(async () => {
  nats = await startNatsServer();
  publisher = await connectPublisher(nats.url);
  failingHttp = await startHttpReceiver();
  healthyHttp = await startHttpReceiver();
  loki = await startLokiReceiver();
  spoolRoot = await mkdtemp(join(tmpdir(), 'logferry-watch-'));
  // The failing endpoint refuses the first batch as invalid, then is down for good.
  let answered = 0;
  failingHttp.respondWith(() => (answered++ === 0 ? { status: 400, body: 'invalid batch' } : { status: 503, body: 'down for maintenance' }));
  const common = {
    NATS_URL: nats.url,
    LOKI_URL: loki.url,
    HTTP_BATCH_MAX_AGE: '200ms',
    LOKI_BATCH_MAX_AGE: '200ms',
    RETRY_INITIAL_BACKOFF: '100ms',
    RETRY_MAX_BACKOFF: '500ms',
    HEALTH_FAIL_AFTER: '1s',
    SPOOL_MAX_BYTES: '1MiB',
  };
  failing = await startSubscribedAgent(nats, agents, { ...common, HTTP_URL: `${failingHttp.url}/ingest`, SPOOL_DIR: join(spoolRoot, 'failing') }, { label: 'failing' });
  healthy = await startSubscribedAgent(nats, agents, { ...common, HTTP_URL: `${healthyHttp.url}/ingest`, SPOOL_DIR: join(spoolRoot, 'healthy') }, { label: 'healthy' });
});

afterAll(async () => {
  await prom?.stop();
  await Promise.all(agents.map((a) => a.kill()));
  await publisher?.close().catch(() => undefined);
  await failingHttp?.close();
  await healthyHttp?.close();
  await loki?.close();
  await nats?.stop('SIGKILL');
  if (spoolRoot !== undefined) await rm(spoolRoot, { recursive: true, force: true });
});

describe('dashboard model', () => {
  it('is a Grafana 9+ model whose every panel and query uses the ${datasource} variable, filtered by app, instance and region', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect(vars.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['app', 'instance', 'region']) {
      expect(vars.get(name)?.type, name).toBe('query');
      expect(vars.get(name)?.definition).toMatch(new RegExp(`label_values\\(logferry_\\w+, ${name}\\)`));
    }
    const panels = queryPanels();
    expect(panels.length).toBeGreaterThanOrEqual(20);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.description, p.title).toBeTruthy();
      for (const t of p.targets!) {
        expect(t.datasource, `${p.title} ${t.refId}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
        for (const label of ['app', 'instance', 'region']) expect(t.expr, `${p.title} ${t.refId}`).toContain(`${label}=~"$${label}"`);
      }
    }
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const identity = panels.find((p) => /accounting identity/i.test(p.title));
    expect(identity?.type).toBe('stat');
    for (const m of ['received', 'delivered', 'rejected', 'dropped']) expect(identity!.targets![0]!.expr).toContain(`logferry_sink_entries_${m}_total`);
    expect(identity!.targets![0]!.expr).toContain('logferry_sink_entries_pending');
  });

  it('promtool accepts the rules file, and every rule has a summary', () => {
    const r = promtool(['check', 'rules', RULES_FILE]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const rules = readRules(rulesText);
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(rules.map((x) => x.alert)).toEqual(expect.arrayContaining(['LogferryEntriesDropped', 'LogferrySinkFailing', 'LogferryOldestPendingEntryOld', 'LogferryNatsNotSubscribed', 'LogferryNatsStalled', 'LogferrySpoolNearlyFull']));
    for (const rule of rules) expect(rule.summary.length, rule.alert).toBeGreaterThan(20);
    expect(rules.find((x) => x.alert === 'LogferrySinkFailing')?.for).toBe('5m');
  });
});

describe('against a real Prometheus scraping two agents', () => {
  it('panels return data, the identity reads 0, and only the failing agent fires "dropped" and "sink failing"', async () => {
    // Rules as shipped, except that every `for:` waits 2 s instead of minutes.
    const testRules = rulesText.replace(/(\n\s*for: )\S+/g, '$12s');
    expect(testRules.match(/for: 2s/g)?.length).toBe(rulesText.match(/for: /g)?.length);
    prom = await startPrometheus({
      targets: [
        { address: `127.0.0.1:${failing.metricsPort}`, labels: LABELS.failing },
        { address: `127.0.0.1:${healthy.metricsPort}`, labels: LABELS.healthy },
      ],
      rules: [testRules],
    });
    await prom.waitForTargetsUp();

    // Phase 1: a little traffic; the failing sink refuses the first batch, then fails.
    await publishAll(publisher, makeFlyEntries(100, { seed: 1801 }));
    await failingHttp.waitForRequests(1);
    await publishAll(publisher, makeFlyEntries(200, { seed: 1803 }));
    await waitFor(
      async () => {
        const h = await failing.health();
        return h.body?.sinks?.http?.state === 'failing' && h;
      },
      { what: 'the failing agent to report its http sink failing', timeoutMs: 20_000, context: () => failing.tail(10) },
    );
    // A sink down with room left is no reason to stop a deploy.
    const during = await failing.health();
    expect(during.status, JSON.stringify(during.body)).toBe(200);
    expect(during.body.sinks.http.spool.state).toBe('ok');
    expect(await failing.metric('logferry_sink_entries_dropped_total', { sink: 'http' })).toBe(0);

    // Phase 2: enough to overflow the failing sink's 1 MiB spool, plus a few empty messages.
    await publishAll(publisher, makeFlyEntries(6000, { seed: 1802 }), { ratePerSec: 3000 });
    await publishAll(publisher, [1, 2, 3].map(() => ({ subject: 'logs.shop-api.ams.e2e0001', data: '' })));
    await waitFor(async () => (await failing.metric('logferry_sink_entries_dropped_total', { sink: 'http', reason: 'spool_full' })) > 0, {
      what: 'the failing sink to drop entries from its full spool',
      timeoutMs: 30_000,
      context: () => failing.tail(10),
    });
    await healthyHttp.waitForEntries(6300, 30_000);

    // The two alerts fire for the failing agent.
    const firing = (alerts: PromAlert[], name: string, app: string): PromAlert[] =>
      alerts.filter((a) => a.labels.alertname === name && a.labels.app === app && a.state === 'firing');
    const fired = await waitFor(
      async () => {
        const alerts = await prom!.alerts();
        const dropped = firing(alerts, 'LogferryEntriesDropped', LABELS.failing.app);
        const sinkFailing = firing(alerts, 'LogferrySinkFailing', LABELS.failing.app);
        return dropped.length > 0 && sinkFailing.length > 0 && { alerts, dropped, sinkFailing };
      },
      { what: '"entries dropped" and "sink failing" to fire for the failing agent', timeoutMs: 30_000, intervalMs: 500, context: async () => JSON.stringify(await prom!.alerts()).slice(0, 3000) },
    );
    expect(fired.dropped[0]!.labels).toMatchObject({ sink: 'http', reason: 'spool_full', instance: LABELS.failing.instance, severity: 'critical' });
    expect(fired.dropped[0]!.annotations.summary).toMatch(/^logferry failing-1 dropped \S+ entries for sink http in 5 min \(spool_full\)$/);
    expect(fired.sinkFailing.map((a) => a.labels.sink)).toEqual(['http']);
    expect(fired.sinkFailing[0]!.annotations.summary).toContain('has failed every attempt for over 5 minutes');

    // Every panel query parses and returns data. A rate over a series that appeared a moment
    // ago needs a second scrape first, so each query gets a few seconds to have data.
    const empty: string[] = [];
    for (const p of queryPanels()) {
      for (const t of p.targets!) {
        const expr = substitute(t.expr);
        await prom.query(expr); // throws if Prometheus cannot parse or evaluate it
        const result = await waitFor(async () => (await prom!.query(expr)).length > 0, { what: expr, timeoutMs: 5000, intervalMs: 250 }).catch(() => false);
        if (result !== true) empty.push(`${p.title} (${t.refId}): ${t.expr}`);
      }
    }
    expect(empty, 'panel queries without data').toEqual([]);

    // The accounting identity reads 0 for every sink of both agents.
    const identityPanel = queryPanels().find((p) => /accounting identity/i.test(p.title))!;
    const perAgent = substitute(identityPanel.targets![0]!.expr).replaceAll('by (sink)', 'by (app, sink)');
    const identity = await prom.query(perAgent);
    expect(identity.map((s) => `${s.metric.app}/${s.metric.sink}=${s.value[1]}`).sort()).toEqual(
      ['logferry-failing/http=0', 'logferry-failing/loki=0', 'logferry-healthy/http=0', 'logferry-healthy/loki=0'],
    );

    // "Dropped entries (last hour)" per agent: the failing one's spool drops plus the three
    // empty messages; the healthy one only the three empty messages.
    const droppedStat = queryPanels().find((p) => p.title === 'Dropped entries (last hour)')!.targets![0]!.expr;
    const droppedFor = async (app: string): Promise<number> => Number((await prom!.query(substitute(droppedStat.replaceAll('$app', app))))[0]!.value[1]);
    const failingDrops = (await failing.metric('logferry_sink_entries_dropped_total')) + (await failing.metric('logferry_source_dropped_total'));
    expect(failingDrops).toBeGreaterThan(3);
    await waitFor(async () => (await droppedFor(LABELS.failing.app)) === failingDrops, { what: `the dropped stat to read ${failingDrops} for the failing agent`, timeoutMs: 5000 });
    expect(await droppedFor(LABELS.healthy.app)).toBe(3);

    // Every rule expression parses; without its threshold it returns data.
    for (const rule of readRules(rulesText)) {
      await prom.query(rule.expr);
      const lhs = await prom.query(withoutThreshold(rule.expr));
      expect(lhs.length, `${rule.alert}: ${withoutThreshold(rule.expr)}`).toBeGreaterThan(0);
    }
    // The latency histogram has real observations for the delivering sinks.
    const p99 = await prom.query('histogram_quantile(0.99, sum by (app, sink, le) (rate(logferry_delivery_latency_seconds_bucket{sink="loki"}[30s])))');
    expect(p99.length).toBe(2);
    for (const s of p99) expect(Number(s.value[1])).toBeGreaterThan(0);
    const oldest = await prom.query(`logferry_sink_oldest_pending_age_seconds{app="${LABELS.failing.app}", sink="http"}`);
    expect(Number(oldest[0]!.value[1])).toBeGreaterThan(0);

    // Never for the healthy agent, after many evaluations.
    const alerts = await prom.alerts();
    for (const name of ['LogferryEntriesDropped', 'LogferrySinkFailing', 'LogferryOldestPendingEntryOld', 'LogferryNatsNotSubscribed', 'LogferryNatsStalled', 'LogferrySpoolNearlyFull']) {
      expect(alerts.filter((a) => a.labels.alertname === name && a.labels.app === LABELS.healthy.app), name).toEqual([]);
    }
    // And the failing agent is still deployable: a sink down, the spool working.
    expect((await failing.health()).status).toBe(200);
  });

  it('every metric the dashboard and the rules name is exported by the agent', async () => {
    const parsed = parseMetrics(await failing.metrics());
    const exported = new Set<string>();
    for (const name of parsed.families.keys()) exported.add(name);
    for (const s of parsed.samples) exported.add(s.name);
    const named = new Set<string>();
    for (const p of queryPanels()) for (const t of p.targets!) for (const m of metricNames(t.expr)) named.add(m);
    for (const r of readRules(rulesText)) for (const m of metricNames(r.expr)) named.add(m);
    for (const v of dashboard.templating.list) for (const m of metricNames(v.definition ?? '')) named.add(m);
    expect(named.size).toBeGreaterThan(25);
    const missing = [...named].filter((m) => !exported.has(m));
    expect(missing).toEqual([]);
    // Prometheus conventions: counters end in _total, units are base units.
    for (const [name, f] of parsed.families) {
      if (!name.startsWith('logferry_')) continue;
      if (f.type === 'counter') expect(name, name).toMatch(/_total$/);
      expect(name, name).not.toMatch(/_(ms|milliseconds|kb|mb|minutes)(_|$)/);
    }
  });
});

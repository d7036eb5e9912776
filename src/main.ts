// Wiring only: config → sinks and their pipelines → router → NATS source, plus the
// ops listener, the stall watchdog, start-up healthchecks and graceful shutdown. Other
// commands (check, --help, --version) are dispatched to src/ops/cli.ts.
import { catalogue } from '../sinks/index.js';
import { join } from 'node:path';
import { loadConfig, RETIRED_SETTINGS, type AgentConfig, type SpoolConfig } from './config/config.js';
import { ConfigError, ConfigErrors, errorMessage } from './errors.js';
import { healthReport, isSinkHealthy, sinkState } from './ops/health.js';
import { startOpsServer } from './ops/http-server.js';
import { parseCommandLine, runCommand } from './ops/cli.js';
import { createLogger, ThrottledLog, type Logger } from './ops/logger.js';
import { createMetrics, type SpoolStoreStats } from './ops/metrics.js';
import { NatsSource } from './source/nats-source.js';
import { EntryRouter } from './intake/router.js';
import { scanAllFlyFieldsAtIntake } from './intake/entry.js';
import { BufferBudget } from './pipeline/buffer-budget.js';
import { SinkPipeline } from './pipeline/sink-pipeline.js';
import { Spool } from './spool/spool.js';
import { freeBytesAt, spoolBoundFromFree, spoolSurvivesRestart } from './spool/spool-disk.js';
import { StallWatchdog } from './source/stall-watchdog.js';
import { SinkStats, SourceStats } from './ops/stats.js';

const HEALTHCHECK_TIMEOUT_MS = 15_000;

function readConfigOrExit(): AgentConfig {
  try {
    return loadConfig(process.env, catalogue);
  } catch (error) {
    if (error instanceof ConfigErrors) {
      // One block naming every problem, so one restart fixes them all.
      const lines = error.problems.map((p) => `  ${p.message}`).join('\n');
      process.stderr.write(`logferry: invalid configuration (${error.problems.length} problems):\n${lines}\n`);
      process.exit(2);
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`logferry: invalid configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

/** Opens a sink's spool; a disk that cannot be used means memory-only, loudly, not a crash. */
async function openSpool(spoolConfig: SpoolConfig, maxBytes: number, sinkName: string, stats: SinkStats, logger: Logger): Promise<Spool | undefined> {
  const dir = join(spoolConfig.dir, sinkName);
  try {
    const spool = await Spool.open({ dir, maxBytes, onFull: spoolConfig.whenFull, fsync: spoolConfig.fsync });
    if (spool.recoveredEntries > 0) logger.info({ sink: sinkName, dir, entries: spool.recoveredEntries }, 'spool holds entries from before the restart; delivering them');
    return spool;
  } catch (error) {
    stats.spoolState = 'degraded';
    stats.spoolError = errorMessage(error);
    logger.error({ sink: sinkName, dir, err: stats.spoolError }, 'spool unavailable (SPOOL_DIR); running memory-only for this sink');
    return undefined;
  }
}

async function main(): Promise<void> {
  const config = readConfigOrExit();
  const logger = createLogger(config.logLevel);
  const throttled = new ThrottledLog(logger, config.logIntervalMs);
  for (const name of config.retiredSettings) logger.warn({ setting: name, why: RETIRED_SETTINGS[name] }, `${name} is no longer used and is ignored`);
  const sourceStats = new SourceStats();
  const sinkStats: Array<{
    name: string;
    stats: SinkStats;
    spool?: (() => SpoolStoreStats) | undefined;
    spoolMaxBytes?: number | undefined;
    oldestPendingAtMs?: (() => number | undefined) | undefined;
  }> = [];
  // One budget for the sinks that did not get a buffer of their own; free batch buffers kept
  // for reuse: as many as the requests they may have in flight (a buffer the pool does not
  // keep is freed at once, so a few more allocations cost page faults, not a GC backlog).
  const sharing = config.sinks.filter((s) => !s.ownBuffer);
  const sharedBudget = new BufferBudget(config.memory.bufferBudgetBytes, sharing.reduce((n, s) => n + s.settings.maxInFlight, 0));
  const metrics = createMetrics({
    source: sourceStats,
    sinks: sinkStats,
    sinkUp: (stats) => isSinkHealthy(sinkState(stats, config.healthFailAfterMs)),
    ...(sharing.length > 0 ? { bufferBudget: sharedBudget } : {}),
  });

  // The spool's bound: SPOOL_MAX_BYTES per sink, else half the free space at start (at most
  // 10 GiB) shared equally by the sinks.
  let spoolMaxBytes: number | undefined;
  let spoolFreeBytes: number | undefined;
  let spoolSurvives = false;
  if (config.spool !== undefined) {
    spoolFreeBytes = await freeBytesAt(config.spool.dir).catch(() => undefined);
    spoolMaxBytes = config.spool.maxBytes ?? Math.floor(spoolBoundFromFree(spoolFreeBytes ?? 0) / Math.max(1, config.sinks.length));
    spoolSurvives = await spoolSurvivesRestart(config.spool.dir, config.onFly);
  }

  const pipelines: SinkPipeline[] = [];
  let sinksReadFlyFields = false;
  for (const configured of config.sinks) {
    const sink = configured.plugin.create(configured.config, {
      logger: logger.child({ sink: configured.plugin.kind }),
      settings: configured.settings,
      agentInstanceId: config.agentInstanceId,
    });
    sinksReadFlyFields ||= sink.readsFlyFields === true;
    const stats = new SinkStats();
    const spool = config.spool === undefined ? undefined : await openSpool(config.spool, spoolMaxBytes!, sink.name, stats, logger);
    const pipeline = new SinkPipeline({
      sink,
      settings: configured.settings,
      retry: config.retry,
      stats,
      logger,
      throttled,
      observeRequest: metrics.observeRequest(sink.name),
      runId: config.agentInstanceId,
      ...(configured.ownBuffer ? {} : { budget: sharedBudget }),
      ...(spool !== undefined ? { spool, spoolSurvivesRestart: spoolSurvives } : {}),
    });
    pipelines.push(pipeline);
    sinkStats.push({
      name: sink.name,
      stats,
      spool: spool === undefined ? undefined : () => spool.stats,
      spoolMaxBytes: spool === undefined ? undefined : spoolMaxBytes,
      oldestPendingAtMs: () => pipeline.oldestPendingAtMs(),
    });
  }

  const server = await startOpsServer({
    port: config.metricsPort,
    registry: metrics.registry,
    logger,
    health: () => healthReport({ source: sourceStats, sinks: sinkStats, failAfterMs: config.healthFailAfterMs, stallTimeoutMs: config.stallTimeoutMs }),
  }).catch((err: unknown) => {
    logger.fatal({ err: errorMessage(err), port: config.metricsPort }, 'cannot listen for /metrics and /health (METRICS_PORT)');
    process.exit(1);
  });

  scanAllFlyFieldsAtIntake(sinksReadFlyFields);
  const router = new EntryRouter(pipelines, config.excludeApps, sourceStats, throttled);
  const source = new NatsSource(config.nats, sourceStats, logger, throttled, router.handle);
  const watchdog = new StallWatchdog(sourceStats, config.stallTimeoutMs, { resubscribe: () => source.subscribe(), reconnect: () => source.reconnect() }, logger);

  logger.info(
    {
      sinks: config.sinks.map((s) => s.description),
      nats: config.nats.servers,
      subject: config.nats.subject,
      queue: config.nats.queue,
      excludeApps: [...config.excludeApps],
      metricsPort: config.metricsPort,
      memory: {
        limitBytes: config.memory.limit.bytes,
        from: config.memory.limit.source,
        bufferBytes: sharing.length === 0 ? undefined : config.memory.bufferBudgetBytes,
        bufferSharedBy: sharing.length === config.sinks.length ? 'all sinks' : pipelines.filter((_, i) => !config.sinks[i]!.ownBuffer).map((p) => p.name),
        ...(sharing.length < config.sinks.length
          ? { ownBufferBytes: Object.fromEntries(config.sinks.flatMap((s, i) => (s.ownBuffer ? [[pipelines[i]!.name, s.settings.bufferMaxBytes]] : []))) }
          : {}),
      },
      spool:
        config.spool === undefined
          ? 'off (SPOOL_DIR=off): memory only, entries beyond the memory buffer are dropped'
          : {
              dir: config.spool.dir,
              maxBytesPerSink: spoolMaxBytes,
              bound: config.spool.maxBytes !== undefined ? 'SPOOL_MAX_BYTES' : `half of the ${spoolFreeBytes ?? 0} bytes free at start, at most 10 GiB, shared by ${config.sinks.length} sink(s)`,
              usedBytes: Object.fromEntries(sinkStats.map((s) => [s.name, s.spool?.().bytes ?? 0])),
              survivesRestart: spoolSurvives,
            },
    },
    'logferry started',
  );

  for (const [i, configured] of config.sinks.entries()) {
    const pipeline = pipelines[i]!;
    void pipeline.healthcheck(HEALTHCHECK_TIMEOUT_MS).then((error) => {
      if (error !== undefined) logger.error({ sink: pipeline.name, err: error }, `sink healthcheck failed: ${error}`);
      else logger.debug({ sink: pipeline.name, target: configured.description }, 'sink healthcheck passed');
    });
  }

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (why: string, exitCode: number): Promise<void> => {
    shuttingDown ??= (async () => {
      logger.info({ why, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: stop receiving, flush, wait for in-flight requests');
      const deadline = Date.now() + config.shutdownTimeoutMs;
      watchdog.stop();
      await Promise.race([source.drain(), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
      router.stopAccepting();
      for (const p of pipelines) p.flush();
      const idle = await Promise.all(pipelines.map((p) => p.whenIdle(Math.max(0, deadline - Date.now()))));
      await Promise.all(
        pipelines.map((p, i) => {
          if (idle[i]) return undefined;
          logger.warn({ sink: p.name, pending: p.stats.pending }, 'SHUTDOWN_TIMEOUT reached; spooling or giving up on what is still pending');
          return p.abandonAll('shutdown');
        }),
      );
      await Promise.all(pipelines.map((p) => p.close().catch(() => undefined)));
      server.close();
      // What is left: on disk (delivered by the next start if the disk survives) or lost with memory.
      let onDisk = 0;
      let inMemory = 0;
      for (const { stats } of sinkStats) {
        onDisk += stats.spooledEntries;
        inMemory += stats.pending - stats.spooledEntries;
      }
      const undelivered = onDisk + inMemory;
      logger.info(
        {
          undelivered: {
            summary:
              undelivered === 0
                ? 'none: every entry received was delivered, rejected or dropped (see counters)'
                : onDisk > 0 && spoolSurvives
                  ? `${undelivered} entries undelivered; ${onDisk} of them in the spool on a disk that survives a restart: the next start delivers them`
                  : `${undelivered} entries undelivered; ${onDisk} in the spool, on a disk that does not survive a restart of this machine`,
            entries: undelivered,
            inSpool: onDisk,
            ...(config.spool !== undefined ? { spoolDir: config.spool.dir, spoolSurvivesRestart: spoolSurvives } : {}),
          },
          counters: {
            nats: { received: sourceStats.messagesReceived, dropped: Object.fromEntries(sourceStats.dropped), malformed: Object.fromEntries(sourceStats.malformed) },
            sinks: Object.fromEntries(sinkStats.map((s) => [s.name, s.stats.snapshot()])),
          },
        },
        'logferry stopped',
      );
      logger.flush(() => process.exit(exitCode));
    })();
    return shuttingDown;
  };
  // Fly stops machines with SIGINT (kill_signal in fly.toml); SIGTERM for everything else.
  let firstSignalAt = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // Ctrl-C under `npm start` delivers SIGINT twice at once (terminal and npm); only a later one forces exit.
      if (shuttingDown !== undefined && Date.now() - firstSignalAt > 1000) {
        logger.warn({ signal }, 'second signal during shutdown; exiting now');
        pipelines.forEach((p) => void p.abandonAll('shutdown'));
        logger.flush(() => process.exit(1));
        return;
      }
      if (shuttingDown !== undefined) return;
      firstSignalAt = Date.now();
      void shutdown(signal, 0);
    });
  }

  watchdog.start();
  await source.start((error) => {
    logger.fatal({ err: error.message }, 'NATS connection lost for good (check ORG and ACCESS_TOKEN); flushing and exiting');
    void shutdown('nats closed', 1);
  });
}

const fatal = (error: unknown): never => {
  process.stderr.write(`logferry: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
};
const command = parseCommandLine(process.argv.slice(2));
if (command.kind === 'agent') main().catch(fatal);
else runCommand(command, catalogue).then((code) => process.exit(code), fatal);

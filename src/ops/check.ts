// `logferry check`: reads the configuration exactly as the agent does, then tries each part
// for real (NATS reachable, credentials accepted, subject subscribable and flowing, every
// sink's healthcheck, the spool directory) and prints one line per check: ok, warning or
// failed, with the reason and what to do. Never a secret: lines carry what the agent's own
// errors carry (server addresses without credentials, sinks' own messages).
// Exit code: 0 when nothing failed (warnings pass), 1 when something did, 2 for a configuration
// the agent would refuse.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect, errors as natsErrors, type ConnectionOptions, type NatsConnection, type Server } from '@nats-io/transport-node';
import { dialledServerTls, natsAddresses } from '../source/nats-source.js';
import type { AgentConfig, NatsConfig, SinkCatalogue, SpoolConfig } from '../config/config.js';
import { loadConfig } from '../config/config.js';
import type { Env } from '../config/env.js';
import { ConfigError, errorMessage, isAuthFailure } from '../errors.js';
import { createLogger } from './logger.js';
import { spoolBoundFromFree } from '../spool/spool-disk.js';

export type CheckOutcome = 'ok' | 'warning' | 'failed';

export interface CheckLine {
  readonly outcome: CheckOutcome;
  readonly name: string;
  readonly detail: string;
  /** What to do about it (warnings and failures). */
  readonly fix?: string;
}

export interface CheckOptions {
  /** How long to wait for a first message on the subject (default 5 s). */
  readonly messageWaitMs?: number;
  /** Per network step: NATS connection, each sink's healthcheck (default 10 s). */
  readonly timeoutMs?: number;
}

export function formatLine(line: CheckLine): string {
  const text = `${line.outcome.padEnd(8)}${line.name.padEnd(20)}${line.detail}`;
  return line.fix === undefined ? text : `${text} → ${line.fix}`;
}

/** Runs every check, calling `report` as each line is known. Throws ConfigError for an invalid configuration. */
export async function runChecks(env: Env, catalogue: SinkCatalogue, report: (line: CheckLine) => void, options: CheckOptions = {}): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const emit = (line: CheckLine): void => {
    lines.push(line);
    report(line);
  };
  const config = loadConfig(env, catalogue);
  emit({
    outcome: 'ok',
    name: 'config',
    detail: `read as the agent reads it: NATS ${config.nats.servers.join(', ')}, subject ${config.nats.subject}; ${config.sinks.length} sink${config.sinks.length === 1 ? '' : 's'}: ${config.sinks.map((s) => s.description).join('; ')}`,
  });
  const timeoutMs = options.timeoutMs ?? 10_000;
  // NATS, the sinks and the spool are independent: check them side by side, print in order.
  const [nats, sinks, spool] = await Promise.all([
    checkNats(config.nats, timeoutMs, options.messageWaitMs ?? 5_000),
    checkSinks(config, timeoutMs),
    checkSpool(config.spool, config.sinks.length),
  ]);
  for (const line of [...nats, ...sinks, ...spool]) emit(line);
  return lines;
}

function natsCredentialsFix(nats: NatsConfig): string {
  return nats.user === undefined
    ? 'the server wants credentials: set ORG and ACCESS_TOKEN (fly tokens create readonly <org>)'
    : 'check ORG (your organisation slug) and ACCESS_TOKEN (fly tokens create readonly <org>; without the "FlyV1 " prefix is fine too)';
}

async function checkNats(nats: NatsConfig, timeoutMs: number, messageWaitMs: number): Promise<CheckLine[]> {
  const where = nats.servers.join(', ');
  const notChecked = (name: string): CheckLine => ({ outcome: 'failed', name, detail: 'not checked: no connection to NATS' });
  let nc: NatsConnection;
  let dialling: Server | undefined;
  try {
    nc = await connect({
      servers: natsAddresses(nats.servers),
      reconnectToServer: (pool) => {
        dialling = pool[0];
        return null;
      },
      ...(nats.user !== undefined ? { user: nats.user, pass: nats.pass ?? '' } : {}),
      name: 'logferry-check',
      reconnect: false,
      timeout: timeoutMs,
      // The same identity check as the agent's, so a certificate for an IP address passes here too.
      ...(nats.servers.some((s) => s.startsWith('tls:')) ? { tls: dialledServerTls(() => dialling) as ConnectionOptions['tls'] } : {}),
    });
  } catch (error) {
    if (error instanceof natsErrors.AuthorizationError || error instanceof natsErrors.UserAuthenticationExpiredError) {
      return [
        { outcome: 'ok', name: 'nats connection', detail: `reached ${where}` },
        { outcome: 'failed', name: 'nats credentials', detail: `refused by the server (${error.message})`, fix: natsCredentialsFix(nats) },
        { outcome: 'failed', name: 'nats subscription', detail: 'not checked: credentials refused' },
      ];
    }
    return [
      { outcome: 'failed', name: 'nats connection', detail: `cannot reach ${where}: ${natsErrorText(error)}`, fix: 'check NATS_URL (on Fly: leave it unset; the agent uses [NETWORK::3]:4223 on the private network)' },
      notChecked('nats credentials'),
      notChecked('nats subscription'),
    ];
  }
  const lines: CheckLine[] = [
    { outcome: 'ok', name: 'nats connection', detail: `connected to ${nc.getServer()}` },
    { outcome: 'ok', name: 'nats credentials', detail: nats.user === undefined ? 'accepted (none configured)' : `accepted for user "${nats.user}"` },
  ];
  try {
    lines.push(await checkSubscription(nc, nats.subject, messageWaitMs));
  } finally {
    await nc.close().catch(() => undefined);
  }
  return lines;
}

function natsErrorText(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const causeCode = ((error as { cause?: { code?: unknown } }).cause ?? {}).code;
  const c = typeof code === 'string' ? code : typeof causeCode === 'string' ? causeCode : undefined;
  const message = errorMessage(error);
  return c !== undefined && !message.includes(c) ? `${message} (${c})` : message;
}

/**
 * Subscribes without the agent's queue group (a queue member would take messages away from
 * the running agents; a plain subscriber gets its own copy), then waits for one message.
 */
async function checkSubscription(nc: NatsConnection, subject: string, waitMs: number): Promise<CheckLine> {
  const started = Date.now();
  let refused: Error | undefined;
  let firstAt: number | undefined;
  let count = 0;
  let wake: (() => void) | undefined;
  const sub = nc.subscribe(subject, {
    callback: (err) => {
      if (err !== null) refused = err;
      else {
        count++;
        firstAt ??= Date.now();
      }
      wake?.();
    },
  });
  // The server answers a refused subscription before the PONG of this round trip.
  await nc.flush();
  if (refused === undefined && firstAt === undefined) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  if (!sub.isClosed()) sub.unsubscribe();
  if (refused !== undefined) {
    return {
      outcome: 'failed',
      name: 'nats subscription',
      detail: `the server refused a subscription to ${subject} (${refused.message})`,
      fix: 'use a token allowed to read the log stream (fly tokens create readonly <org>) or a SUBJECT it may subscribe to',
    };
  }
  if (firstAt === undefined) {
    return {
      outcome: 'warning',
      name: 'nats subscription',
      detail: `subscribed to ${subject}, but no message arrived within ${(waitMs / 1000).toFixed(0)} s`,
      fix: 'fine if the apps are quiet; otherwise check ORG (another organisation?) and SUBJECT',
    };
  }
  return { outcome: 'ok', name: 'nats subscription', detail: `subscribed to ${subject}; first message after ${((firstAt - started) / 1000).toFixed(1)} s` };
}

/** Collects what a sink logs at warn and above while it is checked (e.g. S3 keys that may not list). */
function warningCollector(): { logger: ReturnType<typeof createLogger>; warnings: string[] } {
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text === '') continue;
        try {
          const msg = (JSON.parse(text) as { msg?: unknown }).msg;
          if (typeof msg === 'string') warnings.push(msg);
        } catch {
          // Not a log line; nothing to report.
        }
      }
      done();
    },
  });
  return { logger: createLogger('warn', sink), warnings };
}

async function checkSinks(config: AgentConfig, timeoutMs: number): Promise<CheckLine[]> {
  return Promise.all(
    config.sinks.map(async (configured): Promise<CheckLine> => {
      const { logger, warnings } = warningCollector();
      const sink = configured.plugin.create(configured.config, { logger, settings: configured.settings, agentInstanceId: config.agentInstanceId });
      const name = `sink ${sink.name}`;
      try {
        if (sink.healthcheck === undefined) return { outcome: 'ok', name, detail: `${configured.description}: no healthcheck for this kind; configuration accepted` };
        await sink.healthcheck(AbortSignal.timeout(timeoutMs));
        if (warnings.length > 0) return { outcome: 'warning', name, detail: `${configured.description}: healthcheck passed, but: ${warnings.join('; ')}`, fix: 'see the sink\'s section in the README' };
        return { outcome: 'ok', name, detail: `${configured.description}: healthcheck passed` };
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause;
        const action = sink.classify(error);
        const fix = isAuthFailure(error) || isAuthFailure(cause)
          ? `fix the ${configured.plugin.envPrefix}_* credentials (fly secrets set …)`
          : action === 'permanent'
            ? `fix the ${configured.plugin.envPrefix}_* settings: the sink refuses this configuration`
            : 'the sink is unreachable or not ready: check its address and that it is up (the agent holds entries meanwhile)';
        return { outcome: 'failed', name, detail: errorMessage(error), fix };
      } finally {
        await sink.close?.().catch(() => undefined);
      }
    }),
  );
}

function gib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

/** Bytes of the files directly in `dir` (a sink's spool segments), 0 when it does not exist. */
async function filesBytes(dir: string): Promise<number> {
  let total = 0;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) total += await stat(join(dir, name)).then((s) => (s.isFile() ? s.size : 0), () => 0);
  return total;
}

async function checkSpool(spool: SpoolConfig | undefined, sinkCount: number): Promise<CheckLine[]> {
  if (spool === undefined) {
    return [{ outcome: 'ok', name: 'spool', detail: 'off (SPOOL_DIR not set): entries wait in memory only while a sink is down' }];
  }
  const dir = spool.dir;
  const probe = join(dir, `.logferry-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  // A directory the check creates goes again afterwards: run as root (fly ssh console), it
  // would otherwise be root's, and the agent (user node) could not use it.
  let created: string | undefined;
  try {
    created = await mkdir(dir, { recursive: true });
    const fh = await open(probe, 'w');
    try {
      await fh.write('probe\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await unlink(probe);
  } catch (error) {
    if (created !== undefined) await rm(created, { recursive: true, force: true }).catch(() => undefined);
    return [{ outcome: 'failed', name: 'spool', detail: `SPOOL_DIR ${dir} is not writable: ${errorMessage(error)}`, fix: 'point SPOOL_DIR at a writable directory (on Fly: a mounted volume) or unset it to run memory-only' }];
  }
  // Each sink spools under <dir>/<sink> up to SPOOL_MAX_BYTES; what is already there counts.
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  // Without SPOOL_MAX_BYTES the agent takes its bound from the free space at start, as here.
  const perSink = spool.maxBytes ?? Math.floor(spoolBoundFromFree(free) / Math.max(1, sinkCount));
  const bound = perSink * sinkCount;
  const entries = await readdir(dir).catch(() => [] as string[]);
  let used = 0;
  for (const name of entries) used += await filesBytes(join(dir, name));
  const need = Math.max(0, bound - used);
  const detail = `${dir} writable; ${gib(free)} free, bound ${gib(perSink)} × ${sinkCount} sink${sinkCount === 1 ? '' : 's'}${used > 0 ? ` (${gib(used)} already spooled)` : ''}`;
  if (created !== undefined) await rm(created, { recursive: true, force: true });
  if (free < need) {
    return [{ outcome: 'warning', name: 'spool', detail: `${detail}: the disk fills before the bound`, fix: 'lower SPOOL_MAX_BYTES or give the volume more space' }];
  }
  return [{ outcome: 'ok', name: 'spool', detail }];
}

/** The CLI: prints the lines, returns the exit code. */
export async function checkCommand(env: Env, catalogue: SinkCatalogue, out: NodeJS.WritableStream, options: CheckOptions = {}): Promise<number> {
  let lines: CheckLine[];
  try {
    lines = await runChecks(env, catalogue, (line) => out.write(`${formatLine(line)}\n`), options);
  } catch (error) {
    if (error instanceof ConfigError) {
      out.write(`${formatLine({ outcome: 'failed', name: 'config', detail: error.message, fix: 'fix the variable named (fly secrets set …); the agent would exit with code 2' })}\n`);
      return 2;
    }
    throw error;
  }
  const failed = lines.filter((l) => l.outcome === 'failed').length;
  const warned = lines.filter((l) => l.outcome === 'warning').length;
  out.write(failed > 0 ? `${failed} check${failed === 1 ? '' : 's'} failed\n` : `all checks passed${warned > 0 ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}\n`);
  return failed > 0 ? 1 : 0;
}

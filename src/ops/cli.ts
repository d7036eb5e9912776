// The command line: `logferry` runs the agent; `logferry check`, `--help` and `--version`
// are answered here. Everything else about the agent comes from the environment.
import { readFileSync } from 'node:fs';
import type { SinkCatalogue } from '../config/config.js';
import { checkCommand } from './check.js';

export type Command =
  | { readonly kind: 'agent' }
  | { readonly kind: 'check'; readonly messageWaitMs: number | undefined }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage-error'; readonly message: string };

export const USAGE = `Usage: logferry [command]

Ships a Fly.io organisation's NATS log stream to HTTP endpoints, Loki and S3-compatible
storage. Configured by environment variables (the same secrets as fly-log-shipper); see
the README.

Commands:
  (none)            run the agent
  check [--wait N]  read the configuration as the agent does and try each part for real:
                    NATS reachable, credentials accepted, SUBJECT subscribable (waits up to
                    N seconds, default 5, for a first message), every sink's healthcheck,
                    the spool directory. One line per check; exit code 0 when none failed,
                    1 when one did, 2 for an invalid configuration.
                    On Fly: fly ssh console -C "logferry check"
  --help, -h        this text
  --version, -v     the version
`;

export function parseCommandLine(args: readonly string[]): Command {
  const [first, ...rest] = args;
  if (first === undefined) return { kind: 'agent' };
  if (first === '--help' || first === '-h' || first === 'help') return { kind: 'help' };
  if (first === '--version' || first === '-v' || first === 'version') return { kind: 'version' };
  if (first !== 'check') return { kind: 'usage-error', message: `unknown command "${first}"` };
  let messageWaitMs: number | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const value = arg === '--wait' ? rest[++i] : arg.startsWith('--wait=') ? arg.slice('--wait='.length) : undefined;
    if (value === undefined) return { kind: 'usage-error', message: arg === '--wait' ? '--wait needs a number of seconds' : `unknown option "${arg}"` };
    const seconds = Number(value);
    if (!Number.isFinite(seconds) || seconds < 0 || seconds > 600) return { kind: 'usage-error', message: `--wait expects seconds between 0 and 600, got "${value}"` };
    messageWaitMs = seconds * 1000;
  }
  return { kind: 'check', messageWaitMs };
}

export function version(): string {
  // Built (dist/src/ops/cli.js) it is three levels below package.json; run from source, two.
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'logferry' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Try the next place.
    }
  }
  return 'unknown';
}

/** Runs a command other than the agent; resolves with the exit code. */
export async function runCommand(command: Exclude<Command, { kind: 'agent' }>, catalogue: SinkCatalogue): Promise<number> {
  switch (command.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
      process.stdout.write(`logferry ${version()}\n`);
      return 0;
    case 'usage-error':
      process.stderr.write(`logferry: ${command.message}\n\n${USAGE}`);
      return 2;
    case 'check':
      return checkCommand(process.env, catalogue, process.stdout, command.messageWaitMs !== undefined ? { messageWaitMs: command.messageWaitMs } : {});
  }
}

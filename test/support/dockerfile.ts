// What production runs the agent with, read from the Dockerfile's runtime stage (after its
// last FROM): the benchmark and the tests that emulate fly.toml's VM use the same.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function runtimeStage(repoRoot: string): string {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  return dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
}

/** The runtime stage's ENV lines. */
export function dockerRuntimeEnv(repoRoot: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of runtimeStage(repoRoot).matchAll(/^ENV ([A-Z_][A-Z0-9_]*)=(?:"([^"]*)"|(\S*))\s*$/gm)) env[m[1]!] = m[2] ?? m[3] ?? '';
  return env;
}

/** The node flags of the CMD (`["node", "--flag", …, "dist/src/main.js"]`). */
export function dockerNodeFlags(repoRoot: string): string[] {
  const cmd = /^CMD (\[.*\])\s*$/m.exec(runtimeStage(repoRoot));
  if (cmd === null) return [];
  const argv = JSON.parse(cmd[1]!) as unknown;
  if (!Array.isArray(argv) || argv[0] !== 'node') return [];
  return argv.slice(1).filter((a): a is string => typeof a === 'string' && a.startsWith('--'));
}

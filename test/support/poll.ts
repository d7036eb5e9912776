// Synchronisation for tests: poll a condition until it holds, never sleep-and-hope.
// On timeout the error names what was awaited and the last value (or error) the probe gave,
// so a failing test says why without a re-run.
import { inspect } from 'node:util';

export interface WaitForOptions {
  /** Give up after this long. */
  readonly timeoutMs?: number;
  /** Pause between probes. */
  readonly intervalMs?: number;
  /** What is being waited for, in words: "all 20000 entries delivered". */
  readonly what: string;
  /** Extra context for the timeout message, computed only on failure (agent logs, server state). */
  readonly context?: () => string | Promise<string>;
}

type Falsy = undefined | null | false;

/**
 * Resolves with the first truthy value `probe` returns. A probe that throws counts as
 * "not yet" (a server still starting), and its last error is reported on timeout.
 */
export async function waitFor<T>(
  probe: () => T | Falsy | Promise<T | Falsy>,
  options: WaitForOptions,
): Promise<Exclude<T, Falsy>> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  let probes = 0;
  for (;;) {
    probes++;
    try {
      const value = await probe();
      lastError = undefined;
      last = value;
      if (value) return value as Exclude<T, Falsy>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  const seen = lastError !== undefined ? `last probe threw: ${describe(lastError)}` : `last value: ${describe(last)}`;
  let extra = '';
  if (options.context) {
    try {
      extra = `\n${await options.context()}`;
    } catch (error) {
      extra = `\n(context unavailable: ${describe(error)})`;
    }
  }
  throw new Error(`timed out after ${timeoutMs} ms (${probes} probes) waiting for ${options.what}; ${seen}${extra}`);
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return inspect(value, { depth: 3, breakLength: Infinity, maxArrayLength: 10, maxStringLength: 300 });
}

/** Resolves after `ms`; only for pacing (publishing rates, holding a fault), never to wait for a result. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

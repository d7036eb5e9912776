// Config tests: the ConfigError a reader throws (failing the test when it throws none or
// another error), and a reader's value when it must be configured.
import { ConfigError } from '../../src/errors.js';

export function configErrorOf(read: () => unknown): ConfigError {
  try {
    read();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

export function configured<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('not configured');
  return value;
}

import { describe, expect, it } from 'vitest';
import { EnvReader, parseDuration, parseSize } from '../../src/config/env.js';
import { ConfigError } from '../../src/errors.js';

describe('parseDuration / parseSize', () => {
  it('reads durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('2')).toBe(2000);
    expect(parseDuration('soon')).toBeUndefined();
  });
  it('reads sizes', () => {
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize('512KiB')).toBe(524288);
    expect(parseSize('10MiB')).toBe(10 * 1024 * 1024);
    expect(parseSize('1MB')).toBe(1_000_000);
    expect(parseSize('lots')).toBeUndefined();
  });
});

describe('EnvReader', () => {
  it('names the variable in every error', () => {
    const env = new EnvReader({ A: 'x', B: 'maybe', C: '1.5', D: 'http//x', E: 'zstd' });
    expect(() => env.int('C', 1)).toThrow(/^C: /);
    expect(() => env.bool('B', false)).toThrow(/^B: /);
    expect(() => env.url('D')).toThrow(/^D: /);
    expect(() => env.oneOf('E', ['gzip', 'none'], 'none')).toThrow(/^E: expected one of gzip, none/);
    expect(() => env.required('MISSING', 'a thing')).toThrow(ConfigError);
  });
  it('keeps secret URLs out of messages', () => {
    const env = new EnvReader({ U: 'ftp://user:hunter2@host' });
    expect(() => env.url('U', { secret: true })).toThrow(/^U: /);
    try {
      env.url('U', { secret: true });
    } catch (e) {
      expect(String(e)).not.toContain('hunter2');
    }
  });
  it('treats blank as unset and applies ranges', () => {
    const env = new EnvReader({ P: '  ', Q: '70000' });
    expect(env.int('P', 7)).toBe(7);
    expect(() => env.int('Q', 1, { max: 65535 })).toThrow(/at most 65535/);
  });
});

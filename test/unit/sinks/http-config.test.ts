import { describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { ConfigError } from '../../../src/errors.js';
import { plugin } from '../../../sinks/http/index.js';
import { describeHttpSink, readHttpSinkConfig, type HttpSinkConfig } from '../../../sinks/http/config.js';
import { configErrorOf } from '../../support/config-error.js';

const URL_SECRET = 'u-secret-77';
const BASE = { HTTP_URL: `https://logs.example.com:8443/v1/ingest?api_key=${URL_SECRET}` };

function read(env: Record<string, string>): HttpSinkConfig | undefined {
  return readHttpSinkConfig(new EnvReader(env));
}

/** The ConfigError reading `env` throws; fails if it does not throw one. */
function configError(env: Record<string, string>): ConfigError {
  return configErrorOf(() => read(env));
}

describe('HTTP sink config', () => {
  test('off when HTTP_URL is unset', () => {
    expect(read({})).toBeUndefined();
    expect(read({ HTTP_URL: '  ' })).toBeUndefined();
  });

  test('defaults', () => {
    const c = read(BASE)!;
    expect(c.url.href).toBe(BASE.HTTP_URL);
    expect(c).toMatchObject({
      auth: { kind: 'none' },
      headers: {},
      format: 'ndjson',
      compression: 'none',
      compressionLevel: 3,
      method: 'POST',
      timeoutMs: 30_000,
    });
  });

  test('every setting', () => {
    const c = read({
      ...BASE,
      HTTP_TOKEN: 'tok',
      HTTP_HEADERS: 'X-A=1',
      HTTP_FORMAT: 'JSON',
      HTTP_COMPRESSION: 'gzip',
      HTTP_COMPRESSION_LEVEL: '1',
      HTTP_METHOD: 'put',
      HTTP_TIMEOUT: '5s',
    })!;
    expect(c).toMatchObject({
      auth: { kind: 'bearer', token: 'tok' },
      headers: { 'x-a': '1' },
      format: 'json',
      compression: 'gzip',
      compressionLevel: 1,
      method: 'PUT',
      timeoutMs: 5000,
    });
  });

  test('plugin shape and pipeline defaults', () => {
    expect(plugin.kind).toBe('http');
    expect(plugin.envPrefix).toBe('HTTP');
    expect(plugin.defaults).toEqual({
      batch: { maxEntries: 10_000, maxBytes: 1024 * 1024, maxAgeMs: 1000 },
      maxInFlight: 4,
      bufferMaxBytes: 16 * 1024 * 1024,
    });
  });

  test('basic auth from HTTP_USERNAME / HTTP_PASSWORD', () => {
    expect(read({ ...BASE, HTTP_USERNAME: 'u', HTTP_PASSWORD: 'p:w' })!.auth).toEqual({ kind: 'basic', username: 'u', password: 'p:w' });
  });

  test('credentials in the URL become basic auth and are removed from it', () => {
    const c = read({ HTTP_URL: 'https://us%65r:pa%3Ass@logs.example.com/in' })!;
    expect(c.auth).toEqual({ kind: 'basic', username: 'user', password: 'pa:ss' });
    expect(c.url.href).toBe('https://logs.example.com/in');
  });

  test('JSON and list forms of HTTP_HEADERS', () => {
    expect(read({ ...BASE, HTTP_HEADERS: '{"X-Api-Key":"a=b,c","X-Num":5}' })!.headers).toEqual({ 'x-api-key': 'a=b,c', 'x-num': '5' });
    expect(read({ ...BASE, HTTP_HEADERS: ' X-Api-Key = k=v , ,X-Scope-OrgID=t ' })!.headers).toEqual({ 'x-api-key': 'k=v', 'x-scope-orgid': 't' });
    // A custom scheme is fine when no other auth is configured.
    expect(read({ ...BASE, HTTP_HEADERS: 'Authorization=ApiKey xyz' })!.headers).toEqual({ authorization: 'ApiKey xyz' });
  });

  describe('errors name the variable and never the secret', () => {
    const HEADER_SECRET = 'h-secret-55';
    const TOKEN_SECRET = 't-secret-33';
    const PASSWORD_SECRET = 'p-secret-44';
    const cases: Array<[string, Record<string, string>, string]> = [
      ['not a URL', { HTTP_URL: `::not a url ${URL_SECRET}` }, 'HTTP_URL'],
      ['not http(s)', { HTTP_URL: `ftp://host/${URL_SECRET}` }, 'HTTP_URL'],
      ['token and basic', { ...BASE, HTTP_TOKEN: TOKEN_SECRET, HTTP_USERNAME: 'u', HTTP_PASSWORD: PASSWORD_SECRET }, 'HTTP_TOKEN'],
      ['username only', { ...BASE, HTTP_USERNAME: 'u' }, 'HTTP_PASSWORD'],
      ['password only', { ...BASE, HTTP_PASSWORD: PASSWORD_SECRET }, 'HTTP_USERNAME'],
      ['URL credentials and token', { HTTP_URL: `https://u:${URL_SECRET}@h/`, HTTP_TOKEN: TOKEN_SECRET }, 'HTTP_URL'],
      ['token with a line break', { ...BASE, HTTP_TOKEN: `${TOKEN_SECRET}\nX-Evil: 1` }, 'HTTP_TOKEN'],
      ['user name with a colon', { ...BASE, HTTP_USERNAME: 'a:b', HTTP_PASSWORD: PASSWORD_SECRET }, 'HTTP_USERNAME'],
      ['header list item without =', { ...BASE, HTTP_HEADERS: `X-A=1,${HEADER_SECRET}` }, 'HTTP_HEADERS'],
      ['header list in colon form', { ...BASE, HTTP_HEADERS: `X-Api-Key: ${HEADER_SECRET}=x` }, 'HTTP_HEADERS'],
      ['invalid JSON', { ...BASE, HTTP_HEADERS: `{"X-Api-Key": ${HEADER_SECRET}` }, 'HTTP_HEADERS'],
      ['JSON array', { ...BASE, HTTP_HEADERS: `["${HEADER_SECRET}"]` }, 'HTTP_HEADERS'],
      ['JSON non-string value', { ...BASE, HTTP_HEADERS: `{"X-A":{"v":"${HEADER_SECRET}"}}` }, 'HTTP_HEADERS'],
      ['invalid header name', { ...BASE, HTTP_HEADERS: `{"X A":"${HEADER_SECRET}"}` }, 'HTTP_HEADERS'],
      ['header value with CRLF', { ...BASE, HTTP_HEADERS: `{"X-A":"${HEADER_SECRET}\\r\\nX-B: 1"}` }, 'HTTP_HEADERS'],
      ['reserved header', { ...BASE, HTTP_HEADERS: `Content-Length=${HEADER_SECRET}` }, 'HTTP_HEADERS'],
      ['duplicate header', { ...BASE, HTTP_HEADERS: `X-A=${HEADER_SECRET},x-a=2` }, 'HTTP_HEADERS'],
      ['Authorization header and token', { ...BASE, HTTP_TOKEN: TOKEN_SECRET, HTTP_HEADERS: `Authorization=${HEADER_SECRET}` }, 'HTTP_HEADERS'],
      ['bad format', { ...BASE, HTTP_FORMAT: 'xml' }, 'HTTP_FORMAT'],
      ['bad compression', { ...BASE, HTTP_COMPRESSION: 'zip' }, 'HTTP_COMPRESSION'],
      ['level out of range', { ...BASE, HTTP_COMPRESSION_LEVEL: '10' }, 'HTTP_COMPRESSION_LEVEL'],
      ['bad method', { ...BASE, HTTP_METHOD: 'GET' }, 'HTTP_METHOD'],
      ['bad timeout', { ...BASE, HTTP_TIMEOUT: 'soon' }, 'HTTP_TIMEOUT'],
      ['token without URL', { HTTP_TOKEN: TOKEN_SECRET }, 'HTTP_URL'],
    ];
    test.each(cases)('%s', (_name, env, variable) => {
      const error = configError(env);
      expect(error.variable).toBe(variable);
      expect(error.message.startsWith(`${variable}: `)).toBe(true);
      // Nowhere in the error: message, cause, or any property an error logger would print.
      const everything = JSON.stringify(error, Object.getOwnPropertyNames(error)) + JSON.stringify(error.cause ?? null, error.cause instanceof Error ? Object.getOwnPropertyNames(error.cause) : undefined) + String(error.stack);
      for (const secret of [URL_SECRET, HEADER_SECRET, TOKEN_SECRET, PASSWORD_SECRET]) expect(everything).not.toContain(secret);
    });
  });

  test('describe shows host and path only', () => {
    const line = describeHttpSink(read({ HTTP_URL: `https://u:${URL_SECRET}@logs.example.com:8443/v1/ingest?api_key=${URL_SECRET}`, HTTP_COMPRESSION: 'gzip' })!);
    expect(line).toBe('http → https://logs.example.com:8443/v1/ingest (ndjson, gzip level 3, basic auth)');
    expect(describeHttpSink(read({ ...BASE, HTTP_TOKEN: 'secret-token', HTTP_HEADERS: 'X-A=1,X-B=2', HTTP_METHOD: 'PUT', HTTP_FORMAT: 'json' })!)).toBe(
      'http → https://logs.example.com:8443/v1/ingest (json, uncompressed, bearer auth, 2 extra headers, PUT)',
    );
    expect(plugin.describe(read({ HTTP_URL: 'http://127.0.0.1/x' })!)).toBe('http → http://127.0.0.1/x (ndjson, uncompressed, no auth)');
  });
});

// fly-log-shipper's secrets for the vendor destinations: same names, same defaults; errors
// name the variable and never show a secret.
import { describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { readDatadogConfig } from '../../../sinks/datadog/config.js';
import { readHoneycombConfig } from '../../../sinks/honeycomb/config.js';
import { readNewRelicConfig } from '../../../sinks/new-relic/config.js';
import { readHumioConfig } from '../../../sinks/humio/config.js';
import { readEraSearchConfig } from '../../../sinks/erasearch/config.js';
import { readSematextConfig } from '../../../sinks/sematext/config.js';
import { readCloudWatchConfig } from '../../../sinks/cloudwatch/config.js';
import { readPapertrailConfig } from '../../../sinks/papertrail/config.js';
import { configErrorOf, configured } from '../../support/config-error.js';

const env = (e: Record<string, string>) => new EnvReader(e);

describe('vendor destinations are off without their secrets', () => {
  test.each([readDatadogConfig, readHoneycombConfig, readNewRelicConfig, readHumioConfig, readEraSearchConfig, readSematextConfig, readCloudWatchConfig, readPapertrailConfig])('%o', (read) => {
    expect(read(env({}))).toBeUndefined();
  });
});

describe('defaults as fly-log-shipper has them', () => {
  test('Datadog: site datadoghq.com, intake v2 and validate URLs; DATADOG_SITE moves both', () => {
    const c = configured(readDatadogConfig(env({ DATADOG_API_KEY: 'k1' })));
    expect(c.intakeUrl.href).toBe('https://http-intake.logs.datadoghq.com/api/v2/logs');
    expect(c.validateUrl.href).toBe('https://api.datadoghq.com/api/v1/validate');
    const eu = configured(readDatadogConfig(env({ DATADOG_API_KEY: 'k1', DATADOG_SITE: 'datadoghq.eu' })));
    expect(eu.intakeUrl.host).toBe('http-intake.logs.datadoghq.eu');
  });
  test('Honeycomb: api.honeycomb.io, dataset percent-encoded in the path', () => {
    expect(configured(readHoneycombConfig(env({ HONEYCOMB_API_KEY: 'k', HONEYCOMB_DATASET: 'fly logs' }))).batchUrl.href).toBe('https://api.honeycomb.io/1/batch/fly%20logs');
  });
  test('New Relic: region us by default, eu on request; the license key wins over the insert key', () => {
    expect(configured(readNewRelicConfig(env({ NEW_RELIC_INSERT_KEY: 'i' }))).url.href).toBe('https://log-api.newrelic.com/log/v1');
    const c = configured(readNewRelicConfig(env({ NEW_RELIC_INSERT_KEY: 'i', NEW_RELIC_LICENSE_KEY: 'l', NEW_RELIC_REGION: 'EU' })));
    expect(c.url.href).toBe('https://log-api.eu.newrelic.com/log/v1');
    expect(c.key).toEqual({ kind: 'license', value: 'l' });
  });
  test('Humio: cloud.humio.com unless HUMIO_ENDPOINT', () => {
    expect(configured(readHumioConfig(env({ HUMIO_TOKEN: 't' }))).hecUrl.href).toBe('https://cloud.humio.com/api/v1/ingest/hec');
    expect(configured(readHumioConfig(env({ HUMIO_TOKEN: 't', HUMIO_ENDPOINT: 'https://cloud.us.humio.com/' }))).hecUrl.href).toBe('https://cloud.us.humio.com/api/v1/ingest/hec');
  });
  test('Sematext: the region\'s receiver, the token as index', () => {
    expect(configured(readSematextConfig(env({ SEMATEXT_TOKEN: 't', SEMATEXT_REGION: 'eu' }))).bulkUrl.origin).toBe('https://logsene-receiver.eu.sematext.com');
  });
  test('CloudWatch: the region\'s endpoint; AWS_ENDPOINT_URL_CLOUDWATCH_LOGS before AWS_ENDPOINT_URL', () => {
    const base = { CLOUDWATCH_LOG_GROUP_NAME: '/fly', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: 's/ecret' };
    expect(configured(readCloudWatchConfig(env(base))).endpoint.href).toBe('https://logs.eu-west-1.amazonaws.com/');
    expect(configured(readCloudWatchConfig(env({ ...base, AWS_ENDPOINT_URL: 'http://localhost:4566' }))).endpoint.host).toBe('localhost:4566');
    expect(configured(readCloudWatchConfig(env({ ...base, AWS_ENDPOINT_URL: 'http://localhost:4566', AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: 'http://localhost:9999' }))).endpoint.host).toBe('localhost:9999');
    // The secret is not enumerable: a logged config never shows it.
    expect(JSON.stringify(configured(readCloudWatchConfig(env(base))))).not.toContain('s/ecret');
  });
  test('Papertrail: codec json by default; host:port parsed', () => {
    expect(readPapertrailConfig(env({ PAPERTRAIL_ENDPOINT: 'logs3.papertrailapp.com:12345' }))).toEqual({ host: 'logs3.papertrailapp.com', port: 12345, codec: 'json' });
    expect(configErrorOf(() => readPapertrailConfig(env({ PAPERTRAIL_ENDPOINT: 'logs3.papertrailapp.com:99999' }))).variable).toBe('PAPERTRAIL_ENDPOINT');
  });
  test('a malformed secret is named, never shown', () => {
    const e = configErrorOf(() => readDatadogConfig(env({ DATADOG_API_KEY: 'abc def_SECRET' })));
    expect(e.variable).toBe('DATADOG_API_KEY');
    expect(e.message).not.toContain('SECRET');
    const era = configErrorOf(() => readEraSearchConfig(env({ ERASEARCH_URL: 'https://u:p_SECRET@era.example', ERASEARCH_INDEX: 'x' })));
    expect(era.message).not.toContain('p_SECRET');
  });
});

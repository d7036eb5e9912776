// CloudWatch Logs settings, as fly-log-shipper reads them: CLOUDWATCH_LOG_GROUP_NAME (turns
// the destination on), AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally
// AWS_SESSION_TOKEN. The endpoint can be overridden as the AWS SDKs allow:
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, else AWS_ENDPOINT_URL.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { makeCredentials, type S3Credentials } from '../s3/signing.js';
import { readEndpoint, readSecret } from '../shared/vendor-config.js';

export interface CloudWatchConfig {
  readonly group: string;
  readonly region: string;
  readonly credentials: S3Credentials;
  /** `https://logs.<region>.amazonaws.com` or the override; requests go to its root path. */
  readonly endpoint: URL;
}

const GROUP = /^[.\-_/#A-Za-z0-9]{1,512}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export function readCloudWatchConfig(env: EnvReader): CloudWatchConfig | undefined {
  const group = env.raw('CLOUDWATCH_LOG_GROUP_NAME');
  if (group === undefined) return undefined;
  if (!GROUP.test(group)) throw new ConfigError('CLOUDWATCH_LOG_GROUP_NAME', `must be 1-512 characters of letters, digits and . - _ / #, got "${group}"`);
  const region = env.required('AWS_REGION', 'the AWS region of the log group, e.g. us-east-1');
  if (!REGION.test(region)) throw new ConfigError('AWS_REGION', `expected an AWS region such as us-east-1, got "${region}"`);
  const accessKeyId = readSecret(env, 'AWS_ACCESS_KEY_ID');
  if (accessKeyId === undefined) throw new ConfigError('AWS_ACCESS_KEY_ID', 'is required for CloudWatch Logs (CLOUDWATCH_LOG_GROUP_NAME is set)');
  const secret = readSecret(env, 'AWS_SECRET_ACCESS_KEY');
  if (secret === undefined) throw new ConfigError('AWS_SECRET_ACCESS_KEY', 'is required for CloudWatch Logs (CLOUDWATCH_LOG_GROUP_NAME is set)');
  const sessionToken = readSecret(env, 'AWS_SESSION_TOKEN');
  const endpoint =
    readEndpoint(env, 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', { bare: true }) ?? readEndpoint(env, 'AWS_ENDPOINT_URL', { bare: true }) ?? new URL(`https://logs.${region}.amazonaws.com`);
  return { group, region, credentials: makeCredentials(accessKeyId, secret, sessionToken), endpoint };
}

export function describeCloudWatch(c: CloudWatchConfig): string {
  return `cloudwatch → ${c.endpoint.protocol}//${c.endpoint.host} (log group ${c.group}, region ${c.region}, stream per app/host)`;
}

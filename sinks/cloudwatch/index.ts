// The AWS CloudWatch Logs destination (fly-log-shipper's aws_cloudwatch sink): on when CLOUDWATCH_LOG_GROUP_NAME is set.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { describeCloudWatch, readCloudWatchConfig, type CloudWatchConfig } from './config.js';
import { CW_MAX_EVENTS } from './encode.js';
import { CloudWatchSink } from './sink.js';

export const plugin: SinkPlugin<CloudWatchConfig> = {
  kind: 'cloudwatch',
  envPrefix: 'CLOUDWATCH',
  defaults: {
    // maxBytes is the JSON body, which is larger than the service's measure (messages plus
    // 26 bytes each): a body under 1,000,000 bytes is under the 1,048,576-byte limit.
    batch: { maxEntries: CW_MAX_EVENTS, maxBytes: 1_000_000, maxAgeMs: 1000 },
    maxInFlight: 4,
    bufferMaxBytes: 16 * 1024 * 1024,
  },
  readConfig: readCloudWatchConfig,
  describe: describeCloudWatch,
  create: (config, context) => new CloudWatchSink(config, context.settings?.maxInFlight ?? 4),
};

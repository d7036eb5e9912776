// The Slack alerts destination: its own pipeline (one request at a time, batches of a second),
// so alerts wait for Slack's pace without holding up any other destination.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { vendorDefaults } from '../shared/vendor-http.js';
import { describeSlack, readSlackConfig, type SlackConfig } from './config.js';
import { SlackSink } from './sink.js';

export const plugin: SinkPlugin<SlackConfig> = {
  kind: 'slack',
  envPrefix: 'SLACK',
  // A batch with a match waits for its second; batches of two seconds keep the posts (one a
  // second at most) ahead of the traffic, so the buffer never fills with entries waiting for Slack.
  defaults: vendorDefaults({ maxEntries: 20_000, maxAgeMs: 2000, maxLineBytes: 4 * 1024 * 1024 }, { maxInFlight: 1 }),
  readConfig: readSlackConfig,
  describe: describeSlack,
  create: (config) => new SlackSink(config),
};

export { SlackSink } from './sink.js';

// The Slack message for a batch: the entries whose message matches a keyword, each as the two
// blocks fly-log-shipper builds ("New alert from *<app>*", then "*AppId:* <instance>" and the
// message in a code block). Slack takes at most 50 blocks per message and 3,000 characters per
// section text, so a message holds at most MAX_ALERTS alerts and long messages are cut.
import { forEachLine } from '../../src/pipeline/batch.js';
import type { Batch, EncodedBatch } from '../../src/pipeline/sink.js';
import { parseLine } from '../shared/vendor-http.js';

export const SLACK_MAX_BLOCKS = 50;
export const SLACK_MAX_SECTION_CHARS = 3000;
/** Two blocks per alert, and room for the closing note on alerts left out. */
export const MAX_ALERTS = Math.floor((SLACK_MAX_BLOCKS - 1) / 2);

interface Alert {
  readonly app: string;
  readonly instance: string;
  readonly message: string;
}

const FENCE = '```';

export function encodeSlackBatch(batch: Batch, keywords: readonly RegExp[]): EncodedBatch {
  const alerts: Alert[] = [];
  let filtered = 0;
  let overflow = 0;
  const ndjson = batch.ndjson;
  forEachLine(batch, (start, end) => {
    if (end === start) return;
    const entry = parseLine(ndjson.toString('utf8', start, end));
    const message = typeof entry.message === 'string' ? entry.message : entry.message === undefined ? '' : JSON.stringify(entry.message);
    if (!keywords.some((k) => k.test(message))) {
      filtered++;
      return;
    }
    if (alerts.length >= MAX_ALERTS) {
      overflow++;
      return;
    }
    const fly = entry.fly as { app?: { name?: unknown; instance?: unknown } } | undefined;
    alerts.push({ app: String(fly?.app?.name ?? ''), instance: String(fly?.app?.instance ?? ''), message });
  });

  const blocks: unknown[] = [];
  let truncated = 0;
  for (const alert of alerts) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `New alert from *${alert.app}*` } });
    const head = `*AppId:* ${alert.instance}\n*Message:*\n${FENCE}`;
    const room = SLACK_MAX_SECTION_CHARS - head.length - FENCE.length;
    let message = alert.message;
    if (message.length > room) {
      message = `${message.slice(0, room - 1)}…`;
      truncated++;
    }
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `${head}${message}${FENCE}` } });
  }
  if (overflow > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…and ${overflow} more matching entr${overflow === 1 ? 'y' : 'ies'} in the same second, not posted` }] });

  const adjusted: Record<string, number> = {};
  // Entries no keyword matched: Slack's part is done by not posting them (see README).
  if (filtered > 0) adjusted.filtered = filtered;
  if (truncated > 0) adjusted.message_truncated = truncated;
  const text = alerts.length === 0 ? '' : `New alert from ${alerts[0]!.app}${alerts.length > 1 ? ` and ${alerts.length - 1} more` : ''}`;
  const body = alerts.length === 0 ? Buffer.alloc(0) : Buffer.from(JSON.stringify({ text, blocks }), 'utf8');
  return {
    body,
    entryCount: alerts.length,
    ...(overflow > 0 ? { dropped: { alert_rate_limit: overflow } } : {}),
    ...(Object.keys(adjusted).length > 0 ? { adjusted } : {}),
  };
}

// Slack alerts from fly-log-shipper's secrets SLACK_WEBHOOK_URL and SLACK_ALERT_KEYWORDS. The
// keywords are fly-log-shipper's VRL array of regular expressions, e.g. [r'SIGTERM', r'reboot']
// (quoted strings count as expressions too, as match_any! reads them); logferry also takes a
// plain list, SIGTERM,reboot, whose items match as literal text. The webhook URL is a secret
// (the path is the credential): it never appears in a message.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, requireFor } from '../shared/vendor-config.js';

export interface SlackConfig {
  readonly webhookUrl: URL;
  readonly keywords: readonly RegExp[];
}

const KEYWORDS_EXAMPLE = "[r'SIGTERM', r'reboot']";

export function readSlackConfig(env: EnvReader): SlackConfig | undefined {
  const webhookUrl = readEndpoint(env, 'SLACK_WEBHOOK_URL');
  if (webhookUrl === undefined) {
    requireFor(env, 'SLACK_WEBHOOK_URL', ['SLACK_ALERT_KEYWORDS']);
    return undefined;
  }
  const text = env.raw('SLACK_ALERT_KEYWORDS');
  if (text === undefined) throw new ConfigError('SLACK_ALERT_KEYWORDS', `is required when SLACK_WEBHOOK_URL is set: the expressions a message must match to be posted, such as ${KEYWORDS_EXAMPLE}`);
  return { webhookUrl, keywords: parseKeywords(text) };
}

/** The keyword list as regular expressions; throws ConfigError naming the item that is wrong. */
export function parseKeywords(text: string): RegExp[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) {
    const items = trimmed.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length === 0) throw new ConfigError('SLACK_ALERT_KEYWORDS', `expected at least one keyword, such as ${KEYWORDS_EXAMPLE}`);
    // A quoted item means a VRL list that lost its brackets; matching the quotes literally would never alert.
    const quoted = items.findIndex((item) => /^r?['"]/.test(item));
    if (quoted !== -1) throw new ConfigError('SLACK_ALERT_KEYWORDS', `item ${quoted + 1} is quoted: write the list in brackets, such as ${KEYWORDS_EXAMPLE}`);
    return items.map((item) => new RegExp(item.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'u'));
  }
  if (!trimmed.endsWith(']')) throw new ConfigError('SLACK_ALERT_KEYWORDS', `expected a list such as ${KEYWORDS_EXAMPLE} (no closing "]")`);
  const body = trimmed.slice(1, -1);
  const patterns: string[] = [];
  let i = 0;
  while (i < body.length) {
    const c = body[i]!;
    if (c === ',' || /\s/.test(c)) {
      i++;
      continue;
    }
    const position = patterns.length + 1;
    const raw = c === 'r';
    const quote = raw ? body[i + 1] : c;
    if (quote !== "'" && quote !== '"') throw new ConfigError('SLACK_ALERT_KEYWORDS', `item ${position} is not a quoted expression such as r'SIGTERM'`);
    let j = i + (raw ? 2 : 1);
    let value = '';
    for (; j < body.length && body[j] !== quote; j++) {
      // In a quoted (not raw) string a backslash escapes the next character, as in VRL.
      if (!raw && body[j] === '\\' && j + 1 < body.length) value += body[++j];
      else value += body[j];
    }
    if (j >= body.length) throw new ConfigError('SLACK_ALERT_KEYWORDS', `item ${position} has no closing quote`);
    patterns.push(value);
    i = j + 1;
  }
  if (patterns.length === 0) throw new ConfigError('SLACK_ALERT_KEYWORDS', `expected at least one expression, such as ${KEYWORDS_EXAMPLE}`);
  return patterns.map((pattern, index) => compile(pattern, index + 1));
}

/** A Rust-syntax expression (VRL's) as a JavaScript one: a leading (?i) becomes the i flag. */
function compile(pattern: string, position: number): RegExp {
  let source = pattern;
  let flags = 'u';
  const inline = /^\(\?([imsx]+)\)/.exec(source);
  if (inline) {
    source = source.slice(inline[0].length);
    for (const f of inline[1]!) if (f === 'i' || f === 'm' || f === 's') flags += f;
  }
  try {
    return new RegExp(source, flags);
  } catch {
    try {
      // Unicode mode refuses some escapes Rust accepts (e.g. \-); try without it.
      return new RegExp(source, flags.replace('u', ''));
    } catch (error) {
      throw new ConfigError('SLACK_ALERT_KEYWORDS', `item ${position} is not a valid regular expression: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

export function describeSlack(config: SlackConfig): string {
  return `slack → ${config.webhookUrl.protocol}//${config.webhookUrl.host} (alerts for messages matching ${config.keywords.length} expression${config.keywords.length === 1 ? '' : 's'}, at most one post a second)`;
}

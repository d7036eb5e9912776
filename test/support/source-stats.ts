// A NATS source's stats as /health sees them once the agent is connected and subscribed,
// for the health tests to change one thing at a time.
import { SourceStats } from '../../src/ops/stats.js';

export function subscribedSource(lastMessageAt: number): SourceStats {
  const s = new SourceStats();
  s.connected = true;
  s.disconnectedSince = undefined;
  s.subscribed = true;
  s.subscribedOnce = true;
  s.unsubscribedSince = undefined;
  s.lastMessageAt = lastMessageAt;
  return s;
}

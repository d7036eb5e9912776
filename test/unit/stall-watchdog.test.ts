import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { StallWatchdog } from '../../src/source/stall-watchdog.js';
import { SourceStats } from '../../src/ops/stats.js';

describe('StallWatchdog', () => {
  function setup() {
    const stats = new SourceStats();
    stats.connected = true;
    const calls: string[] = [];
    const dog = new StallWatchdog(stats, 1000, { resubscribe: () => void calls.push('resubscribe'), reconnect: async () => void calls.push('reconnect') }, pino({ level: 'silent' }));
    return { stats, calls, dog };
  }

  it('resubscribes after STALL_TIMEOUT of silence, then reconnects if still silent', () => {
    const { stats, calls, dog } = setup();
    dog.check(0);
    dog.check(500);
    expect(calls).toEqual([]);
    dog.check(1000);
    expect(calls).toEqual(['resubscribe']);
    expect(stats.stalled).toBe(true);
    expect(stats.stalls).toBe(1);
    dog.check(1500);
    expect(calls).toEqual(['resubscribe']);
    dog.check(2000);
    expect(calls).toEqual(['resubscribe', 'reconnect']);
  });

  it('clears the stall when messages flow again', () => {
    const { stats, calls, dog } = setup();
    dog.check(0);
    dog.check(1000);
    stats.messagesReceived = 5;
    dog.check(1100);
    expect(stats.stalled).toBe(false);
    dog.check(1900);
    expect(calls).toEqual(['resubscribe']);
  });

  it('leaves a disconnected client to the reconnect logic', () => {
    const { stats, calls, dog } = setup();
    stats.connected = false;
    dog.check(0);
    dog.check(5000);
    expect(calls).toEqual([]);
  });
});

/** The token buckets behind the per-user rate limit: burst, refill, one notice a minute, bounded memory. */
import { describe, expect, it } from '@jest/globals';
import { NOTICE_EVERY_MS, TokenBuckets } from '../../../src/chat/rate-limit.js';

describe('TokenBuckets', () => {
  it('lets a burst through, then one per refill interval, and asks for one notice a minute', () => {
    const b = new TokenBuckets({ perMinute: 30, burst: 3 });
    const t0 = 1_000_000;
    expect([1, 2, 3].map(() => b.take(1, t0).ok)).toEqual([true, true, true]);
    expect(b.take(1, t0)).toEqual({ ok: false, notify: true });
    expect(b.take(1, t0 + 1000)).toEqual({ ok: false, notify: false });
    expect(b.take(1, t0 + 2000).ok).toBe(true); // 30 a minute: one token every 2 s
    expect(b.take(1, t0 + 2000)).toEqual({ ok: false, notify: false });
    expect(b.take(2, t0).ok).toBe(true); // another user has their own bucket
    expect(b.take(1, t0 + NOTICE_EVERY_MS).ok).toBe(true);
    for (let i = 0; i < 2; i++) b.take(1, t0 + NOTICE_EVERY_MS);
    expect(b.take(1, t0 + NOTICE_EVERY_MS)).toEqual({ ok: false, notify: true });
  });

  it('never holds more than the burst, however long a user was away', () => {
    const b = new TokenBuckets({ perMinute: 60, burst: 2 });
    b.take(1, 0);
    const later = 24 * 3_600_000;
    expect([1, 2, 3].map(() => b.take(1, later).ok)).toEqual([true, true, false]);
  });

  it('drops idle buckets, so memory follows the active users only', () => {
    const b = new TokenBuckets({ perMinute: 60, burst: 5 }, 100);
    for (let id = 0; id < 100; id++) b.take(id, 0);
    expect(b.size).toBe(100);
    // a minute later every bucket is full again: the next new user sweeps them all
    b.take(1000, 60_000);
    expect(b.size).toBe(1);
    // busy buckets (limited, notice window open) stay
    const c = new TokenBuckets({ perMinute: 1, burst: 1 }, 10);
    for (let id = 0; id < 10; id++) {
      c.take(id, 0);
      c.take(id, 0);
    }
    c.take(99, 1000);
    expect(c.size).toBe(11);
  });
});

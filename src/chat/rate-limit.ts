/**
 * Per-user rate limit on incoming updates: a token bucket per Telegram user id, holding `burst`
 * and refilled at `perMinute`. It runs before the per-chat serializer, so an update over the limit
 * is dropped without touching the store or the engine: a flooding chat cannot fill telegraf's
 * polling batch with work and hold up the other chats. The flooder hears it once a minute at most
 * (a reply through the outbox), and a button pressed over the limit gets a toast so it stops spinning.
 */
import type { Context, MiddlewareFn } from 'telegraf';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Outbox } from '../telegram/outbox.js';

export interface RateLimit {
  /** tokens added per minute */
  perMinute: number;
  /** tokens a bucket holds: how many updates may come at once */
  burst: number;
}

/** How often a limited user is told to slow down. */
export const NOTICE_EVERY_MS = 60_000;

export const slowDownText = (perMinute: number): string =>
  `⏳ Slow down: I answer up to ${perMinute} messages a minute. The ones sent too fast were ignored; try again in a moment.`;

interface Bucket {
  tokens: number;
  at: number;
  /** when the user was last told to slow down */
  noticedAt?: number;
}

/**
 * Token buckets by key. A bucket that has refilled to full and has no recent notice is the same as
 * no bucket, so sweeps drop it: memory follows the users active in the last minute or so, not every
 * user ever seen.
 */
export class TokenBuckets {
  private readonly buckets = new Map<number, Bucket>();
  private readonly perMs: number;
  private nextSweep: number;

  constructor(
    private readonly limit: RateLimit,
    /** sweep when the map grows past this (doubling while most buckets are busy) */
    private readonly sweepAt = 10_000,
  ) {
    if (!(limit.perMinute > 0) || !(limit.burst >= 1)) throw new Error('rate limit: perMinute must be > 0 and burst ≥ 1');
    this.perMs = limit.perMinute / 60_000;
    this.nextSweep = sweepAt;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes a token for `key` at `now`: `ok` false when the bucket is empty; `notify` once per NOTICE_EVERY_MS while limited. */
  take(key: number, now: number): { ok: boolean; notify: boolean } {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.nextSweep) this.sweep(now);
      b = { tokens: this.limit.burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.limit.burst, b.tokens + Math.max(0, now - b.at) * this.perMs);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, notify: false };
    }
    const notify = b.noticedAt === undefined || now - b.noticedAt >= NOTICE_EVERY_MS;
    if (notify) b.noticedAt = now;
    return { ok: false, notify };
  }

  /** Drops buckets that are full again by `now` and whose notice window is over. */
  sweep(now: number): void {
    const fullAfterMs = this.limit.burst / this.perMs;
    for (const [k, b] of this.buckets) {
      const idle = now - b.at;
      if (idle >= fullAfterMs - b.tokens / this.perMs && (b.noticedAt === undefined || now - b.noticedAt >= NOTICE_EVERY_MS)) this.buckets.delete(k);
    }
    this.nextSweep = Math.max(this.sweepAt, this.buckets.size * 2);
  }
}

export function rateLimitPerUser(limit: RateLimit, outbox: Outbox, clock: Clock, log: Logger): MiddlewareFn<Context> {
  const buckets = new TokenBuckets(limit);
  const text = slowDownText(limit.perMinute);
  return (ctx, next) => {
    const userId = ctx.from?.id;
    if (userId === undefined) return next();
    const { ok, notify } = buckets.take(userId, clock.now());
    if (ok) return next();
    const q = ctx.callbackQuery;
    if (q) void outbox.answerCallback(q.id, '⏳ Slow down a little.').catch(() => undefined);
    const chatId = ctx.chat?.id ?? userId;
    if (notify && (!ctx.chat || ctx.chat.type === 'private')) {
      log.info({ user: userId }, 'rate limited: updates dropped');
      outbox.send(chatId, { text }, 'interactive').catch((err: unknown) => log.error({ err, chatId }, 'could not send the slow-down notice'));
    }
    return Promise.resolve();
  };
}

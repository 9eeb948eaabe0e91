/**
 * One update at a time per chat. telegraf runs a polling batch's updates concurrently, so without
 * this a double click could confirm an order twice; with it, the second click sees the first's result.
 */
import type { Context, MiddlewareFn } from 'telegraf';

export function serializePerChat(): MiddlewareFn<Context> {
  const tails = new Map<number, Promise<unknown>>();
  return (ctx, next) => {
    const key = ctx.chat?.id ?? ctx.from?.id;
    if (key === undefined) return next();
    const run = (tails.get(key) ?? Promise.resolve()).then(() => next());
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return run;
  };
}

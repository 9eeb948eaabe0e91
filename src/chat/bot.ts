/**
 * telegraf wiring: updates in, the flow engine in the middle, the outbox out. Private chats only;
 * a failure in one update is logged and answered, and never stops the bot.
 */
import type { Telegraf } from 'telegraf';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ChatMetrics } from '../metrics/metrics.js';
import type { UserService } from '../services/users.js';
import type { Outbox } from '../telegram/outbox.js';
import type { FlowEngine } from './engine.js';
import { rateLimitPerUser, type RateLimit } from './rate-limit.js';
import { serializePerChat } from './serializer.js';
import type { EngineReply } from './types.js';

const COMMAND_RE = /^\/([A-Za-z0-9_]{1,32})(?:@\w+)?(?:\s+([\s\S]*))?$/;
export const SORRY = '😵 Something went wrong on our side. Nothing was charged. Please try again, or /cancel to start over.';

export interface WireOptions {
  /** per-user limit on incoming updates; none when absent */
  rateLimit?: RateLimit;
  clock?: Clock;
  /** updates handled and reply latency */
  metrics?: ChatMetrics;
}

export function wireBot(bot: Telegraf, engine: FlowEngine, users: UserService, outbox: Outbox, log: Logger, opts: WireOptions = {}): void {
  // before the serializer: an update over the limit costs nothing and never queues behind its chat
  if (opts.rateLimit) bot.use(rateLimitPerUser(opts.rateLimit, outbox, opts.clock ?? systemClock, log));
  bot.use(serializePerChat());

  bot.use(async (ctx, next) => {
    if (ctx.chat && ctx.chat.type !== 'private') return; // groups could leak wallets and orders to others
    await next();
  });

  // Handlers queue their replies and return: telegraf waits for a whole polling batch, so a handler
  // that waited on the rate-limited outbox would hold up every other chat. Order within a chat is
  // kept by the outbox.
  const deliver = (chatId: number, reply: EngineReply, editId?: number): void => {
    const failed = (err: unknown) => log.error({ err, chatId }, 'could not deliver a reply');
    if (reply.edit && editId !== undefined) outbox.edit(chatId, editId, reply.edit).catch(failed);
    for (const m of reply.send) outbox.send(chatId, m, 'interactive').catch(failed);
  };

  bot.on('message', async (ctx) => {
    const started = Date.now();
    const { user } = await users.ensure(ctx.from, ctx.chat.id);
    const text = 'text' in ctx.message ? ctx.message.text : undefined;
    let reply: EngineReply;
    if (text === undefined) reply = { send: [{ text: 'I read text and buttons only. Send /help to see what I can do.' }] };
    else {
      const cmd = COMMAND_RE.exec(text.trim());
      reply = cmd ? await engine.onCommand(user, cmd[1]!.toLowerCase(), cmd[2] ?? '') : await engine.onText(user, text);
    }
    deliver(ctx.chat.id, reply);
    opts.metrics?.updateHandled('message', (Date.now() - started) / 1000);
    log.debug({ user: user.id, kind: 'message', ms: Date.now() - started }, 'update handled');
  });

  bot.on('callback_query', async (ctx) => {
    const started = Date.now();
    const q = ctx.callbackQuery;
    const chatId = q.message?.chat.id ?? q.from.id;
    const { user } = await users.ensure(q.from, chatId);
    const data = 'data' in q ? q.data : undefined;
    const reply: EngineReply = data ? await engine.onCallback(user, data) : { send: [], toast: 'This button does nothing.' };
    void outbox.answerCallback(q.id, reply.toast);
    deliver(chatId, reply, q.message?.message_id);
    opts.metrics?.updateHandled('callback', (Date.now() - started) / 1000);
  });

  bot.catch(async (err, ctx) => {
    log.error({ err, update: ctx.update.update_id, user: ctx.from?.id }, 'update failed');
    opts.metrics?.updateFailed();
    const chatId = ctx.chat?.id;
    if (chatId === undefined) return;
    if (ctx.callbackQuery) await outbox.answerCallback(ctx.callbackQuery.id);
    await outbox.send(chatId, { text: SORRY }, 'interactive').catch((e: unknown) => log.error({ err: e }, 'could not say sorry'));
  });
}

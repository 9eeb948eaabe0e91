/**
 * Every message to a user goes out through here: in order per chat, paced per chat (Telegram allows
 * a chat about one message a second, with short bursts) and in total (about 30 messages a second,
 * spread in fifths of a second so no burst crosses a window edge), replies ahead of notices, 429s
 * waited out for as long as `retry_after` says, and a 403 (the user blocked the bot) recorded
 * instead of retried.
 */
import PQueue from 'p-queue';
import type { Telegram } from 'telegraf';
import type { InlineKeyboardMarkup } from 'telegraf/types';
import type { Button, OutMessage } from '../chat/types.js';
import type { Logger } from '../log.js';

export type Priority = 'interactive' | 'notice';

interface TelegramErrorLike {
  code?: number;
  response?: { error_code?: number; description?: string; parameters?: { retry_after?: number } };
}

const MAX_429_RETRIES = 5;

export interface OutboxLimits {
  /** messages a second in total; default 30 */
  perSecond?: number;
  /** messages a second to one chat, after a burst; default 1 */
  perChatPerSecond?: number;
  /** messages one chat may get at once; default 3 */
  perChatBurst?: number;
}

/** Telegram counts when a message arrives, a little after we send it: keep that far from the edge. */
const PACE_MARGIN_MS = 50;

/** A chat's allowance: refills at the chat rate up to the burst. */
interface ChatBucket {
  tokens: number;
  at: number;
}

export function keyboard(buttons: Button[][] | undefined): { reply_markup?: InlineKeyboardMarkup } {
  if (!buttons?.length) return {};
  return { reply_markup: { inline_keyboard: buttons.map((r) => r.map((b) => ({ text: b.label, callback_data: b.data }))) } };
}

export class Outbox {
  private readonly queue: PQueue;
  private readonly chatTails = new Map<number, Promise<unknown>>();
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly chats = new Map<number, ChatBucket>();
  private readonly chatRate: number;
  private readonly chatBurst: number;
  private sends = 0;

  constructor(
    private readonly telegram: Telegram,
    private readonly log: Logger,
    private readonly onBlocked: (chatId: number) => Promise<void>,
    opts: OutboxLimits & { sleep?: (ms: number) => Promise<void> } = {},
  ) {
    const perSecond = opts.perSecond ?? 30;
    const fine = perSecond >= 5; // fifths of a second where the rate allows it
    this.queue = new PQueue({
      intervalCap: fine ? Math.floor(perSecond / 5) : Math.max(1, Math.floor(perSecond)),
      interval: fine ? 200 : 1000,
      carryoverIntervalCount: true,
    });
    this.chatRate = opts.perChatPerSecond ?? 1;
    this.chatBurst = opts.perChatBurst ?? 3;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Sends and resolves with the message id, or undefined when the chat cannot be reached. */
  send(chatId: number, msg: OutMessage, priority: Priority = 'notice'): Promise<number | undefined> {
    return this.inOrder(chatId, priority, async () => {
      const extra = { parse_mode: 'HTML' as const, ...keyboard(msg.buttons) };
      if (msg.photo) {
        return (await this.telegram.sendPhoto(chatId, { source: msg.photo, filename: 'payment-qr.png' }, { caption: msg.text, ...extra })).message_id;
      }
      return (await this.telegram.sendMessage(chatId, msg.text, { ...extra, link_preview_options: { is_disabled: true } })).message_id;
    });
  }

  /** Replaces a message's text and buttons; an unchanged message is not an error. */
  async edit(chatId: number, messageId: number, msg: OutMessage, priority: Priority = 'interactive'): Promise<void> {
    await this.inOrder(chatId, priority, async () => {
      await this.telegram.editMessageText(chatId, messageId, undefined, msg.text, { parse_mode: 'HTML', ...keyboard(msg.buttons) });
      return messageId;
    });
  }

  async answerCallback(id: string, text?: string): Promise<void> {
    await this.withRetries(() => this.telegram.answerCbQuery(id, text)).catch((err) =>
      this.log.warn({ err }, 'could not answer a callback query'),
    );
  }

  /** Resolves when everything queued so far is sent. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.chatTails.values()]);
    await this.queue.onIdle();
  }

  /** The chat's allowance, refilled up to `now`. */
  private bucket(chatId: number, now: number): ChatBucket {
    const b = this.chats.get(chatId) ?? { tokens: this.chatBurst, at: now };
    b.tokens = Math.min(this.chatBurst, b.tokens + ((now - b.at) / 1000) * this.chatRate);
    b.at = now;
    this.chats.set(chatId, b);
    return b;
  }

  /**
   * Waits until the chat may get another message. It runs in the chat's own chain, after the
   * previous message to the chat went out, so the allowance it reads is up to date.
   */
  private async paceChat(chatId: number): Promise<void> {
    const b = this.bucket(chatId, Date.now());
    if (b.tokens < 1) await this.sleep(Math.ceil(((1 - b.tokens) / this.chatRate) * 1000) + PACE_MARGIN_MS);
  }

  /** Spends the chat's allowance when the message really leaves (it may have waited for the global rate). */
  private spendChat(chatId: number): void {
    this.bucket(chatId, Date.now()).tokens -= 1;
    if (++this.sends % 1000 === 0) this.forgetIdleChats(Date.now());
  }

  /** A chat idle long enough to have refilled its whole burst needs no entry. */
  private forgetIdleChats(now: number): void {
    const full = (this.chatBurst / this.chatRate) * 1000;
    for (const [id, b] of this.chats) if (now - b.at > full && !this.chatTails.has(id)) this.chats.delete(id);
  }

  private inOrder(chatId: number, priority: Priority, call: () => Promise<number>): Promise<number | undefined> {
    const prev = this.chatTails.get(chatId) ?? Promise.resolve();
    const run = prev.then(async () => {
      await this.paceChat(chatId);
      const send = () => {
        this.spendChat(chatId);
        return this.withRetries(call);
      };
      return this.queue.add(send, { priority: priority === 'interactive' ? 1 : 0 }).catch(async (err: unknown) => {
        const e = err as TelegramErrorLike;
        if (e.response?.error_code === 403) {
          this.log.info({ chatId }, 'user blocked the bot; marking them unreachable');
          await this.onBlocked(chatId);
          return undefined;
        }
        if (e.response?.error_code === 400 && /not modified/.test(e.response.description ?? '')) return undefined;
        throw err;
      });
    });
    const tail = run.catch(() => undefined);
    this.chatTails.set(chatId, tail);
    void tail.then(() => {
      if (this.chatTails.get(chatId) === tail) this.chatTails.delete(chatId);
    });
    return run;
  }

  private async withRetries<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const retryAfter = (err as TelegramErrorLike).response?.parameters?.retry_after;
        if ((err as TelegramErrorLike).response?.error_code !== 429 || retryAfter === undefined || attempt >= MAX_429_RETRIES) throw err;
        this.log.warn({ retryAfter }, 'Telegram asked us to slow down');
        await this.sleep(retryAfter * 1000);
      }
    }
  }
}

/**
 * Every message to a user goes out through here: in order per chat, within a global rate
 * (Telegram allows about 30 messages/s in total), replies ahead of notices, 429s waited out for as
 * long as `retry_after` says, and a 403 (the user blocked the bot) recorded instead of retried.
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

export function keyboard(buttons: Button[][] | undefined): { reply_markup?: InlineKeyboardMarkup } {
  if (!buttons?.length) return {};
  return { reply_markup: { inline_keyboard: buttons.map((r) => r.map((b) => ({ text: b.label, callback_data: b.data }))) } };
}

export class Outbox {
  private readonly queue: PQueue;
  private readonly chatTails = new Map<number, Promise<unknown>>();
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly telegram: Telegram,
    private readonly log: Logger,
    private readonly onBlocked: (chatId: number) => Promise<void>,
    opts: { perSecond?: number; sleep?: (ms: number) => Promise<void> } = {},
  ) {
    this.queue = new PQueue({ intervalCap: opts.perSecond ?? 30, interval: 1000, carryoverIntervalCount: true });
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

  private inOrder(chatId: number, priority: Priority, call: () => Promise<number>): Promise<number | undefined> {
    const prev = this.chatTails.get(chatId) ?? Promise.resolve();
    const run = prev.then(() =>
      this.queue.add(() => this.withRetries(call), { priority: priority === 'interactive' ? 1 : 0 }).catch(async (err: unknown) => {
        const e = err as TelegramErrorLike;
        if (e.response?.error_code === 403) {
          this.log.info({ chatId }, 'user blocked the bot; marking them unreachable');
          await this.onBlocked(chatId);
          return undefined;
        }
        if (e.response?.error_code === 400 && /not modified/.test(e.response.description ?? '')) return undefined;
        throw err;
      }),
    );
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

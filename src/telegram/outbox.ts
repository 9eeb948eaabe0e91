/**
 * Every message to a user goes out through here: in order per chat, paced per chat (Telegram allows
 * a chat about one message a second, with short bursts) and in total (about 30 messages a second,
 * spread in fifths of a second so no burst crosses a window edge), replies ahead of notices, 429s
 * waited out for as long as `retry_after` says, and a 403 (the user blocked the bot) recorded
 * instead of retried.
 *
 * Notices that must survive a restart (reminders) are kept in a NoticeQueue journal and fed into the
 * same path by a pump that holds only about two seconds' worth of them at a time, one per chat.
 */
import PQueue from 'p-queue';
import type { Telegram } from 'telegraf';
import type { InlineKeyboardMarkup } from 'telegraf/types';
import { qrPng } from '../chat/qr.js';
import type { Button, OutMessage } from '../chat/types.js';
import type { Logger } from '../log.js';
import { NoticeQueue, type Notice } from './notice-queue.js';

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

export interface OutboxOptions extends OutboxLimits {
  sleep?: (ms: number) => Promise<void>;
  /** the reminders' journal (a file path, or a queue); without one, `notice` refuses */
  notices?: string | NoticeQueue;
  /** the first wait after a notice failed for a reason that may pass (network, 429s); it doubles up to a minute */
  noticeBackoffMs?: number;
  /** hears each notice Telegram accepted, by its id (metrics) */
  onNoticeSent?: (id: string) => void;
}

const MAX_BACKOFF_MS = 60_000;

export function keyboard(buttons: Button[][] | undefined): { reply_markup?: InlineKeyboardMarkup } {
  if (!buttons?.length) return {};
  return { reply_markup: { inline_keyboard: buttons.map((r) => r.map((b) => ('url' in b ? { text: b.label, url: b.url } : { text: b.label, callback_data: b.data }))) } };
}

export class Outbox {
  private readonly queue: PQueue;
  private readonly chatTails = new Map<number, Promise<unknown>>();
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly chats = new Map<number, ChatBucket>();
  private readonly chatRate: number;
  private readonly chatBurst: number;
  private sends = 0;
  /** send/edit calls not settled yet: what drain waits for */
  private readonly sending = new Set<Promise<unknown>>();
  private readonly noticeQueue: NoticeQueue | undefined;
  /**
   * Each chat's pending notices, oldest first. One at a time is in flight, which keeps their order;
   * a chat listed here is either in `ready` or has its first notice in flight.
   */
  private readonly chatNotices = new Map<number, string[]>();
  /** chats with a notice to send and none in flight, in the order they became ready */
  private ready: number[] = [];
  private readyHead = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxInFlight: number;
  private pumping = false;
  private readonly backoffMs: number;
  private readonly onNoticeSent: ((id: string) => void) | undefined;
  private failures = 0;
  private paused = false;
  private resume: NodeJS.Timeout | undefined;

  constructor(
    private readonly telegram: Telegram,
    private readonly log: Logger,
    private readonly onBlocked: (chatId: number) => Promise<void>,
    opts: OutboxOptions = {},
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
    this.noticeQueue = typeof opts.notices === 'string' ? new NoticeQueue(opts.notices) : opts.notices;
    // enough to keep the global rate busy for two seconds, and no more: the rest waits on disk, and
    // an interactive reply never queues behind more than that
    this.maxInFlight = Math.max(1, Math.ceil(2 * perSecond));
    this.backoffMs = opts.noticeBackoffMs ?? 1000;
    this.onNoticeSent = opts.onNoticeSent;
  }

  /** Sends and resolves with the message id, or undefined when the chat cannot be reached. */
  send(chatId: number, msg: OutMessage, priority: Priority = 'notice'): Promise<number | undefined> {
    return this.tracked(this.post(chatId, msg, priority));
  }

  /** Replays the notices' journal and starts sending what is pending. */
  async open(): Promise<void> {
    if (!this.noticeQueue) return;
    await this.noticeQueue.open();
    for (const n of this.noticeQueue.list()) this.enqueueNotice(n.chatId, n.id);
    this.pumping = true;
    this.pump();
  }

  /**
   * Queues a notice that survives a restart; resolves once it is in the journal, true when newly
   * queued, false when the same id is pending or was sent or dropped within the retention.
   */
  async notice(n: Notice): Promise<boolean> {
    if (!this.noticeQueue) throw new Error('this outbox has no notice queue');
    if (!(await this.noticeQueue.add(n))) return false;
    this.enqueueNotice(n.chatId, n.id);
    this.pump();
    return true;
  }

  /** Notices not sent yet, in flight included. */
  pendingNotices(): number {
    return this.noticeQueue?.size ?? 0;
  }

  /** Sends and edits not settled yet (replies, a job's messages). */
  pendingSends(): number {
    return this.sending.size;
  }

  /**
   * Stops feeding notices in, waits for those in flight, and closes the journal: the others stay in
   * it for the next start. Sends and edits go on working.
   */
  async stopNotices(): Promise<void> {
    this.pumping = false;
    clearTimeout(this.resume);
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    await this.noticeQueue?.close();
  }

  private post(chatId: number, msg: OutMessage, priority: Priority): Promise<number | undefined> {
    return this.inOrder(chatId, priority, async () => {
      const extra = { parse_mode: 'HTML' as const, ...keyboard(msg.buttons) };
      if (msg.document) {
        const file = { source: msg.document.bytes, filename: msg.document.filename };
        return (await this.telegram.sendDocument(chatId, file, { caption: msg.text, ...extra })).message_id;
      }
      if (msg.photo) {
        return (await this.telegram.sendPhoto(chatId, { source: msg.photo, filename: 'payment-qr.png' }, { caption: msg.text, ...extra })).message_id;
      }
      return (await this.telegram.sendMessage(chatId, msg.text, { ...extra, link_preview_options: { is_disabled: true } })).message_id;
    });
  }

  /** Replaces a message's text and buttons; an unchanged message is not an error. */
  async edit(chatId: number, messageId: number, msg: OutMessage, priority: Priority = 'interactive'): Promise<void> {
    await this.tracked(
      this.inOrder(chatId, priority, async () => {
        await this.telegram.editMessageText(chatId, messageId, undefined, msg.text, { parse_mode: 'HTML', ...keyboard(msg.buttons) });
        return messageId;
      }),
    );
  }

  async answerCallback(id: string, text?: string): Promise<void> {
    await this.withRetries(() => this.telegram.answerCbQuery(id, text)).catch((err) =>
      this.log.warn({ err }, 'could not answer a callback query'),
    );
  }

  /**
   * Resolves when every send and edit queued so far is done (and those queued meanwhile). Notices
   * are not waited for: the pump would keep it busy for as long as any are pending (stopNotices).
   */
  async drain(): Promise<void> {
    while (this.sending.size) await Promise.allSettled([...this.sending]);
  }

  private tracked<T>(p: Promise<T>): Promise<T> {
    this.sending.add(p);
    void p.then(
      () => this.sending.delete(p),
      () => this.sending.delete(p),
    );
    return p;
  }

  private enqueueNotice(chatId: number, id: string): void {
    const ids = this.chatNotices.get(chatId);
    if (ids) {
      ids.push(id);
      return; // already ready, or it becomes ready again when its notice in flight is done
    }
    this.chatNotices.set(chatId, [id]);
    this.ready.push(chatId);
  }

  /** Moves notices into the send path while there is room, one chat at a time in turn. */
  private pump(): void {
    if (!this.pumping || this.paused) return;
    while (this.inFlight.size < this.maxInFlight && this.readyHead < this.ready.length) {
      const chatId = this.ready[this.readyHead++]!;
      const ids = this.chatNotices.get(chatId);
      if (!ids) continue;
      const flight: Promise<void> = this.deliver(chatId, ids)
        .catch((err: unknown) => this.log.error({ err, chatId }, 'notice pump failed'))
        .finally(() => {
          this.inFlight.delete(flight);
          if (ids.length) this.ready.push(chatId);
          else this.chatNotices.delete(chatId);
          this.pump();
        });
      this.inFlight.add(flight);
    }
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
  }

  /** Sends the chat's oldest notice and records how it went; a failure that may pass leaves it first in line. */
  private async deliver(chatId: number, ids: string[]): Promise<void> {
    const q = this.noticeQueue!;
    const id = ids[0]!;
    const n = q.get(id);
    if (!n) {
      ids.shift();
      return;
    }
    let photo: Buffer | undefined;
    try {
      if (n.qr !== undefined) photo = await qrPng(n.qr);
    } catch (err) {
      this.log.error({ err, chatId, notice: id }, 'dropping a notice whose QR code cannot be drawn');
      await this.endNotice(ids, () => q.dropped(id, `qr: ${(err as Error).message}`));
      return;
    }
    let messageId: number | undefined;
    try {
      messageId = await this.post(chatId, { text: n.text, ...(n.buttons ? { buttons: n.buttons } : {}), ...(photo ? { photo } : {}) }, 'notice');
    } catch (err) {
      const e = err as TelegramErrorLike;
      if (e.response?.error_code === 400) {
        this.log.error({ err, chatId, notice: id }, 'Telegram refused a notice; dropping it');
        await this.endNotice(ids, () => q.dropped(id, e.response?.description ?? 'bad request'));
        return;
      }
      this.log.warn({ err, chatId, notice: id }, 'could not send a notice; it stays queued');
      this.pauseNotices();
      return;
    }
    this.failures = 0;
    if (messageId !== undefined) {
      this.onNoticeSent?.(id);
      await this.endNotice(ids, () => q.sent(id));
      return;
    }
    // 403: onBlocked ran once already; the chat's other notices would only be refused the same way
    await Promise.all(ids.splice(0).map((x) => q.dropped(x, 'blocked').catch((err: unknown) => this.log.error({ err, notice: x }, 'could not record a dropped notice'))));
  }

  /**
   * Takes the notice off its chat's line for good. A journal that fails to record that is logged,
   * not retried: this run will not send it again, though the next might.
   */
  private async endNotice(ids: string[], record: () => Promise<void>): Promise<void> {
    const id = ids.shift();
    await record().catch((err: unknown) => this.log.error({ err, notice: id }, 'could not record a notice in the journal'));
  }

  /** A failure that may pass (network, 429s that would not end) pauses all notices, doubling the pause each time. */
  private pauseNotices(): void {
    if (this.paused) return; // the notices in flight together count as one failure
    this.paused = true;
    const ms = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2 ** this.failures++);
    this.resume = setTimeout(() => {
      this.paused = false;
      this.pump();
    }, ms);
    this.resume.unref();
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

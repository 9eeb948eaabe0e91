/**
 * A small Telegram Bot API emulator on node:http (loopback). A real telegraf bot polls it over HTTP,
 * while EmulatedUser objects (user.ts) play the users in-process. See README.md in this folder.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTick } from 'node:timers/promises';
import { EmulatedUser } from './user.js';
import type { EmuEvent, EmuEventType, EmuMessage, EmulatorOptions, EmuUserInfo, InjectedError, InlineButton, InlineKeyboardMarkup } from './types.js';

type Params = Record<string, unknown>;
type Json = Record<string, unknown>;
interface Upload { filename: string; bytes: Buffer }
interface FileInfo { file_id: string; size: number; width: number; height: number }
interface Stored { m: EmuMessage; file?: FileInfo; deleted: boolean; editDate?: number }

/** @internal Per-chat state, shared with EmulatedUser. */
export interface ChatState {
  id: number;
  user: EmuUserInfo & { first_name: string };
  nextMessageId: number; // one counter for user and bot messages, as in Telegram
  messages: Map<number, Stored>;
  userMessageIds: Set<number>;
  events: EmuEvent[];
  listeners: Set<(ev: EmuEvent) => void>;
  blocked: boolean;
}

/** A Bot API error; handlers throw it and it is answered as {ok:false, error_code, description}. */
export class ApiError extends Error {
  constructor(readonly code: number, readonly description: string, readonly retryAfter?: number) {
    super(description);
  }
}
const bad = (what: string): ApiError => new ApiError(400, `Bad Request: ${what}`);
const NOT_MODIFIED = 'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';
const CONFLICT = 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running';
const HTML_TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'a', 'code', 'pre', 'span', 'tg-spoiler', 'tg-emoji', 'blockquote']);

const now = (): number => Math.floor(Date.now() / 1000);
const num = (v: unknown): number | undefined => (v === undefined || v === null || v === '' ? undefined : Number(v));
const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
const bool = (v: unknown): boolean => v === true || v === 'true' || v === '1';
const isUpload = (v: unknown): v is Upload => typeof v === 'object' && v !== null && Buffer.isBuffer((v as Upload).bytes);
const compact = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
function json(v: unknown, what: string): unknown {
  if (typeof v !== 'string') return v;
  try { return JSON.parse(v); } catch { throw bad(`can't parse ${what} JSON object`); }
}
/** Width/height from a PNG header; 512×512 for anything else. */
function imageSize(b: Buffer): { width: number; height: number } {
  const png = b.length >= 24 && b.readUInt32BE(0) === 0x89504e47;
  return png ? { width: b.readUInt32BE(16), height: b.readUInt32BE(20) } : { width: 512, height: 512 };
}

class Bucket {
  private tokens: number;
  private last = Date.now();
  constructor(private readonly rate: number, private readonly size: number) { this.tokens = size; }
  /** Milliseconds until a token is available (0 = now). */
  wait(at: number): number {
    this.tokens = Math.min(this.size, this.tokens + ((at - this.last) / 1000) * this.rate);
    this.last = at;
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.rate) * 1000;
  }
  take(): void { this.tokens -= 1; }
}

export class BotApiEmulator extends EventEmitter {
  readonly token: string;
  readonly botUsername: string;
  private readonly server: Server;
  private readonly botId: number;
  private root = '';
  private stopped = false;
  private seq = 0;
  private nextUpdateId = 1;
  private nextCallbackId = 1;
  private pending: Json[] = [];
  private allowedUpdates: Set<string> | undefined;
  private poll: { res: ServerResponse; limit: number; timer: NodeJS.Timeout } | undefined;
  private readonly chats = new Map<number, ChatState>();
  private readonly users = new Map<number, EmulatedUser>();
  private readonly callbacks = new Map<string, { chatId: number; answered: boolean }>();
  private faults: { method: string; err: InjectedError; chatId?: number; times: number }[] = [];
  private myCommands: { command: string; description: string }[] = [];
  private readonly calls: Record<string, number> = {};
  private rejected429 = 0;
  private updatesDelivered = 0;
  private deliveredUpTo = 0;
  private readonly limits: EmulatorOptions['limits'];
  private readonly globalBucket: Bucket | undefined;
  private readonly chatBuckets = new Map<number, Bucket>();
  private readonly handlers: Record<string, (p: Params) => unknown>;
  private readonly methodNames = new Map<string, string>(); // lower-case → canonical

  private constructor(opts: EmulatorOptions) {
    super();
    this.setMaxListeners(0);
    this.token = opts.token ?? '123456:TEST-TOKEN';
    this.botUsername = opts.botUsername ?? 'jukebox_bot';
    this.botId = Number(this.token.split(':')[0]) || 123456;
    this.limits = opts.limits;
    if (this.limits) this.globalBucket = new Bucket(this.limits.globalPerSecond, Math.max(1, this.limits.globalPerSecond));
    this.handlers = this.buildHandlers();
    for (const name of [...Object.keys(this.handlers), 'getUpdates']) this.methodNames.set(name.toLowerCase(), name);
    this.server = createServer((req, res) => void this.onRequest(req, res));
  }

  static async start(opts: EmulatorOptions = {}): Promise<BotApiEmulator> {
    const emu = new BotApiEmulator(opts);
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      emu.server.once('error', reject).listen(opts.port ?? 0, host, () => resolve());
    });
    const { port } = emu.server.address() as AddressInfo;
    emu.root = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    return emu;
  }

  /** 'http://127.0.0.1:PORT/' — pass as telegraf's `telegram.apiRoot`. */
  get apiRoot(): string { return this.root; }

  /** Ends a waiting long poll with [], then closes the server and every connection. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.finishPoll();
    this.emit('stopped');
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await nextTick(); // let the final poll answer flush
    this.server.closeAllConnections();
    await closed;
  }

  get isStopped(): boolean { return this.stopped; }

  /** The private chat (chat id == user id) with this user; the same object for the same id. */
  user(u: EmuUserInfo): EmulatedUser {
    let user = this.users.get(u.id);
    if (!user) {
      const info = { ...u, first_name: u.first_name ?? `User${u.id}` };
      this.chats.set(u.id, {
        id: u.id, user: info, nextMessageId: 1, messages: new Map(), userMessageIds: new Set(),
        events: [], listeners: new Set(), blocked: false,
      });
      user = new EmulatedUser(this, u.id);
      this.users.set(u.id, user);
    }
    return user;
  }

  // ---- fault injection --------------------------------------------------------------------------

  /** The next `times` (default 1) calls of `method` (optionally only for `chatId`) fail with `err`. */
  failNext(method: string, err: InjectedError, opts: { chatId?: number; times?: number } = {}): void {
    this.faults.push({ method: method.toLowerCase(), err, chatId: opts.chatId, times: opts.times ?? 1 });
  }

  /** While blocked, every send/edit to the chat gets 403 'Forbidden: bot was blocked by the user'. */
  blockBot(chatId: number, blocked = true): void {
    const chat = this.chats.get(chatId);
    if (chat) chat.blocked = blocked;
  }

  // ---- inspection -------------------------------------------------------------------------------

  /** The bot's messages in the chat, current state, without deleted ones. */
  messages(chatId: number): EmuMessage[] {
    const chat = this.chats.get(chatId);
    return chat ? [...chat.messages.values()].filter((s) => !s.deleted).map((s) => ({ ...s.m })) : [];
  }

  /** The commands of the last setMyCommands. */
  commands(): { command: string; description: string }[] { return this.myCommands.map((c) => ({ ...c })); }

  stats(): { calls: Record<string, number>; rejected429: number; updatesDelivered: number } {
    return { calls: { ...this.calls }, rejected429: this.rejected429, updatesDelivered: this.updatesDelivered };
  }

  // ---- used by EmulatedUser -----------------------------------------------------------------------

  /** @internal */
  chatState(chatId: number): ChatState {
    const chat = this.chats.get(chatId);
    if (!chat) throw new Error(`emulator: no chat ${chatId}; create it with emu.user({ id })`);
    return chat;
  }

  /** @internal The global seq of the last event. */
  currentSeq(): number { return this.seq; }

  /** @internal Queue a message update from the chat's user. */
  injectText(chatId: number, text: string): void {
    const chat = this.chatState(chatId);
    const message_id = chat.nextMessageId++;
    chat.userMessageIds.add(message_id);
    // Telegram keeps '/cmd@bot_username' in the text; the entity covers it and telegraf strips it.
    const cmd = /^\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?/.exec(text);
    const entities = cmd ? [{ offset: 0, length: cmd[0].length, type: 'bot_command' }] : undefined;
    this.enqueue('message', compact({ message_id, from: this.from(chat), chat: this.chatObj(chat), date: now(), text, entities }));
  }

  /** @internal Queue a callback_query update; returns its id. */
  injectCallback(chatId: number, messageId: number, data: string): string {
    const chat = this.chatState(chatId);
    const id = String(this.nextCallbackId++);
    this.callbacks.set(id, { chatId, answered: false });
    const s = chat.messages.get(messageId);
    const message = s ? this.apiMessage(chat, s) : { message_id: messageId, chat: this.chatObj(chat), date: 0 };
    this.enqueue('callback_query', { id, from: this.from(chat), message, chat_instance: `ci${chatId}`, data });
    return id;
  }

  // ---- HTTP -------------------------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const m = /^\/bot([^/]+)\/([A-Za-z]+)\/?$/.exec(url.pathname);
      if (!m) throw new ApiError(404, 'Not Found');
      if (m[1] !== this.token) throw new ApiError(401, 'Unauthorized');
      const method = this.methodNames.get(m[2]!.toLowerCase());
      this.calls[method ?? m[2]!] = (this.calls[method ?? m[2]!] ?? 0) + 1;
      const params = await this.readParams(req, url);
      if (!method) throw new ApiError(404, 'Not Found');
      this.injectFault(method, params);
      if (method === 'getUpdates') return await this.getUpdates(params, req, res);
      if (/^(send|edit)/.test(method)) this.throttleAndBlock(method, params);
      this.write(res, 200, { ok: true, result: this.handlers[method]!(params) });
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, `Internal Server Error: ${(e as Error).message}`);
      if (err.code === 429) this.rejected429++;
      const parameters = err.retryAfter === undefined ? undefined : { retry_after: err.retryAfter };
      this.write(res, err.code, compact({ ok: false, error_code: err.code, description: err.description, parameters }));
    }
  }

  private write(res: ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  /** Query string + JSON, urlencoded or multipart body. Multipart files become {filename, bytes}. */
  private async readParams(req: IncomingMessage, url: URL): Promise<Params> {
    const params: Params = Object.fromEntries(url.searchParams);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const ct = req.headers['content-type'] ?? '';
    if (body.length === 0) return params;
    try {
      if (ct.startsWith('application/json')) return { ...params, ...(JSON.parse(body.toString('utf8')) as Params) };
      if (ct.startsWith('application/x-www-form-urlencoded')) return { ...params, ...Object.fromEntries(new URLSearchParams(body.toString('utf8'))) };
      if (ct.startsWith('multipart/form-data')) {
        const form = await new Response(body, { headers: { 'content-type': ct } }).formData();
        for (const [k, v] of form) {
          params[k] = typeof v === 'string' ? v : { filename: v.name, bytes: Buffer.from(await v.arrayBuffer()) };
        }
      }
    } catch {
      throw bad("can't parse request body");
    }
    return params;
  }

  private injectFault(method: string, p: Params): void {
    const chatId = num(p.chat_id);
    const f = this.faults.find((x) => x.method === method.toLowerCase() && (x.chatId === undefined || x.chatId === chatId));
    if (!f) return;
    if (--f.times <= 0) this.faults = this.faults.filter((x) => x !== f);
    throw new ApiError(f.err.error_code, f.err.description, f.err.retry_after);
  }

  private throttleAndBlock(method: string, p: Params): void {
    const chatId = num(p.chat_id);
    const l = this.limits;
    if (l && this.globalBucket && method !== 'sendChatAction') {
      let chatBucket = this.chatBuckets.get(chatId ?? NaN);
      if (!chatBucket && chatId !== undefined) this.chatBuckets.set(chatId, (chatBucket = new Bucket(l.perChatPerSecond, l.burst ?? Math.max(1, l.perChatPerSecond))));
      const at = Date.now();
      const wait = Math.max(this.globalBucket.wait(at), chatBucket?.wait(at) ?? 0);
      if (wait > 0) {
        const s = Math.max(1, Math.ceil(wait / 1000));
        throw new ApiError(429, `Too Many Requests: retry after ${s}`, s);
      }
      this.globalBucket.take();
      chatBucket?.take();
    }
    if (chatId !== undefined && this.chats.get(chatId)?.blocked) throw new ApiError(403, 'Forbidden: bot was blocked by the user');
  }

  // ---- updates ----------------------------------------------------------------------------------

  private enqueue(type: string, payload: Json): void {
    if (this.allowedUpdates && !this.allowedUpdates.has(type)) return; // as Telegram: not even stored
    this.pending.push({ update_id: this.nextUpdateId++, [type]: payload });
    this.finishPoll();
  }

  private async getUpdates(p: Params, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.poll) {
      await nextTick(); // a poll whose client just aborted (telegraf's stop()) closes first
      if (this.poll) throw new ApiError(409, CONFLICT);
    }
    const offset = num(p.offset) ?? 0;
    if (offset > 0) this.pending = this.pending.filter((u) => (u.update_id as number) >= offset);
    else if (offset < 0) this.pending = this.pending.slice(offset);
    const limit = Math.min(100, Math.max(1, num(p.limit) ?? 100));
    const allowed = json(p.allowed_updates, 'allowed_updates');
    if (Array.isArray(allowed)) this.allowedUpdates = allowed.length ? new Set(allowed.map(String)) : undefined;
    const timeout = Math.max(0, num(p.timeout) ?? 0);
    if (this.pending.length > 0 || timeout === 0 || this.stopped || req.socket.destroyed) return this.deliver(res, limit);
    const timer = setTimeout(() => this.finishPoll(), timeout * 1000);
    this.poll = { res, limit, timer };
    res.on('close', () => {
      if (this.poll?.res !== res) return;
      clearTimeout(timer);
      this.poll = undefined;
    });
    this.emit('longpoll');
  }

  /** Answers the waiting long poll, if any, with what is pending. */
  private finishPoll(): void {
    const poll = this.poll;
    if (!poll) return;
    this.poll = undefined;
    clearTimeout(poll.timer);
    this.deliver(poll.res, poll.limit);
  }

  private deliver(res: ServerResponse, limit: number): void {
    const batch = this.pending.slice(0, limit);
    const fresh = batch.filter((u) => (u.update_id as number) > this.deliveredUpTo);
    this.updatesDelivered += fresh.length;
    this.deliveredUpTo = (fresh.at(-1)?.update_id as number | undefined) ?? this.deliveredUpTo;
    this.write(res, 200, { ok: true, result: batch });
  }

  // ---- Bot API methods --------------------------------------------------------------------------

  private buildHandlers(): Record<string, (p: Params) => unknown> {
    const botUser = { id: this.botId, is_bot: true, first_name: 'Jukebox', username: this.botUsername };
    return {
      getMe: () => ({ ...botUser, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false, can_connect_to_business: false, has_main_web_app: false }),
      deleteWebhook: (p) => {
        if (bool(p.drop_pending_updates)) this.pending = [];
        return true;
      },
      setWebhook: () => true,
      getWebhookInfo: () => ({ url: '', has_custom_certificate: false, pending_update_count: this.pending.length }),
      sendMessage: (p) => this.post(p, { kind: 'text', text: this.content(p.text, p.parse_mode, 'text') }),
      sendPhoto: (p) => this.post(p, { kind: 'photo', caption: this.content(p.caption, p.parse_mode, 'caption') }, p.photo),
      sendDocument: (p) => this.post(p, { kind: 'document', caption: this.content(p.caption, p.parse_mode, 'caption') }, p.document),
      editMessageText: (p) => this.edit(p, (m) => {
        const text = this.content(p.text, p.parse_mode, 'text');
        if (m.kind !== 'text') throw bad('there is no text in the message to edit');
        return { text, parse_mode: str(p.parse_mode), reply_markup: this.markup(p.reply_markup) };
      }),
      editMessageCaption: (p) => this.edit(p, (m) => {
        const caption = this.content(p.caption, p.parse_mode, 'caption');
        if (m.kind === 'text') throw bad('there is no caption in the message to edit');
        return { caption, parse_mode: str(p.parse_mode), reply_markup: this.markup(p.reply_markup) };
      }),
      editMessageReplyMarkup: (p) => this.edit(p, () => ({ reply_markup: this.markup(p.reply_markup) })),
      deleteMessage: (p) => {
        const chat = this.chatOf(p);
        const id = num(p.message_id) ?? -1;
        const s = chat.messages.get(id);
        if (s && !s.deleted) {
          s.deleted = true;
          this.record(chat, 'delete', { message: { ...s.m } });
        } else if (!chat.userMessageIds.delete(id)) throw bad('message to delete not found');
        return true;
      },
      answerCallbackQuery: (p) => {
        const id = str(p.callback_query_id) ?? '';
        const q = this.callbacks.get(id);
        if (!q || q.answered) throw bad('query is too old and response timeout expired or query ID is invalid');
        const text = str(p.text);
        if (text !== undefined && text.length > 200) throw bad('MESSAGE_TOO_LONG');
        q.answered = true;
        const callbackAnswer = compact({ callback_query_id: id, text, show_alert: p.show_alert === undefined ? undefined : bool(p.show_alert) });
        this.record(this.chatState(q.chatId), 'callback_answer', { callbackAnswer });
        return true;
      },
      setMyCommands: (p) => {
        const list = json(p.commands, 'commands');
        if (!Array.isArray(list) || list.length > 100) throw bad('commands must be an array of at most 100 BotCommand');
        this.myCommands = list.map((c: { command?: unknown; description?: unknown }) => {
          const command = str(c.command) ?? '';
          const description = (str(c.description) ?? '').trim();
          if (!/^[a-z0-9_]{1,32}$/.test(command)) throw bad('BOT_COMMAND_INVALID');
          if (description.length < 1 || description.length > 256) throw bad('BOT_COMMAND_DESCRIPTION_INVALID');
          return { command, description };
        });
        return true;
      },
      getMyCommands: () => this.commands(),
      deleteMyCommands: () => ((this.myCommands = []), true),
      sendChatAction: (p) => (this.record(this.chatOf(p), 'chat_action', { action: str(p.action) }), true),
    };
  }

  private chatOf(p: Params): ChatState {
    const chat = this.chats.get(num(p.chat_id) ?? NaN);
    if (!chat) throw bad('chat not found');
    return chat;
  }

  /**
   * Text (1–4096) or caption (0–1024): trimmed, length in UTF-16 units (Telegram counts after entity
   * parsing; close enough), plus a rough parse_mode HTML check: only Telegram's tags may follow '<'.
   */
  private content(v: unknown, parseMode: unknown, kind: 'text' | 'caption'): string {
    const s = (str(v) ?? '').trim();
    if (kind === 'text' && !s) throw bad('message text is empty');
    if (s.length > (kind === 'text' ? 4096 : 1024)) throw bad(kind === 'text' ? 'message is too long' : 'message caption is too long');
    for (const m of str(parseMode)?.toLowerCase() === 'html' ? s.matchAll(/<(\/?)([A-Za-z0-9-]*)/g) : []) {
      const tag = m[2]!.toLowerCase();
      const at = Buffer.byteLength(s.slice(0, m.index));
      if (!HTML_TAGS.has(tag)) throw bad(`can't parse entities: Unsupported ${m[1] ? 'end' : 'start'} tag "${tag}" at byte offset ${at}`);
    }
    return s;
  }

  /** Validates an inline keyboard and keeps {text, callback_data, url}; other keyboards are ignored. */
  private markup(v: unknown): InlineKeyboardMarkup | undefined {
    const raw = json(v, 'reply keyboard markup') as { inline_keyboard?: unknown } | undefined;
    if (!raw || typeof raw !== 'object' || !Array.isArray(raw.inline_keyboard)) return undefined;
    const button = (b: Record<string, unknown>): InlineButton => {
      const { text, callback_data, url } = b;
      if (typeof text !== 'string' || text === '') throw bad('text buttons are unallowed in the inline keyboard');
      if (callback_data !== undefined) {
        if (typeof callback_data !== 'string' || callback_data === '' || Buffer.byteLength(callback_data) > 64) throw bad('BUTTON_DATA_INVALID');
      } else if (!Object.keys(b).some((k) => k !== 'text' && k !== 'hide')) {
        throw bad('text buttons are unallowed in the inline keyboard');
      }
      return compact({ text, callback_data, url: str(url) });
    };
    return { inline_keyboard: raw.inline_keyboard.map((row: Record<string, unknown>[]) => row.map(button)) };
  }

  private post(p: Params, fields: Partial<EmuMessage> & { kind: EmuMessage['kind'] }, media?: unknown): Json {
    const chat = this.chatOf(p);
    const reply_markup = this.markup(p.reply_markup);
    let file: FileInfo | undefined;
    if (fields.kind !== 'text') {
      if (!isUpload(media) && (typeof media !== 'string' || media === '')) throw bad(`there is no ${fields.kind} in the request`);
      const bytes = isUpload(media) ? media.bytes : undefined;
      const id = chat.nextMessageId;
      file = { file_id: bytes ? `emu-${fields.kind}-${chat.id}-${id}` : (media as string), size: bytes?.length ?? 0, ...imageSize(bytes ?? Buffer.alloc(0)) };
      if (fields.kind === 'photo') fields.photo = bytes;
      else if (isUpload(media)) fields.document = { filename: media.filename, bytes: media.bytes };
    }
    const m: EmuMessage = compact({
      message_id: chat.nextMessageId++, chat_id: chat.id, date: now(), ...fields, caption: fields.caption || undefined, reply_markup, parse_mode: str(p.parse_mode), edits: 0,
    });
    const stored: Stored = { m, file, deleted: false };
    chat.messages.set(m.message_id, stored);
    this.record(chat, 'send', { message: { ...m } });
    return this.apiMessage(chat, stored);
  }

  private edit(p: Params, change: (m: EmuMessage) => Partial<EmuMessage>): Json {
    const chat = this.chatOf(p);
    const s = chat.messages.get(num(p.message_id) ?? -1);
    if (!s || s.deleted) throw bad('message to edit not found');
    const next: EmuMessage = compact({ ...s.m, ...change(s.m) });
    if (next.caption === '') delete next.caption;
    const content = (m: EmuMessage): string => JSON.stringify([m.text, m.caption, m.reply_markup]);
    if (content(next) === content(s.m)) throw bad(NOT_MODIFIED);
    next.edits++;
    [s.m, s.editDate] = [next, now()];
    this.record(chat, 'edit', { message: { ...next } });
    return this.apiMessage(chat, s);
  }

  private record(chat: ChatState, type: EmuEventType, extra: Partial<EmuEvent>): void {
    const ev: EmuEvent = { seq: ++this.seq, chatId: chat.id, type, ...extra };
    chat.events.push(ev);
    for (const listener of [...chat.listeners]) listener(ev);
    this.emit('event', ev);
  }

  private chatObj(chat: ChatState): Json {
    return compact({ id: chat.id, type: 'private', first_name: chat.user.first_name, username: chat.user.username });
  }

  private from(chat: ChatState): Json {
    const { id, first_name, username, language_code } = chat.user;
    return compact({ id, is_bot: false, first_name, username, language_code });
  }

  /** The Message object as the Bot API returns it (and as callback queries carry it). */
  private apiMessage(chat: ChatState, { m, file, editDate }: Stored): Json {
    const f = file && { file_id: file.file_id, file_unique_id: `u${file.file_id}`, file_size: file.size };
    return compact({
      message_id: m.message_id,
      from: { id: this.botId, is_bot: true, first_name: 'Jukebox', username: this.botUsername },
      chat: this.chatObj(chat),
      date: m.date,
      edit_date: editDate,
      text: m.text,
      caption: m.caption,
      photo: m.kind === 'photo' && file ? [{ ...f, width: file.width, height: file.height }] : undefined,
      document: m.kind === 'document' ? { ...f, file_name: m.document?.filename } : undefined,
      reply_markup: m.reply_markup,
    });
  }
}

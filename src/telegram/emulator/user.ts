/** The user side of an emulated private chat: send text, press buttons, wait for the bot. */
import type { BotApiEmulator } from './server.js';
import type { EmuEvent, EmuMessage } from './types.js';

export interface WaitOptions {
  /** Default 10 000 ms. */
  timeoutMs?: number;
  /** Shown in the timeout error, e.g. 'waitForText(/paid/)'. */
  label?: string;
}

const describe = (m: EmuMessage): string => {
  const body = m.text ?? m.caption ?? `(${m.kind} without caption)`;
  const buttons = m.reply_markup?.inline_keyboard.flat().map((b) => `[${b.text}]`).join(' ');
  return JSON.stringify(body) + (buttons ? ` ${buttons}` : '');
};

/** String: equal (press) or included (text); RegExp: matches (lastIndex reset for /g). */
const matches = (pattern: string | RegExp, s: string, exact: boolean): boolean => {
  if (typeof pattern === 'string') return exact ? s === pattern : s.includes(pattern);
  pattern.lastIndex = 0;
  return pattern.test(s);
};

export class EmulatedUser {
  private lastSeq = 0; // global event seq at this user's last action; 0 = since the chat was created
  private lastAction = '(none yet)';
  private lastCallbackId: string | undefined;

  constructor(private readonly emu: BotApiEmulator, readonly id: number) {}

  /** Queues a message update (a leading '/command' gets a bot_command entity). */
  async sendText(text: string): Promise<void> {
    this.mark(`sendText(${JSON.stringify(text)})`);
    this.emu.injectText(this.id, text);
  }

  /** Presses the inline button labelled `label` on the most recent bot message that has one (or on `messageId`). */
  async press(label: string | RegExp, opts: { messageId?: number } = {}): Promise<void> {
    const candidates = this.messages().reverse().filter((m) => opts.messageId === undefined || m.message_id === opts.messageId);
    for (const m of candidates) {
      for (const b of m.reply_markup?.inline_keyboard.flat() ?? []) {
        if (!matches(label, b.text, true)) continue;
        if (b.callback_data === undefined) throw new Error(`press(${String(label)}): button [${b.text}] on message #${m.message_id} has no callback_data (url: ${b.url ?? '-'})`);
        return this.pressData(m.message_id, b.callback_data, `press(${String(label)}) on #${m.message_id}`);
      }
    }
    const available = candidates.filter((m) => m.reply_markup).map((m) => `  #${m.message_id} ${describe(m)}`);
    throw new Error(`press(${String(label)}): no such button in chat ${this.id}${opts.messageId === undefined ? '' : ` message #${opts.messageId}`}. `
      + (available.length ? `Available buttons:\n${available.join('\n')}` : 'No bot message has an inline keyboard.'));
  }

  /** Sends a raw (possibly forged) callback_query for `messageId` with `data`. */
  async pressData(messageId: number, data: string, action = `pressData(#${messageId}, ${JSON.stringify(data)})`): Promise<void> {
    this.mark(action);
    this.lastCallbackId = this.emu.injectCallback(this.id, messageId, data);
  }

  /**
   * The first bot message send/edit in this chat after the last action that satisfies `pred`:
   * events already recorded since that action first, then future ones.
   */
  waitFor(pred: (m: EmuMessage, ev: EmuEvent) => boolean, opts: WaitOptions = {}): Promise<EmuMessage> {
    const match = (ev: EmuEvent): boolean => (ev.type === 'send' || ev.type === 'edit') && ev.message !== undefined && pred(ev.message, ev);
    return this.waitEvent(match, opts.timeoutMs, opts.label ?? 'waitFor(predicate)').then((ev) => ev.message!);
  }

  /** waitFor a message whose text or caption includes (string) or matches (RegExp) `match`. */
  waitForText(match: string | RegExp, opts: WaitOptions = {}): Promise<EmuMessage> {
    return this.waitFor((m) => matches(match, [m.text, m.caption].filter((x) => x !== undefined).join('\n'), false), {
      label: `waitForText(${typeof match === 'string' ? JSON.stringify(match) : String(match)})`, ...opts,
    });
  }

  /** The answerCallbackQuery for this user's last pressed callback. */
  async waitForAnswer(opts: WaitOptions = {}): Promise<{ text?: string; show_alert?: boolean }> {
    const id = this.lastCallbackId;
    if (id === undefined) throw new Error('waitForAnswer: no button was pressed yet');
    const ev = await this.waitEvent((e) => e.type === 'callback_answer' && e.callbackAnswer?.callback_query_id === id, opts.timeoutMs, opts.label ?? 'waitForAnswer()');
    const { text, show_alert } = ev.callbackAnswer!;
    return { text, show_alert };
  }

  /** The most recent non-deleted bot message in this chat. */
  lastMessage(): EmuMessage | undefined {
    return this.messages().at(-1);
  }

  /** The bot's messages in this chat (current state, no deleted ones). */
  messages(): EmuMessage[] {
    return this.emu.messages(this.id);
  }

  private mark(action: string): void {
    this.lastSeq = this.emu.currentSeq();
    this.lastAction = action;
  }

  /** This chat's events with seq > `since` (binary search; events are in seq order). */
  private eventsSince(since: number): EmuEvent[] {
    const events = this.emu.chatState(this.id).events;
    let [lo, hi] = [0, events.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (events[mid]!.seq <= since) lo = mid + 1;
      else hi = mid;
    }
    return events.slice(lo);
  }

  private waitEvent(match: (ev: EmuEvent) => boolean, timeoutMs = 10_000, label: string): Promise<EmuEvent> {
    const since = this.lastSeq;
    return new Promise<EmuEvent>((resolve, reject) => {
      const chat = this.emu.chatState(this.id);
      const failWith = (why: string): void => {
        cleanup();
        const seen = this.eventsSince(since).filter((e) => e.message && (e.type === 'send' || e.type === 'edit'));
        const lines = seen.map((e) => `  [${e.type} #${e.message!.message_id}] ${describe(e.message!)}`);
        reject(new Error(`${label} ${why} in chat ${this.id} (last action: ${this.lastAction}). `
          + (lines.length ? `Bot messages seen since then:\n${lines.join('\n')}` : 'The bot sent or edited nothing since then.')));
      };
      const onEvent = (ev: EmuEvent): void => {
        try {
          if (!match(ev)) return;
        } catch (e) {
          cleanup();
          return reject(e as Error);
        }
        cleanup();
        resolve(ev);
      };
      const onStop = (): void => failWith('failed: the emulator stopped');
      const timer = setTimeout(() => failWith(`timed out after ${timeoutMs} ms`), timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        chat.listeners.delete(onEvent);
        this.emu.off('stopped', onStop);
      };
      chat.listeners.add(onEvent);
      this.emu.on('stopped', onStop);
      for (const ev of this.eventsSince(since)) {
        onEvent(ev);
        if (!chat.listeners.has(onEvent)) return; // settled
      }
      if (this.emu.isStopped) onStop();
    });
  }
}

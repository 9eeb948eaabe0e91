/** The outbox against the Bot API emulator: per-chat order, 429s, blocked users, priorities. */
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import QRCode from 'qrcode';
import { Telegraf } from 'telegraf';
import { silentLogger } from '../../../src/log.js';
import { Outbox, type OutboxLimits } from '../../../src/telegram/outbox.js';
import { BotApiEmulator, type EmuEvent } from '../../../src/telegram/emulator/index.js';

const ALICE = 1001;
const BOB = 1002;
const CAROL = 1003;
const DAVE = 1004;

let emu: BotApiEmulator;
let blocked: number[];
let sleeps: number[];

function telegram() {
  return new Telegraf(emu.token, { telegram: { apiRoot: emu.apiRoot } }).telegram;
}

/** An outbox whose waits are recorded and skipped; per-chat pacing is off unless asked for. */
function outbox(opts: OutboxLimits & { sleep?: (ms: number) => Promise<void> } = {}): Outbox {
  return new Outbox(
    telegram(),
    silentLogger,
    async (chatId) => {
      blocked.push(chatId);
    },
    {
      sleep:
        opts.sleep ??
        (async (ms) => {
          sleeps.push(ms);
        }),
      perChatPerSecond: opts.perChatPerSecond ?? 1000,
      perChatBurst: opts.perChatBurst ?? 1000,
      ...(opts.perSecond ? { perSecond: opts.perSecond } : {}),
    },
  );
}

const texts = (chatId: number) => emu.messages(chatId).map((m) => m.text ?? m.caption);

beforeEach(async () => {
  emu = await BotApiEmulator.start();
  for (const id of [ALICE, BOB, CAROL, DAVE]) emu.user({ id });
  blocked = [];
  sleeps = [];
});

afterEach(async () => {
  await emu.stop();
});

describe('Outbox', () => {
  it('delivers the messages of one chat in the order they were sent, even without awaiting', async () => {
    // Alice's first message is held up by a 429 whose wait the test controls
    let entered!: () => void;
    let release!: () => void;
    const waiting = new Promise<void>((r) => (entered = r));
    const released = new Promise<void>((r) => (release = r));
    const ob = outbox({
      sleep: async (ms) => {
        sleeps.push(ms);
        entered();
        await released;
      },
    });
    emu.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 3', retry_after: 3 }, { chatId: ALICE });

    const sent = Array.from({ length: 10 }, (_, i) => ob.send(ALICE, { text: `message ${i + 1}` }));
    await waiting;
    // meanwhile another chat is served, and none of Alice's later messages jumped ahead of her first
    await ob.send(BOB, { text: 'for Bob' });
    expect(texts(BOB)).toEqual(['for Bob']);
    expect(texts(ALICE)).toEqual([]);

    release();
    const ids = await Promise.all(sent);
    expect(texts(ALICE)).toEqual(Array.from({ length: 10 }, (_, i) => `message ${i + 1}`));
    expect(ids).toEqual(emu.messages(ALICE).map((m) => m.message_id));
    expect(sleeps).toEqual([3000]);
  });

  it('waits out a 429 for retry_after seconds and delivers the message exactly once', async () => {
    const ob = outbox();
    emu.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 7', retry_after: 7 }, { chatId: ALICE });
    const id = await ob.send(ALICE, { text: 'hello' });
    expect(sleeps).toEqual([7000]);
    expect(emu.messages(ALICE)).toHaveLength(1);
    expect(emu.messages(ALICE)[0]?.message_id).toBe(id);
    expect(emu.stats().calls.sendMessage).toBe(2);
  });

  it('gives up after 5 retries on a chat that keeps answering 429, and the chat is not stuck afterwards', async () => {
    const ob = outbox();
    // 6 answers of 429: the first try and 5 retries (MAX_429_RETRIES)
    emu.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 2', retry_after: 2 }, { chatId: ALICE, times: 6 });
    await expect(ob.send(ALICE, { text: 'never' })).rejects.toMatchObject({ response: { error_code: 429 } });
    expect(sleeps).toEqual([2000, 2000, 2000, 2000, 2000]);
    expect(emu.stats().calls.sendMessage).toBe(6);
    expect(emu.messages(ALICE)).toHaveLength(0);

    // Telegram lets up: the next message to the same chat goes through
    expect(await ob.send(ALICE, { text: 'later' })).toEqual(expect.any(Number));
    expect(texts(ALICE)).toEqual(['later']);
  });

  it('a user who blocked the bot: onBlocked(chatId), send resolves undefined, other chats unaffected', async () => {
    const ob = outbox();
    emu.blockBot(ALICE);
    const [toAlice, toBob] = await Promise.all([ob.send(ALICE, { text: 'hi Alice' }), ob.send(BOB, { text: 'hi Bob' })]);
    expect(toAlice).toBeUndefined();
    expect(blocked).toEqual([ALICE]);
    expect(emu.messages(ALICE)).toHaveLength(0);
    expect(toBob).toEqual(expect.any(Number));
    expect(texts(BOB)).toEqual(['hi Bob']);
    expect(sleeps).toEqual([]); // a 403 is not retried

    emu.blockBot(ALICE, false);
    expect(await ob.send(ALICE, { text: 'welcome back' })).toEqual(expect.any(Number));
    expect(texts(ALICE)).toEqual(['welcome back']);
  });

  it('an edit that changes nothing is not an error; other edit errors are', async () => {
    const ob = outbox();
    const id = (await ob.send(ALICE, { text: 'Pick a plan', buttons: [[{ label: 'Pro', data: 'p' }]] }))!;
    await expect(ob.edit(ALICE, id, { text: 'Pick a plan', buttons: [[{ label: 'Pro', data: 'p' }]] })).resolves.toBeUndefined();
    expect(emu.messages(ALICE)[0]?.edits).toBe(0);

    await ob.edit(ALICE, id, { text: 'You chose Pro' });
    expect(emu.messages(ALICE)[0]).toMatchObject({ text: 'You chose Pro', edits: 1 });
    expect(emu.messages(ALICE)[0]?.reply_markup).toBeUndefined(); // no buttons: the keyboard is removed

    await expect(ob.edit(ALICE, 9999, { text: 'x' })).rejects.toMatchObject({
      response: { error_code: 400, description: expect.stringContaining('message to edit not found') },
    });
  });

  it('sends buttons as an inline keyboard and a photo with its bytes and caption', async () => {
    const ob = outbox();
    const png = await QRCode.toBuffer('tft:5Address?amount=12');
    await ob.send(ALICE, { text: 'Choose', buttons: [[{ label: 'Yes', data: 'y' }, { label: 'No', data: 'n' }]] });
    await ob.send(ALICE, { text: 'Scan to pay <b>12.00 TFT</b>', photo: png });
    const [choose, qr] = emu.messages(ALICE);
    expect(choose?.reply_markup?.inline_keyboard).toEqual([
      [
        { text: 'Yes', callback_data: 'y' },
        { text: 'No', callback_data: 'n' },
      ],
    ]);
    expect(qr?.kind).toBe('photo');
    expect(qr?.caption).toBe('Scan to pay <b>12.00 TFT</b>');
    expect(qr?.photo?.equals(png)).toBe(true);
  });

  it('drain resolves once everything queued so far is delivered', async () => {
    const ob = outbox();
    for (let i = 0; i < 5; i++) {
      void ob.send(ALICE, { text: `a${i}` });
      void ob.send(BOB, { text: `b${i}` });
    }
    await ob.drain();
    expect(texts(ALICE)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(texts(BOB)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
  });

  it('an interactive reply overtakes notices already waiting for the rate limit', async () => {
    const ob = outbox({ perSecond: 1 });
    const order: number[] = [];
    emu.on('event', (ev: EmuEvent) => {
      if (ev.type === 'send') order.push(ev.chatId);
    });
    // the first notice uses up this second's only slot, so everything below has to wait in the queue
    await ob.send(ALICE, { text: 'notice 1' }, 'notice');
    const later = [
      ob.send(BOB, { text: 'notice 2' }, 'notice'),
      ob.send(CAROL, { text: 'notice 3' }, 'notice'),
      ob.send(DAVE, { text: 'your answer' }, 'interactive'),
    ];
    await Promise.all(later);
    expect(order).toEqual([ALICE, DAVE, BOB, CAROL]);
  });
});

describe("Telegram's flood limits", () => {
  it('paces one chat to a burst of 3, then one message a second', async () => {
    const ob = outbox({ perChatPerSecond: 1, perChatBurst: 3 });
    await Promise.all(Array.from({ length: 6 }, (_, i) => ob.send(ALICE, { text: `m${i}` })));
    expect(texts(ALICE)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    // the first three go at once; each later one waits for the chat's allowance to refill
    expect(sleeps).toHaveLength(3);
    for (const ms of sleeps) expect(ms).toBeGreaterThan(900);
  });

  it('keeps within limits the emulator enforces as Telegram does: no 429 for a chat burst and a broadcast', async () => {
    await emu.stop();
    emu = await BotApiEmulator.start({ limits: { globalPerSecond: 30, perChatPerSecond: 1, burst: 3 } });
    const chats = Array.from({ length: 45 }, (_, i) => 5000 + i);
    for (const id of [ALICE, ...chats]) emu.user({ id });
    const ob = new Outbox(telegram(), silentLogger, async () => undefined); // Telegram's defaults, real time
    await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => ob.send(ALICE, { text: `to Alice ${i}` })),
      ...chats.map((id) => ob.send(id, { text: 'reminder' }, 'notice')),
    ]);
    expect(emu.stats().rejected429).toBe(0);
    expect(texts(ALICE)).toHaveLength(5);
    expect(chats.every((id) => texts(id).length === 1)).toBe(true);
  }, 20_000);
});

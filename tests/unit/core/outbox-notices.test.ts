/**
 * Reminders through the outbox against the Bot API emulator: thousands queued at once arrive once
 * each within Telegram's limits, survive a restart, skip users who blocked the bot, carry their QR
 * code, and never hold up a reply.
 */
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Telegraf } from 'telegraf';
import { qrPng } from '../../../src/chat/qr.js';
import { silentLogger } from '../../../src/log.js';
import { BotApiEmulator, type EmuEvent } from '../../../src/telegram/emulator/index.js';
import type { Notice } from '../../../src/telegram/notice-queue.js';
import { Outbox, type OutboxOptions } from '../../../src/telegram/outbox.js';
import { eventually } from '../../helpers/eventually.js';

const ALICE = 1001;

let emu: BotApiEmulator;
let dir: string;
let file: string;
let blocked: number[];
let outboxes: Outbox[];

async function emulator(limits?: { globalPerSecond: number; perChatPerSecond: number; burst: number }): Promise<void> {
  await emu?.stop();
  emu = await BotApiEmulator.start(limits ? { limits } : {});
}

function outbox(opts: OutboxOptions = {}): Outbox {
  const telegram = new Telegraf(emu.token, { telegram: { apiRoot: emu.apiRoot } }).telegram;
  const ob = new Outbox(telegram, silentLogger, async (chatId) => void blocked.push(chatId), { notices: file, ...opts });
  outboxes.push(ob);
  return ob;
}

/** Every bot message as it arrives: chat, text (or caption), when. */
function arrivals(): { chatId: number; text: string; at: number; seq: number }[] {
  const seen: { chatId: number; text: string; at: number; seq: number }[] = [];
  emu.on('event', (ev: EmuEvent) => {
    if (ev.type === 'send') seen.push({ chatId: ev.chatId, text: ev.message?.text ?? ev.message?.caption ?? '', at: Date.now(), seq: ev.seq });
  });
  return seen;
}

/** `count` reminders over `chats` chats from 100000 up, every `every`-th one to one of a few busy chats. */
function reminders(count: number, chats: number, busy = 0, every = 10): Notice[] {
  return Array.from({ length: count }, (_, i) => {
    const chatId = busy && i % every === 0 ? 90_000 + ((i / every) % busy) : 100_000 + (i % chats);
    return { id: `r${i}`, chatId, text: `reminder ${i}` };
  });
}

function users(notices: Notice[]): void {
  for (const id of new Set(notices.map((n) => n.chatId))) emu.user({ id });
}

async function queueAll(ob: Outbox, notices: Notice[]): Promise<void> {
  expect(await Promise.all(notices.map((n) => ob.notice(n)))).toEqual(notices.map(() => true));
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'jukebox-outbox-'));
  file = path.join(dir, 'outbox', 'notices.jsonl');
  blocked = [];
  outboxes = [];
  await emulator();
});

afterEach(async () => {
  for (const ob of outboxes) await ob.stopNotices();
  await emu.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('reminders within the flood limits', () => {
  it('10,000 reminders queued at once all arrive, none twice, and the emulator refused none (limits scaled up 30×)', async () => {
    // Telegram's 30/s and 1/s per chat, both sides scaled 30×, so the test takes seconds, not minutes
    const limits = { globalPerSecond: 900, perChatPerSecond: 30, burst: 3 };
    await emulator(limits);
    const notices = reminders(10_000, 9_000, 100); // 1,000 of them to 100 chats, 10 each
    users(notices);
    const seen = arrivals();
    const ob = outbox({ perSecond: limits.globalPerSecond, perChatPerSecond: limits.perChatPerSecond, perChatBurst: limits.burst });
    await ob.open();
    await queueAll(ob, notices);

    await eventually('every reminder is sent', () => ob.pendingNotices() === 0, 40_000);
    expect(emu.stats().rejected429).toBe(0);
    expect(seen).toHaveLength(10_000);
    expect(new Set(seen.map((s) => s.text)).size).toBe(10_000);
    // a chat's reminders arrive in the order they were queued
    const busy = seen.filter((s) => s.chatId === 90_000).map((s) => s.text);
    expect(busy).toEqual(notices.filter((n) => n.chatId === 90_000).map((n) => n.text));
    const rate = (seen.length - 1) / ((seen.at(-1)!.at - seen[0]!.at) / 1000);
    expect(rate).toBeGreaterThan(0.5 * limits.globalPerSecond);
  }, 60_000);

  it("at Telegram's real limits: 150 reminders at 90 % or more of 30 a second, no 429", async () => {
    const limits = { globalPerSecond: 30, perChatPerSecond: 1, burst: 3 };
    await emulator(limits);
    const notices = reminders(150, 100);
    users(notices);
    const seen = arrivals();
    const ob = outbox(); // Telegram's defaults
    await ob.open();
    await queueAll(ob, notices);

    await eventually('every reminder is sent', () => ob.pendingNotices() === 0, 20_000);
    expect(emu.stats().rejected429).toBe(0);
    expect(seen.map((s) => s.text).sort()).toEqual(notices.map((n) => n.text).sort());
    const rate = (seen.length - 1) / ((seen.at(-1)!.at - seen[0]!.at) / 1000);
    expect(rate).toBeGreaterThanOrEqual(0.9 * 30);
  }, 30_000);
});

describe('reminders across a restart', () => {
  it('an outbox stopped with reminders pending leaves them to the next one, which sends them and not the ones already sent', async () => {
    const notices = reminders(500, 500);
    users(notices);
    const seen = arrivals();
    const first = outbox({ perSecond: 100 });
    await first.open();
    await queueAll(first, notices);
    await eventually('some reminders are out', () => seen.length >= 100);
    const asked = seen.length;
    await first.stopNotices();
    const before = seen.length;
    // stopping waits only for what is in flight: two seconds' worth at 100 a second
    expect(before - asked).toBeLessThanOrEqual(200);
    expect(first.pendingNotices()).toBe(500 - before);
    expect(before).toBeLessThan(500);

    const second = outbox({ perSecond: 1000 });
    await second.open();
    expect(second.pendingNotices()).toBe(500 - before);
    // the pass that queued them runs again after the restart: nothing is queued twice
    expect(await Promise.all(notices.slice(0, 50).map((n) => second.notice(n)))).toEqual(notices.slice(0, 50).map(() => false));
    await eventually('the rest is sent', () => second.pendingNotices() === 0);
    expect(seen.map((s) => s.text).sort()).toEqual(notices.map((n) => n.text).sort());
  }, 30_000);
});

describe('reminders Telegram refuses', () => {
  it('a user who blocked the bot: one call, their other reminders dropped, onBlocked once, everyone else served', async () => {
    const notices = [
      ...Array.from({ length: 5 }, (_, i) => ({ id: `alice-${i}`, chatId: ALICE, text: `for Alice ${i}` })),
      ...reminders(20, 20),
    ];
    users(notices);
    emu.blockBot(ALICE);
    const ob = outbox({ perSecond: 1000 });
    await ob.open();
    await queueAll(ob, notices);
    await eventually('nothing is pending', () => ob.pendingNotices() === 0);

    expect(blocked).toEqual([ALICE]);
    expect(emu.messages(ALICE)).toEqual([]);
    expect(emu.stats().calls.sendMessage).toBe(21); // one refused for Alice, 20 delivered
    for (let i = 0; i < 20; i++) expect(emu.messages(100_000 + i).map((m) => m.text)).toEqual([`reminder ${i}`]);
    // dropped for good: a restart does not try them again
    await ob.stopNotices();
    const again = outbox();
    await again.open();
    expect(again.pendingNotices()).toBe(0);
    expect(await again.notice({ id: 'alice-3', chatId: ALICE, text: 'for Alice 3' })).toBe(false);
  });

  it('a reminder Telegram calls a bad request is dropped after one try, and the next one to the chat goes out', async () => {
    emu.user({ id: ALICE });
    const ob = outbox({ perSecond: 1000 });
    await ob.open();
    await ob.notice({ id: 'bad', chatId: ALICE, text: 'Your <div>balance</div> is low' });
    await ob.notice({ id: 'good', chatId: ALICE, text: 'Your <b>balance</b> is low' });
    await eventually('nothing is pending', () => ob.pendingNotices() === 0);
    expect(emu.messages(ALICE).map((m) => m.text)).toEqual(['Your <b>balance</b> is low']);
    expect(emu.stats().calls.sendMessage).toBe(2);
  });

  it('a reminder that fails for a reason that may pass stays queued and is tried again later, ever more slowly', async () => {
    emu.user({ id: ALICE });
    const ob = outbox({ perSecond: 1000, noticeBackoffMs: 100, sleep: async () => undefined });
    await ob.open();
    // three server errors, then 6 answers of 429 (the first try and the outbox's 5 retries)
    emu.failNext('sendMessage', { error_code: 500, description: 'Internal Server Error' }, { chatId: ALICE, times: 3 });
    emu.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 }, { chatId: ALICE, times: 6 });
    const started = Date.now();
    await ob.notice({ id: 'low', chatId: ALICE, text: 'Your balance is low' });
    await eventually('it is sent', () => ob.pendingNotices() === 0);
    expect(emu.messages(ALICE).map((m) => m.text)).toEqual(['Your balance is low']);
    expect(emu.stats().calls.sendMessage).toBe(3 + 6 + 1);
    // four pauses of 100, 200, 400 and 800 ms: no hot loop
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  }, 20_000);
});

describe('what a reminder carries', () => {
  it('a reminder with a payment URI arrives as the QR code photo, its text the caption, its buttons kept', async () => {
    emu.user({ id: ALICE });
    const ob = outbox();
    await ob.open();
    const uri = 'TFT:5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY?amount=12&sender=me';
    await ob.notice({ id: 'pay', chatId: ALICE, text: 'Top up <b>12 TFT</b> to keep your nodes', qr: uri, buttons: [[{ label: 'I have paid', data: 'a:paid:3' }]] });
    await eventually('it is sent', () => ob.pendingNotices() === 0);
    const [m] = emu.messages(ALICE);
    expect(m?.kind).toBe('photo');
    expect(m?.caption).toBe('Top up <b>12 TFT</b> to keep your nodes');
    expect(m?.photo?.equals(await qrPng(uri))).toBe(true);
    expect(m?.reply_markup?.inline_keyboard).toEqual([[{ text: 'I have paid', callback_data: 'a:paid:3' }]]);
  });
});

describe('replies come first', () => {
  it('a reply sent while 3,000 reminders are pending arrives before all but a few of them', async () => {
    const limits = { globalPerSecond: 100, perChatPerSecond: 1, burst: 3 };
    await emulator(limits);
    const notices = reminders(3_000, 3_000);
    users(notices);
    emu.user({ id: ALICE });
    const seen = arrivals();
    const ob = outbox({ perSecond: limits.globalPerSecond });
    await ob.open();
    await queueAll(ob, notices);
    await eventually('reminders are flowing', () => seen.length >= 100);

    const already = seen.length;
    const asked = Date.now();
    await ob.send(ALICE, { text: 'Here is your status' }, 'interactive');
    const reply = seen.find((s) => s.chatId === ALICE)!;
    const remindersBefore = seen.filter((s) => s.seq < reply.seq).length;
    // at most the fifth of a second already under way, never the two seconds' worth in flight
    expect(remindersBefore - already).toBeLessThan(60);
    expect(reply.at - asked).toBeLessThan(600);
    expect(ob.pendingNotices()).toBeGreaterThan(2_000);
    expect(emu.stats().rejected429).toBe(0);
  });
});

/**
 * Reminder throughput: N notices queued at once on a fresh outbox (its journal in a temp dir) against
 * the Bot API emulator enforcing Telegram's flood limits (30 messages/s, 1/s per chat, burst 3).
 * See bench/README.md.
 *
 *   npx tsx bench/outbox-rate.ts [--notices 3000] [--chats 1000]
 *
 * Notice i goes to chat i mod chats, so each chat gets notices/chats of them. The sustained rate is
 * (delivered - 1) / (last delivery - first delivery), as the emulator saw them arrive.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Telegraf } from 'telegraf';
import { silentLogger } from '../src/log.js';
import { BotApiEmulator, type EmuEvent } from '../src/telegram/emulator/index.js';
import { Outbox } from '../src/telegram/outbox.js';

const { values: args } = parseArgs({
  options: { notices: { type: 'string', default: '3000' }, chats: { type: 'string', default: '1000' } },
  strict: true,
});
const intArg = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be an integer >= 1 (got ${JSON.stringify(v)})`);
    process.exit(2);
  }
  return n;
};
const NOTICES = intArg('notices', args.notices);
const CHATS = intArg('chats', args.chats);
const LIMITS = { globalPerSecond: 30, perChatPerSecond: 1, burst: 3 };

const emu = await BotApiEmulator.start({ limits: LIMITS });
const dir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-bench-outbox-'));
const file = path.join(dir, 'outbox', 'notices.jsonl');
for (let c = 0; c < CHATS; c++) emu.user({ id: 100_000 + c });

const arrivals: number[] = [];
const texts = new Set<string>();
let duplicates = 0;
let allIn!: () => void;
const done = new Promise<void>((r) => (allIn = r));
emu.on('event', (ev: EmuEvent) => {
  if (ev.type !== 'send') return;
  arrivals.push(performance.now());
  const text = ev.message?.text ?? '';
  if (texts.has(text)) duplicates++;
  texts.add(text);
  if (arrivals.length === NOTICES) allIn();
});

const telegram = new Telegraf(emu.token, { telegram: { apiRoot: emu.apiRoot } }).telegram;
const outbox = new Outbox(telegram, silentLogger, async () => undefined, { notices: file }); // Telegram's limits, the defaults
await outbox.open();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(Array.from({ length: NOTICES }, (_, i) => outbox.notice({ id: `bench-${i}`, chatId: 100_000 + (i % CHATS), text: `Reminder ${i}: your wallet runs out in 3 days` })));
const queuedMs = performance.now() - t0;
const journalBytes = (await stat(file)).size;
await done;
const wallS = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await outbox.stopNotices();

const spanS = (arrivals.at(-1)! - arrivals[0]!) / 1000;
const rate = (arrivals.length - 1) / spanS;
const result = {
  notices: NOTICES,
  chats: CHATS,
  delivered: texts.size,
  duplicates,
  rejected429: emu.stats().rejected429,
  queuedMs: Math.round(queuedMs),
  journalKB: Math.round(journalBytes / 1024),
  firstDeliveryMs: Math.round(arrivals[0]! - t0),
  spanS: Number(spanS.toFixed(2)),
  wallS: Number(wallS.toFixed(2)),
  ratePerS: Number(rate.toFixed(2)),
  ofLimit: Number((rate / LIMITS.globalPerSecond).toFixed(3)),
  cpuPctOfCore: Number((((cpu.user + cpu.system) / 1e6 / wallS) * 100).toFixed(1)),
  rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  node: process.version,
  cpus: os.availableParallelism(),
};
await emu.stop();
await rm(dir, { recursive: true, force: true });

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`outbox-rate: ${NOTICES} notices over ${CHATS} chats, emulator limits ${LIMITS.globalPerSecond}/s, ${LIMITS.perChatPerSecond}/s per chat, burst ${LIMITS.burst}; node ${result.node}, ${result.cpus} cpus`);
console.log('');
console.log(`${pad('delivered', 9)} ${pad('dup', 4)} ${pad('429s', 5)} ${pad('queued ms', 9)} ${pad('journal KB', 10)} ${pad('span s', 7)} ${pad('msg/s', 6)} ${pad('of 30/s', 7)} ${pad('CPU %', 6)} ${pad('RSS MB', 6)}`);
console.log(
  `${pad(result.delivered, 9)} ${pad(duplicates, 4)} ${pad(result.rejected429, 5)} ${pad(result.queuedMs, 9)} ${pad(result.journalKB, 10)} ${pad(result.spanS, 7)} ${pad(result.ratePerS, 6)} ${pad(`${(result.ofLimit * 100).toFixed(1)} %`, 7)} ${pad(result.cpuPctOfCore, 6)} ${pad(result.rssMB, 6)}`,
);
console.log('');
console.log(JSON.stringify(result));

/**
 * Chat load benchmark: N concurrent emulated users drive the real Jukebox bot (telegraf polling the
 * in-repo Bot API emulator over HTTP, simulated grid, temp data dir) through a whole deployment's
 * life, then the same load shape runs against a bare telegraf echo bot as a ceiling.
 * See bench/README.md.
 *
 *   npx tsx bench/chat-load.ts [--users 100] [--deploy-ms 200] [--no-outbox-cap]
 *
 * Reply latency = from just before a user action (sendText/press) to the first bot `send`/`edit`
 * event in that chat (emulator `event` listener). Provisioning and teardown (jobs, not replies)
 * are waited for between the two chat phases and reported separately.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import PQueue from 'p-queue';
import { Telegraf } from 'telegraf';
import { createApp } from '../src/app.js';
import { SimGrid } from '../src/grid/sim/index.js';
import { silentLogger } from '../src/log.js';
import { BotApiEmulator, type EmulatedUser } from '../src/telegram/emulator/index.js';
import type { EmuEvent } from '../src/telegram/emulator/types.js';

// ---- options ------------------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100' },
    'deploy-ms': { type: 'string', default: '200' },
    'no-outbox-cap': { type: 'boolean', default: false },
  },
  strict: true,
});
const intArg = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
    process.exit(2);
  }
  return n;
};
const USERS = intArg('users', args.users, 1);
const DEPLOY_MS = intArg('deploy-ms', args['deploy-ms'], 0);
const NO_OUTBOX_CAP = args['no-outbox-cap'] === true;
/** Generous: at 100 users the outbox's 25 msg/s cap alone queues replies for several seconds. */
const WAIT = { timeoutMs: 180_000 };

// ---- measurement --------------------------------------------------------------------------------

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
/** Nearest-rank percentile of an ascending array. */
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout | undefined;
  start(): void {
    this.peak = process.memoryUsage().rss;
    this.timer = setInterval(() => {
      this.peak = Math.max(this.peak, process.memoryUsage().rss);
    }, 50);
  }
  stop(): number {
    clearInterval(this.timer);
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
    return this.peak;
  }
}

/** Times each action to the first bot send/edit in its chat. One pending action per chat. */
class ReplyTimer {
  readonly samples: { step: string; ms: number }[] = [];
  private readonly pending = new Map<number, { t0: number; step: string }>();
  actions = 0;

  constructor(emu: BotApiEmulator) {
    emu.on('event', (ev: EmuEvent) => {
      if (ev.type !== 'send' && ev.type !== 'edit') return;
      const p = this.pending.get(ev.chatId);
      if (!p) return;
      this.pending.delete(ev.chatId);
      this.samples.push({ step: p.step, ms: performance.now() - p.t0 });
    });
  }

  /** Runs a user action, timing it from just before it is queued. */
  async act(u: EmulatedUser, step: string, action: () => Promise<void>): Promise<void> {
    if (this.pending.has(u.id)) throw new Error(`user ${u.id}: '${step}' while '${this.pending.get(u.id)!.step}' had no reply yet`);
    this.actions++;
    this.pending.set(u.id, { t0: performance.now(), step });
    await action();
  }

  get unanswered(): number {
    return this.pending.size;
  }

  summary(): { replies: number; p50: number; p90: number; p99: number; max: number } {
    const s = this.samples.map((x) => x.ms).sort((a, b) => a - b);
    return { replies: s.length, p50: round(pct(s, 50)), p90: round(pct(s, 90)), p99: round(pct(s, 99)), max: round(s.at(-1) ?? NaN) };
  }

  byStep(): { step: string; n: number; p50: number; p99: number }[] {
    const steps = [...new Set(this.samples.map((x) => x.step))];
    return steps.map((step) => {
      const s = this.samples.filter((x) => x.step === step).map((x) => x.ms).sort((a, b) => a - b);
      return { step, n: s.length, p50: round(pct(s, 50)), p99: round(pct(s, 99)) };
    });
  }
}

const mb = (bytes: number): number => round(bytes / 2 ** 20, 0);
const cpuPct = (start: NodeJS.CpuUsage, wallMs: number): number => {
  const d = process.cpuUsage(start);
  return round(((d.user + d.system) / 1000 / wallMs) * 100, 0);
};

// ---- Jukebox ------------------------------------------------------------------------------------

const hasButton = (re: RegExp) => (m: { reply_markup?: { inline_keyboard: { text: string }[][] } }): boolean =>
  !!m.reply_markup?.inline_keyboard.flat().some((b) => re.test(b.text));

/** /start … simulated payment. Each wait is for the LAST message of the reply, so the next action's timer cannot catch a leftover. */
async function orderAndPay(t: ReplyTimer, u: EmulatedUser, name: string): Promise<void> {
  await t.act(u, '/start', () => u.sendText('/start'));
  await u.waitForText('Welcome to Jukebox', WAIT);
  await t.act(u, '/deploy', () => u.sendText('/deploy'));
  await u.waitForText('What would you like to deploy?', WAIT);
  await t.act(u, 'press Dash', () => u.press('Dash full node'));
  await u.waitForText('How many', WAIT);
  await t.act(u, 'press 1', () => u.press('1'));
  await u.waitForText('Where should', WAIT);
  await t.act(u, 'press Anywhere', () => u.press('🎲 Anywhere'));
  await u.waitForText('Give it a name', WAIT);
  await t.act(u, 'name', () => u.sendText(name));
  await u.waitForText('Please check your order', WAIT);
  await t.act(u, 'press Confirm', () => u.press('✅ Confirm'));
  await u.waitForText('Or paste this into your wallet', WAIT); // after the QR photo
  // The press's own answer is a toast (answerCallbackQuery); its first send is the job's "Payment received".
  await t.act(u, 'press Simulate payment', () => u.press(/Simulate payment/));
  await u.waitForText('Payment received', WAIT);
}

async function manageAndDelete(t: ReplyTimer, u: EmulatedUser, name: string): Promise<void> {
  await t.act(u, '/list', () => u.sendText('/list'));
  await u.waitForText('Your deployments', WAIT);
  await t.act(u, '/status', () => u.sendText(`/status ${name}`));
  await u.waitForText('Wallet:', WAIT);
  await t.act(u, '/delete', () => u.sendText(`/delete ${name}`));
  await u.waitFor(hasButton(/Yes, delete/), WAIT);
  await t.act(u, 'press Yes delete', () => u.press(/Yes, delete/));
  await u.waitForText('Deleting', WAIT);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function benchJukebox() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-bench-'));
  const emu = await BotApiEmulator.start();
  let grid: SimGrid | undefined;
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  const rss = new RssSampler();
  try {
    grid = await SimGrid.open({ dataDir, seed: 7, deployMs: DEPLOY_MS });
    app = await createApp({
      dataDir,
      log: silentLogger,
      grid,
      faucet: grid,
      masterKey: Buffer.alloc(32, 7),
      telegram: { token: emu.token, apiRoot: emu.apiRoot },
      paymentTimeoutMs: 30 * 60_000,
      depositPollMs: 50,
    });
    if (NO_OUTBOX_CAP) {
      // Diagnostic only: swap the outbox's 25 msg/s queue for an unlimited one to see the cost without the cap.
      (app.outbox as unknown as { queue: PQueue }).queue = new PQueue();
    }
    await app.start();

    const t = new ReplyTimer(emu);
    const users = Array.from({ length: USERS }, (_, i) => ({ u: emu.user({ id: 10_001 + i, first_name: `Bench${i + 1}` }), name: `dash_u${i + 1}` }));
    rss.start();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // phase A: order and pay; then the provisioning job; phase B: list, status, delete; then the teardown job
    const orderMs = await timed(() => Promise.all(users.map(({ u, name }) => orderAndPay(t, u, name))));
    const provisionMs = await timed(() => Promise.all(users.map(({ u }) => u.waitForText('is up', WAIT))));
    const manageMs = await timed(() => Promise.all(users.map(({ u, name }) => manageAndDelete(t, u, name))));
    const teardownMs = await timed(() => Promise.all(users.map(({ u }) => u.waitForText('is deleted', WAIT))));
    const scenarioMs = performance.now() - t0;
    const cpu = cpuPct(cpu0, scenarioMs);
    const peak = rss.stop();
    if (t.unanswered) throw new Error(`${t.unanswered} actions got no reply`);
    const stats = emu.stats();
    const chatMs = orderMs + manageMs;
    return {
      result: {
        users: USERS,
        deployMs: DEPLOY_MS,
        ...(NO_OUTBOX_CAP ? { outboxCap: false } : {}),
        actions: t.actions,
        ...t.summary(),
        updatesPerSec: round(t.actions / (chatMs / 1000)),
        chatWallMs: Math.round(chatMs),
        provisionWaitMs: Math.round(provisionMs),
        teardownWaitMs: Math.round(teardownMs),
        scenarioWallMs: Math.round(scenarioMs),
        rssPeakMB: mb(peak),
      },
      detail: {
        steps: t.byStep(),
        cpu,
        phases: { orderMs, provisionMs, manageMs, teardownMs },
        getUpdates: stats.calls.getUpdates ?? 0,
        delivered: stats.updatesDelivered,
        botCalls: Object.entries(stats.calls).filter(([k]) => /^(send|edit|answer)/.test(k)).reduce((a, [, n]) => a + n, 0),
      },
    };
  } finally {
    rss.stop();
    await app?.stop();
    await grid?.close();
    await emu.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---- bare telegraf echo bot ---------------------------------------------------------------------

async function benchEcho(messagesPerUser: number) {
  const emu = await BotApiEmulator.start();
  const bot = new Telegraf(emu.token, { telegram: { apiRoot: emu.apiRoot } });
  bot.on('message', (ctx) => ctx.reply('text' in ctx.message ? ctx.message.text : '?'));
  bot.on('callback_query', (ctx) => ctx.answerCbQuery());
  bot.catch((err) => console.error('echo bot error:', err));
  let launched: Promise<void> | undefined;
  await new Promise<void>((resolve, reject) => {
    launched = bot.launch(() => resolve());
    launched.catch(reject);
  });
  const rss = new RssSampler();
  try {
    const t = new ReplyTimer(emu);
    const users = Array.from({ length: USERS }, (_, i) => emu.user({ id: 20_001 + i, first_name: `Echo${i + 1}` }));
    rss.start();
    const cpu0 = process.cpuUsage();
    const wallMs = await timed(() =>
      Promise.all(
        users.map(async (u) => {
          for (let k = 1; k <= messagesPerUser; k++) {
            const text = `message ${k} from ${u.id}`;
            await t.act(u, 'echo', () => u.sendText(text));
            await u.waitForText(text, WAIT);
          }
        }),
      ),
    );
    const cpu = cpuPct(cpu0, wallMs);
    const peak = rss.stop();
    if (t.unanswered) throw new Error(`${t.unanswered} echo messages got no reply`);
    const stats = emu.stats();
    return {
      result: { users: USERS, actions: t.actions, ...t.summary(), updatesPerSec: round(t.actions / (wallMs / 1000)), wallMs: Math.round(wallMs), rssPeakMB: mb(peak) },
      detail: { cpu, getUpdates: stats.calls.getUpdates ?? 0, delivered: stats.updatesDelivered },
    };
  } finally {
    rss.stop();
    bot.stop('bench done');
    await launched?.catch(() => undefined);
    await emu.stop();
  }
}

// ---- main ---------------------------------------------------------------------------------------

const pad = (s: string | number, n: number): string => String(s).padStart(n);
const line = (label: string, r: { p50: number; p90: number; p99: number; max: number; replies: number; updatesPerSec: number; rssPeakMB: number }): string =>
  `${label.padEnd(8)} ${pad(r.replies, 7)} ${pad(r.p50, 8)} ${pad(r.p90, 8)} ${pad(r.p99, 8)} ${pad(r.max, 8)} ${pad(r.updatesPerSec, 9)} ${pad(r.rssPeakMB, 8)}`;

const jb = await benchJukebox();
const ec = await benchEcho(jb.result.actions / USERS);
const ratio = {
  p50: round(jb.result.p50 / ec.result.p50, 1),
  p99: round(jb.result.p99 / ec.result.p99, 1),
  updatesPerSec: round(jb.result.updatesPerSec / ec.result.updatesPerSec, 3),
};

const j = jb.result;
console.log(`chat-load: ${USERS} users, ${j.actions / USERS} actions each, sim deploy ${DEPLOY_MS} ms${NO_OUTBOX_CAP ? ', OUTBOX CAP REMOVED (diagnostic)' : ''}; node ${process.version}, ${os.availableParallelism()} cpus`);
console.log('');
console.log(`${'bot'.padEnd(8)} ${pad('replies', 7)} ${pad('p50 ms', 8)} ${pad('p90 ms', 8)} ${pad('p99 ms', 8)} ${pad('max ms', 8)} ${pad('updates/s', 9)} ${pad('RSS MB', 8)}`);
console.log(line('jukebox', j));
console.log(line('echo', ec.result));
console.log(`${'ratio'.padEnd(8)} ${pad('', 7)} ${pad(`${ratio.p50}x`, 8)} ${pad('', 8)} ${pad(`${ratio.p99}x`, 8)}`);
console.log('');
const ph = jb.detail.phases;
console.log(
  `jukebox wall: order+pay ${round(ph.orderMs / 1000)} s | provisioning wait ${round(ph.provisionMs / 1000)} s | list/status/delete ${round(ph.manageMs / 1000)} s | teardown wait ${round(ph.teardownMs / 1000)} s | total ${round(j.scenarioWallMs / 1000)} s`,
);
console.log(
  `jukebox: ${jb.detail.botCalls} send/edit/answer calls, ${jb.detail.delivered} updates in ${jb.detail.getUpdates} getUpdates (${round(jb.detail.delivered / Math.max(1, jb.detail.getUpdates))}/poll), CPU ${jb.detail.cpu}% of one core | echo: ${ec.detail.delivered} updates in ${ec.detail.getUpdates} getUpdates (${round(ec.detail.delivered / Math.max(1, ec.detail.getUpdates))}/poll), CPU ${ec.detail.cpu}%, wall ${round(ec.result.wallMs / 1000)} s`,
);
console.log('jukebox per step (p50/p99 ms): ' + jb.detail.steps.map((s) => `${s.step} ${s.p50}/${s.p99}`).join(' | '));
console.log('');
console.log(JSON.stringify({ jukebox: j, echo: ec.result, ratio }));

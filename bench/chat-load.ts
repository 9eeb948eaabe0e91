/**
 * Chat load benchmark: N concurrent emulated users drive the real Jukebox bot (telegraf polling the
 * in-repo Bot API emulator over HTTP, simulated grid, temp data dir) through a whole deployment's
 * life, then the same load shape runs against a bare telegraf echo bot as a ceiling.
 * See bench/README.md.
 *
 *   npx tsx bench/chat-load.ts [--users 100] [--deploy-ms 200] [--think-ms 0] [--seed 1]
 *                              [--enforce-limits] [--no-outbox-cap]
 *
 * Reply latency = from just before a user action (sendText/press) to the first bot `send`/`edit`
 * event in that chat (emulator `event` listener). Provisioning and teardown (jobs, not replies)
 * are waited for between the two chat phases and reported separately.
 *
 * --think-ms 0 (default) is lockstep: every user acts again the moment its reply is complete.
 * --think-ms n: at the start of each chat phase a user waits uniform [0, n) ms, and after each
 * reply it "thinks" uniform [0.5n, 1.5n] ms before acting again (seeded mulberry32, one stream
 * per user index, so Jukebox and echo users get the same schedule). Thinking is not latency.
 * --enforce-limits: both emulators enforce flood limits (FLOOD_LIMITS); echo waits at most
 * ECHO_LIMITED_WAIT_MS per message and counts the ones that never came.
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
    'think-ms': { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    'enforce-limits': { type: 'boolean', default: false },
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
const THINK_MS = intArg('think-ms', args['think-ms'], 0);
const SEED = intArg('seed', args.seed, 0);
const ENFORCE_LIMITS = args['enforce-limits'] === true;
const NO_OUTBOX_CAP = args['no-outbox-cap'] === true;
/** Generous: at 100 lockstep users the outbox's 30 msg/s cap alone queues replies for several seconds. */
const WAIT = { timeoutMs: 180_000 };
/** Telegram's documented guidance (~30 msg/s overall, ~1 msg/s per chat), with a small per-chat burst. */
const FLOOD_LIMITS = { globalPerSecond: 30, perChatPerSecond: 1, burst: 3 };
/** The echo bot does not retry a 429, so with limits on its refused replies never come: give up on one after this. */
const ECHO_LIMITED_WAIT_MS = 5_000;
const emulatorOptions = ENFORCE_LIMITS ? { limits: FLOOD_LIMITS } : {};

// ---- pacing -------------------------------------------------------------------------------------

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One user's pace. With THINK_MS = 0 it never sleeps (lockstep). User index i gets the same stream in both bots. */
class Pace {
  private readonly rand: () => number;
  thoughtMs = 0;
  constructor(index: number) {
    this.rand = mulberry32((Math.imul(SEED, 0x9e3779b1) + index) | 0);
  }
  /** At the start of a chat phase: uniform [0, THINK_MS). */
  async stagger(): Promise<void> {
    if (THINK_MS > 0) await sleep(this.rand() * THINK_MS);
  }
  /** After a reply, before the next action: uniform [0.5, 1.5] × THINK_MS. */
  async think(): Promise<void> {
    if (THINK_MS === 0) return;
    const ms = THINK_MS * (0.5 + this.rand());
    this.thoughtMs += ms;
    await sleep(ms);
  }
}

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

  /** Gives up on the user's pending action (its reply never came): counted in `lost`, not in the latencies. */
  abandon(u: EmulatedUser): void {
    if (this.pending.delete(u.id)) this.lost++;
  }
  lost = 0;

  get unanswered(): number {
    return this.pending.size;
  }

  /** Percentiles over every reply, or over the steps other than `without`. */
  summary(without?: string): { replies: number; p50: number; p90: number; p99: number; max: number } {
    const s = this.samples.filter((x) => x.step !== without).map((x) => x.ms).sort((a, b) => a - b);
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

interface Step {
  step: string;
  act: (u: EmulatedUser) => Promise<void>;
  /** Waits for the LAST message of the reply, so the next action's timer cannot catch a leftover. */
  done: (u: EmulatedUser) => Promise<unknown>;
}

/** /start … simulated payment. */
const orderAndPay = (name: string): Step[] => [
  { step: '/start', act: (u) => u.sendText('/start'), done: (u) => u.waitForText('Welcome to Jukebox', WAIT) },
  { step: '/deploy', act: (u) => u.sendText('/deploy'), done: (u) => u.waitForText('What would you like to deploy?', WAIT) },
  { step: 'press Dash', act: (u) => u.press('Dash full node'), done: (u) => u.waitForText('How many', WAIT) },
  { step: 'press 1', act: (u) => u.press('1'), done: (u) => u.waitForText('Where should', WAIT) },
  { step: 'press Anywhere', act: (u) => u.press('🎲 Anywhere'), done: (u) => u.waitForText('Give it a name', WAIT) },
  { step: 'name', act: (u) => u.sendText(name), done: (u) => u.waitForText('Please check your order', WAIT) },
  // one photo message: the QR code, with the payment URI in its caption
  { step: 'press Confirm', act: (u) => u.press('✅ Confirm'), done: (u) => u.waitForText('Or paste this into your wallet', WAIT) },
  // The press's own answer is a toast (answerCallbackQuery); its first send is the job's "Payment received".
  { step: 'press Simulate payment', act: (u) => u.press(/Simulate payment/), done: (u) => u.waitForText('Payment received', WAIT) },
];

const manageAndDelete = (name: string): Step[] => [
  { step: '/list', act: (u) => u.sendText('/list'), done: (u) => u.waitForText('Your deployments', WAIT) },
  { step: '/status', act: (u) => u.sendText(`/status ${name}`), done: (u) => u.waitForText('Wallet:', WAIT) },
  { step: '/delete', act: (u) => u.sendText(`/delete ${name}`), done: (u) => u.waitFor(hasButton(/Yes, delete/), WAIT) },
  { step: 'press Yes delete', act: (u) => u.press(/Yes, delete/), done: (u) => u.waitForText('Deleting', WAIT) },
];

/** One user through one chat phase: stagger, then act → reply → think → act … (no think after the last reply). */
async function runPhase(t: ReplyTimer, u: EmulatedUser, pace: Pace, steps: Step[]): Promise<void> {
  await pace.stagger();
  for (const [i, s] of steps.entries()) {
    if (i > 0) await pace.think();
    await t.act(u, s.step, () => s.act(u));
    await s.done(u);
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function benchJukebox() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-bench-'));
  const emu = await BotApiEmulator.start(emulatorOptions);
  let grid: SimGrid | undefined;
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  const rss = new RssSampler();
  try {
    grid = await SimGrid.open({ dataDir, seed: 7, deployMs: DEPLOY_MS });
    app = await createApp({
      dataDir,
      log: silentLogger,
      grid,
      chain: grid,
      faucet: grid,
      prober: grid,
      masterKey: Buffer.alloc(32, 7),
      telegram: { token: emu.token, apiRoot: emu.apiRoot },
      paymentTimeoutMs: 30 * 60_000,
      depositPollMs: 50,
    });
    if (NO_OUTBOX_CAP) {
      // Diagnostic only: swap the outbox's 30 msg/s queue for an unlimited one to see the cost without the cap.
      (app.outbox as unknown as { queue: PQueue }).queue = new PQueue();
    }
    await app.start();

    const t = new ReplyTimer(emu);
    const users = Array.from({ length: USERS }, (_, i) => ({
      u: emu.user({ id: 10_001 + i, first_name: `Bench${i + 1}` }),
      name: `dash_u${i + 1}`,
      pace: new Pace(i),
    }));
    rss.start();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // phase A: order and pay; then the provisioning job; phase B: list, status, delete; then the teardown job
    const orderMs = await timed(() => Promise.all(users.map(({ u, name, pace }) => runPhase(t, u, pace, orderAndPay(name)))));
    const provisionMs = await timed(() => Promise.all(users.map(({ u }) => u.waitForText('is up', WAIT))));
    const manageMs = await timed(() => Promise.all(users.map(({ u, name, pace }) => runPhase(t, u, pace, manageAndDelete(name)))));
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
        thinkMs: THINK_MS,
        ...(THINK_MS > 0 ? { seed: SEED } : {}),
        enforceLimits: ENFORCE_LIMITS,
        ...(NO_OUTBOX_CAP ? { outboxCap: false } : {}),
        actions: t.actions,
        ...t.summary(),
        lost: t.lost,
        rejected429: stats.rejected429,
        updatesPerSec: round(t.actions / (chatMs / 1000)),
        chatWallMs: Math.round(chatMs),
        provisionWaitMs: Math.round(provisionMs),
        teardownWaitMs: Math.round(teardownMs),
        scenarioWallMs: Math.round(scenarioMs),
        rssPeakMB: mb(peak),
      },
      detail: {
        steps: t.byStep(),
        /** [Simulate payment]'s "reply" is the provisioning job's first notice, so it also measures the job queue. */
        withoutSimPay: t.summary('press Simulate payment'),
        phaseActions: [orderAndPay('x').length, manageAndDelete('x').length],
        meanThinkMs: round(users.reduce((a, x) => a + x.pace.thoughtMs, 0) / Math.max(1, t.actions - 2 * USERS), 0),
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

/** `phases`: messages per user in each phase, the same split as Jukebox's chat phases (all users finish one before the next). */
async function benchEcho(phases: number[]) {
  const emu = await BotApiEmulator.start(emulatorOptions);
  const bot = new Telegraf(emu.token, { telegram: { apiRoot: emu.apiRoot } });
  bot.on('message', (ctx) => ctx.reply('text' in ctx.message ? ctx.message.text : '?'));
  bot.on('callback_query', (ctx) => ctx.answerCbQuery());
  let refused = 0; // replies that got a 429 (no retry: they are simply lost)
  bot.catch((err) => {
    if ((err as { code?: number }).code === 429) refused++;
    else console.error('echo bot error:', err);
  });
  let launched: Promise<void> | undefined;
  await new Promise<void>((resolve, reject) => {
    launched = bot.launch(() => resolve());
    launched.catch(reject);
  });
  const rss = new RssSampler();
  const wait = ENFORCE_LIMITS ? { timeoutMs: ECHO_LIMITED_WAIT_MS } : WAIT;
  try {
    const t = new ReplyTimer(emu);
    const users = Array.from({ length: USERS }, (_, i) => ({ u: emu.user({ id: 20_001 + i, first_name: `Echo${i + 1}` }), pace: new Pace(i) }));
    const echoSteps = (u: EmulatedUser, from: number, n: number): Step[] =>
      Array.from({ length: n }, (_, k) => {
        const text = `message ${from + k} from ${u.id}`;
        return {
          step: 'echo',
          act: (v) => v.sendText(text),
          // With limits on, a refused echo never comes: give up after a bounded wait and count it as lost.
          done: (v) => v.waitForText(text, wait).catch((err: unknown) => {
            if (!ENFORCE_LIMITS) throw err;
            t.abandon(v);
          }),
        };
      });
    rss.start();
    const cpu0 = process.cpuUsage();
    let wallMs = 0;
    let from = 1;
    for (const n of phases) {
      wallMs += await timed(() => Promise.all(users.map(({ u, pace }) => runPhase(t, u, pace, echoSteps(u, from, n)))));
      from += n;
    }
    const cpu = cpuPct(cpu0, wallMs);
    const peak = rss.stop();
    if (t.unanswered) throw new Error(`${t.unanswered} echo messages got no reply`);
    const stats = emu.stats();
    return {
      result: {
        users: USERS,
        actions: t.actions,
        ...t.summary(),
        lost: t.lost,
        rejected429: stats.rejected429,
        updatesPerSec: round(t.actions / (wallMs / 1000)),
        wallMs: Math.round(wallMs),
        rssPeakMB: mb(peak),
      },
      detail: { cpu, refused, getUpdates: stats.calls.getUpdates ?? 0, delivered: stats.updatesDelivered },
    };
  } finally {
    rss.stop();
    bot.stop('bench done');
    await launched?.catch(() => undefined);
    await emu.stop();
  }
}

// ---- main ---------------------------------------------------------------------------------------

type Row = { p50: number; p90: number; p99: number; max: number; replies: number; lost: number; rejected429: number; updatesPerSec: number; rssPeakMB: number };
const pad = (s: string | number, n: number): string => String(s).padStart(n);
const line = (label: string, r: Row): string =>
  `${label.padEnd(8)} ${pad(r.replies, 7)} ${pad(r.lost, 5)} ${pad(r.rejected429, 5)} ${pad(r.p50, 8)} ${pad(r.p90, 8)} ${pad(r.p99, 8)} ${pad(r.max, 8)} ${pad(r.updatesPerSec, 9)} ${pad(r.rssPeakMB, 7)}`;

const jb = await benchJukebox();
const ec = await benchEcho(jb.detail.phaseActions);
const ratio = {
  p50: round(jb.result.p50 / ec.result.p50, 1),
  p99: round(jb.result.p99 / ec.result.p99, 1),
  updatesPerSec: round(jb.result.updatesPerSec / ec.result.updatesPerSec, 3),
};

const j = jb.result;
const mode = [
  THINK_MS > 0 ? `think ${THINK_MS} ms (uniform ${THINK_MS / 2}–${THINK_MS * 1.5}, seed ${SEED})` : 'lockstep (no think time)',
  ENFORCE_LIMITS ? `flood limits ${FLOOD_LIMITS.globalPerSecond}/s global, ${FLOOD_LIMITS.perChatPerSecond}/s per chat, burst ${FLOOD_LIMITS.burst}` : 'no flood limits',
  ...(NO_OUTBOX_CAP ? ['OUTBOX CAP REMOVED (diagnostic)'] : []),
].join(', ');
console.log(`chat-load: ${USERS} users, ${j.actions / USERS} actions each, sim deploy ${DEPLOY_MS} ms, ${mode}; node ${process.version}, ${os.availableParallelism()} cpus`);
console.log('');
console.log(`${'bot'.padEnd(8)} ${pad('replies', 7)} ${pad('lost', 5)} ${pad('429s', 5)} ${pad('p50 ms', 8)} ${pad('p90 ms', 8)} ${pad('p99 ms', 8)} ${pad('max ms', 8)} ${pad('updates/s', 9)} ${pad('RSS MB', 7)}`);
console.log(line('jukebox', j));
console.log(line('echo', ec.result));
console.log(`${'ratio'.padEnd(8)} ${pad('', 7)} ${pad('', 5)} ${pad('', 5)} ${pad(`${ratio.p50}x`, 8)} ${pad('', 8)} ${pad(`${ratio.p99}x`, 8)}`);
console.log('');
const ph = jb.detail.phases;
console.log(
  `jukebox wall: order+pay ${round(ph.orderMs / 1000)} s | provisioning wait ${round(ph.provisionMs / 1000)} s | list/status/delete ${round(ph.manageMs / 1000)} s | teardown wait ${round(ph.teardownMs / 1000)} s | total ${round(j.scenarioWallMs / 1000)} s` +
    (THINK_MS > 0 ? ` | mean think ${jb.detail.meanThinkMs} ms` : ''),
);
console.log(
  `jukebox: ${jb.detail.botCalls} send/edit/answer calls, ${jb.detail.delivered} updates in ${jb.detail.getUpdates} getUpdates (${round(jb.detail.delivered / Math.max(1, jb.detail.getUpdates))}/poll), CPU ${jb.detail.cpu}% of one core | echo: ${ec.detail.delivered} updates in ${ec.detail.getUpdates} getUpdates (${round(ec.detail.delivered / Math.max(1, ec.detail.getUpdates))}/poll), CPU ${ec.detail.cpu}%, wall ${round(ec.result.wallMs / 1000)} s` +
    (ENFORCE_LIMITS ? `, ${ec.detail.refused} replies refused with 429 (no retry)` : ''),
);
const w = jb.detail.withoutSimPay;
console.log(`jukebox without [Simulate payment] (a job notice, not a handler reply): ${w.replies} replies, p50 ${w.p50} | p90 ${w.p90} | p99 ${w.p99} | max ${w.max} ms`);
console.log('jukebox per step (p50/p99 ms): ' + jb.detail.steps.map((s) => `${s.step} ${s.p50}/${s.p99}`).join(' | '));
console.log('');
console.log(JSON.stringify({ jukebox: j, echo: ec.result, ratio, jukeboxWithoutSimPay: w }));

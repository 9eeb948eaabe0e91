/**
 * Chaos: the real bot as a child process (`node --import tsx src/main.ts`), polling a Bot API
 * emulator this process owns, on the simulated grid. Seeded users deploy, extend (top up, add a
 * node) and delete while the child is killed with SIGKILL at random moments and restarted on the
 * same data directory; optionally the grid injects faults (SIM_FAULT_RATE). Then the bot is let to
 * settle (restarted without faults, unpaid prompts cancelled, every job finished, a reconcile pass
 * at a clean start) and the store and the grid must agree: no orphaned contract, no lost
 * deployment, every deposit credited exactly once.
 *
 * `npm run chaos` runs it from the command line (scripts/chaos.ts); tests/e2e/chaos.test.ts runs a
 * reduced one in CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mixSeed, Rng, SimGrid } from '../src/grid/sim/index.js';
import type { User } from '../src/domain/user.js';
import { UserStore } from '../src/store/user-store.js';
import { BotApiEmulator, type EmuMessage } from '../src/telegram/emulator/index.js';

const TOKEN = '515151:CHAOS-TEST-TOKEN-abcdefghijklmnop';
const ROOT = path.resolve(import.meta.dirname, '..');
/** the child's simulated grid seed: the driver opens the same grid to check it */
const SIM_SEED = 42;
const FIRST_USER = 9_100_000;

export interface ChaosOptions {
  users: number;
  /** how long users act and the process is killed, in ms */
  durationMs: number;
  seed: number;
  /** kills happen every killMinMs..killMaxMs */
  killMinMs: number;
  killMaxMs: number;
  /** 0..1: the simulated grid's fault rate while users act */
  faultRate: number;
  /** the simulated time a workload takes to come up */
  deployMs: number;
  /** keep the data directory (printed) instead of removing it */
  keepData?: boolean;
  dataDir?: string;
  log?: (line: string) => void;
  /** how long the bot may take to settle after the users stop */
  settleMs?: number;
}

export interface ChaosReport {
  seed: number;
  users: number;
  ms: number;
  kills: number;
  starts: number;
  actions: Record<string, number>;
  /** conversations that did not get the answer they waited for (a kill ate it, a fault): tolerated */
  interrupted: number;
  /** log lines of the child that mention an injected fault */
  faults: number;
  /** contracts the last clean start's reconcile pass cancelled: the bot left them before reconciling */
  reconciledOrphans: number;
  deployments: Record<string, number>;
  contractsLive: number;
  credits: number;
  /** what the checks found; empty when the store and the grid agree */
  violations: string[];
  checks: number;
  dataDir: string;
}

type Stop = { stopped: boolean; promise: Promise<never>; fire(): void };

function stopSignal(): Stop {
  let fire!: () => void;
  const promise = new Promise<never>((_, reject) => (fire = () => reject(new Error('stopped'))));
  promise.catch(() => undefined);
  const s: Stop = {
    stopped: false,
    promise,
    fire() {
      s.stopped = true;
      fire();
    },
  };
  return s;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const started = Date.now();
  const dataDir = o.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'jukebox-chaos-')));
  const emu = await BotApiEmulator.start({ token: TOKEN });
  const rng = new Rng(mixSeed(o.seed, 0xc4a0));
  const report: ChaosReport = {
    seed: o.seed,
    users: o.users,
    ms: 0,
    kills: 0,
    starts: 0,
    actions: {},
    interrupted: 0,
    faults: 0,
    reconciledOrphans: 0,
    deployments: {},
    contractsLive: 0,
    credits: 0,
    violations: [],
    checks: 0,
    dataDir,
  };
  const stderrTail: string[] = [];
  let child: ChildProcess | undefined;
  let childExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: 0, signal: null });

  const startChild = (faultRate: number) => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      TELEGRAM_BOT_TOKEN: TOKEN,
      TELEGRAM_API_ROOT: emu.apiRoot,
      DATA_DIR: dataDir,
      JUKEBOX_MASTER_KEY: '0c'.repeat(32),
      SIM_SEED: String(SIM_SEED),
      SIM_DEPLOY_SECONDS: String(o.deployMs / 1000),
      SIM_FAULT_RATE: String(faultRate),
      DEPOSIT_POLL_SECONDS: '0.2',
      LOG_STDOUT: 'false',
      LOG_LEVEL: 'info',
      METRICS: 'off',
      // chaos users type fast; the rate limit is not what this tests
      RATE_LIMIT_PER_MINUTE: '10000',
      RATE_LIMIT_BURST: '1000',
    };
    const c = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr!.on('data', (d: Buffer) => {
      stderrTail.push(d.toString());
      if (stderrTail.length > 20) stderrTail.shift();
    });
    childExit = new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
    child = c;
    report.starts++;
  };
  const kill = async (signal: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return childExit;
    c.kill(signal);
    const r = await childExit;
    child = undefined;
    return r;
  };
  const logFile = path.join(dataDir, 'logs', 'jukebox.log');
  const logText = () => readFile(logFile, 'utf8').catch(() => '');

  const stop = stopSignal();
  const until = <T>(p: Promise<T>) => Promise.race([p, stop.promise]);
  const count = (k: string) => (report.actions[k] = (report.actions[k] ?? 0) + 1);

  // ------------------------------------------------------------------ the users
  const WAIT = 20_000;
  const JOB_WAIT = 45_000;
  async function userLoop(n: number): Promise<void> {
    const id = FIRST_USER + n;
    const r = new Rng(mixSeed(o.seed, id));
    const u = emu.user({ id, first_name: `Chaos${n}` });
    const up: string[] = []; // names this user saw come up and did not delete
    let k = 0;
    const text = (m: string | RegExp, timeoutMs = WAIT) => until(u.waitForText(m, { timeoutMs }));
    const photoOr = (m: string, timeoutMs = WAIT) =>
      until(u.waitFor((x: EmuMessage) => x.kind === 'photo' || (x.text ?? '').includes(m), { timeoutMs }));
    const pay = async (prompt: EmuMessage) => {
      if (prompt.kind !== 'photo') return;
      await u.press(/Simulate payment/, { messageId: prompt.message_id });
      // now and then a double press, which must not pay twice
      if (r.chance(0.15)) await u.press(/Simulate payment/, { messageId: prompt.message_id });
    };

    await sleep(r.int(0, 1500));
    while (!stop.stopped) {
      const roll = r.float();
      try {
        if (up.length === 0 || roll < 0.35) {
          const name = `c${n}x${++k}`;
          count('deploy');
          await u.sendText('/deploy dash');
          await text('How many');
          await u.press(r.chance(0.3) ? '2' : '1');
          await text('Where should');
          await u.press('🎲 Anywhere');
          await text('Give it a name');
          await u.sendText(name);
          await text('Please check your order');
          await u.press('✅ Confirm');
          const prompt = await photoOr('wallet covers it');
          if (r.chance(0.1)) {
            count('abandon');
            continue; // left waiting for its payment: the settle phase cancels it
          }
          await pay(prompt);
          const end = await text(new RegExp(`${name}</b> (is up|could not be deployed)`), JOB_WAIT);
          if (/is up/.test(end.text ?? '')) up.push(name);
        } else if (roll < 0.7) {
          const name = r.pick(up);
          const topUp = r.chance(0.5);
          count(topUp ? 'topup' : 'grow');
          await u.sendText(`/extend ${name}`);
          await text('What would you like');
          if (topUp) {
            await u.press('💰 Top up the wallet');
            await text('How much longer');
            await u.press(/^1 week/);
            await pay(await photoOr('\u0000'));
            await text('Top-up received', JOB_WAIT);
          } else {
            await u.press('➕ Add nodes');
            await text('How many nodes');
            await u.press('1');
            await text('Where should the new');
            await u.press('🎲 Anywhere');
            await text(/Add 1 node to|can't add these nodes/);
            await u.press('✅ Confirm');
            await pay(await photoOr('wallet covers it'));
            await text(new RegExp(`Added 1 node to <b>${name}|could not add 1 node to <b>${name}`), JOB_WAIT);
          }
        } else {
          const name = up.splice(r.int(0, up.length - 1), 1)[0]!;
          count('delete');
          await u.sendText(`/delete ${name}`);
          await text(`Delete <b>${name}`);
          await u.press(/Yes, delete/);
          await text(`${name}</b> is deleted`, JOB_WAIT);
        }
      } catch (e) {
        if (stop.stopped) break;
        report.interrupted++;
        // a kill or a fault ate an answer: leave whatever question was open, and go on
        await u.sendText('/cancel');
        await sleep(r.int(100, 1000));
        void e;
      }
    }
  }

  try {
    log(`chaos: seed ${o.seed}, ${o.users} users, ${Math.round(o.durationMs / 1000)} s, kills every ${o.killMinMs}-${o.killMaxMs} ms, grid fault rate ${o.faultRate}, data in ${dataDir}`);
    startChild(o.faultRate);
    const loops = Array.from({ length: o.users }, (_, n) => userLoop(n));

    // ---------------------------------------------------------------- the killer
    const deadline = started + o.durationMs;
    while (Date.now() < deadline) {
      const wait = Math.min(rng.int(o.killMinMs, o.killMaxMs), Math.max(0, deadline - Date.now()));
      await sleep(wait);
      if (Date.now() >= deadline) break;
      const r = await kill('SIGKILL');
      if (r.signal !== 'SIGKILL' && r.code !== null) throw new Error(`the bot exited by itself (code ${r.code}): ${stderrTail.join('').slice(-2000)}`);
      report.kills++;
      if (rng.chance(0.3)) await sleep(rng.int(100, 1500)); // down a while: updates queue up
      startChild(o.faultRate);
      log(`chaos: kill ${report.kills} at ${Math.round((Date.now() - started) / 1000)} s`);
    }
    stop.fire();
    await Promise.allSettled(loops);

    // ---------------------------------------------------------------- settle
    // the last faulty process dies like the others; the bot settles on a healthy grid
    await kill('SIGKILL');
    report.faults += (await logText()).split('\n').filter((l) => l.includes('simulated fault')).length;
    startChild(0);
    const probe = emu.user({ id: FIRST_USER - 1 });
    await probe.sendText('/help');
    await probe.waitForText('What I can do', { timeoutMs: 60_000 });
    const ids = Array.from({ length: o.users }, (_, n) => FIRST_USER + n);
    const settleBy = Date.now() + (o.settleMs ?? 120_000);
    const cancelled = new Set<string>();
    for (;;) {
      const users = await readUsers(dataDir, ids);
      const busy: string[] = [];
      for (const u of users) {
        for (const d of u.deployments) {
          const msg = emu.messages(u.id).at(-1)?.message_id ?? 1;
          if (d.state === 'awaiting_payment' && !cancelled.has(d.id + u.id)) {
            cancelled.add(d.id + u.id);
            await emu.user({ id: u.id }).pressData(msg, `a:cancelorder:${d.id}`);
          }
          if (d.extension?.payment && !cancelled.has(`x${d.id}${u.id}`)) {
            cancelled.add(`x${d.id}${u.id}`);
            await emu.user({ id: u.id }).pressData(msg, `a:xcancel:${d.id}`);
          }
          if (['awaiting_payment', 'provisioning', 'deleting', 'redeploying'].includes(d.state) || d.extension) busy.push(`${u.id}/${d.id}:${d.state}${d.extension ? '+extension' : ''}`);
        }
      }
      const jobs = (await readdir(path.join(dataDir, 'jobs')).catch(() => [])).filter((f) => f.endsWith('.json'));
      if (busy.length === 0 && jobs.length === 0) break;
      if (Date.now() > settleBy) {
        report.violations.push(`the bot did not settle: ${busy.length} deployments mid-change (${busy.slice(0, 5).join(', ')}), ${jobs.length} jobs pending`);
        break;
      }
      await sleep(500);
    }
    // every deposit is credited by the time /wallet answers
    for (const id of ids) {
      const u = emu.user({ id });
      await u.sendText('/wallet');
      await u.waitForText('Your Jukebox wallet', { timeoutMs: 30_000 });
    }
    const stopped = await kill('SIGTERM');
    if (stopped.code !== 0) report.violations.push(`the bot did not stop cleanly on SIGTERM (code ${stopped.code}, signal ${stopped.signal})`);

    // one more clean start: its reconcile pass runs with no job in flight
    const logBefore = (await logText()).length;
    startChild(0);
    const reconciled = await waitFor(async () => {
      const line = (await logText()).slice(logBefore).split('\n').find((l) => l.includes('"pass":"reconcile"') && l.includes('watchdog pass done'));
      return line ? (JSON.parse(line) as { orphans?: number[]; errors: number }) : undefined;
    }, 60_000);
    if (!reconciled) report.violations.push('the reconcile pass at start did not finish within 60 s');
    report.reconciledOrphans = reconciled?.orphans?.length ?? 0;
    if (report.reconciledOrphans > 0) {
      report.violations.push(`the bot had left ${report.reconciledOrphans} contracts no deployment owns (reconcile cancelled ${reconciled!.orphans!.join(', ')})`);
    }
    // the watchdog's other start-up passes may start work (a node a fault took down): let it end
    await sleep(1000);
    await waitFor(async () => ((await readdir(path.join(dataDir, 'jobs')).catch(() => [])).some((f) => f.endsWith('.json')) ? undefined : true), 60_000);
    const last = await kill('SIGTERM');
    if (last.code !== 0) report.violations.push(`the bot did not stop cleanly on SIGTERM (code ${last.code})`);

    // ---------------------------------------------------------------- the invariants
    await checkInvariants(dataDir, ids, report);
    report.ms = Date.now() - started;
    log(summary(report));
    return report;
  } finally {
    stop.fire();
    await kill('SIGKILL').catch(() => undefined);
    await emu.stop();
    if (!o.keepData && !o.dataDir && report.violations.length === 0) await rm(dataDir, { recursive: true, force: true });
  }
}

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) return undefined;
    await sleep(250);
  }
}

async function readUsers(dataDir: string, ids: number[]): Promise<User[]> {
  const store = new UserStore(dataDir, ids.length + 10); // fresh: the child writes the files
  const out: User[] = [];
  for (const id of ids) {
    const file = store.fileOf(id);
    if (!(await stat(file).catch(() => undefined))) continue;
    try {
      const u = await store.get(id);
      if (u) out.push(u);
    } catch {
      // caught between write and rename: next time
    }
  }
  return out;
}

/** The store and the grid agree: each live contract belongs to a live node of a live deployment, each of those is on the grid, each deposit is credited once. */
export async function checkInvariants(dataDir: string, ids: number[], report: ChaosReport): Promise<void> {
  const users = await readUsers(dataDir, ids);
  const grid = await SimGrid.open({ dataDir, seed: SIM_SEED });
  const fail = (s: string) => report.violations.push(s);
  const check = (ok: boolean, why: () => string) => {
    report.checks++;
    if (!ok) fail(why());
  };
  try {
    const contractOwner = new Map<number, string>();
    for (const u of users) {
      const who = `user ${u.id}`;
      const contracts = await grid.contractsOf(u.identity.address);
      const live = new Map(contracts.filter((c) => c.state !== 'deleted').map((c) => [c.contractId, c]));
      report.contractsLive += live.size;
      const owned = new Set<number>();
      for (const d of u.deployments) {
        report.deployments[d.state] = (report.deployments[d.state] ?? 0) + 1;
        check(['active', 'degraded', 'deleted', 'failed'].includes(d.state), () => `${who}: ${d.name} (${d.id}) is still ${d.state} after the bot settled`);
        const running = d.state === 'active' || d.state === 'degraded';
        for (const n of d.nodes.filter((x) => x.state === 'ok')) {
          for (const c of n.contractIds) {
            check(!contractOwner.has(c), () => `contract ${c} is recorded by ${contractOwner.get(c)} and ${who}/${d.name}`);
            contractOwner.set(c, `${who}/${d.name}`);
            if (!running) continue;
            owned.add(c);
            check(live.has(c), () => `${who}: ${d.name} is ${d.state} but its node ${n.index}'s contract ${c} is not live on the grid (lost)`);
            check(!live.has(c) || live.get(c)!.projectName === d.projectName, () => `${who}: contract ${c} of ${d.name} is under project ${live.get(c)!.projectName}, not ${d.projectName}`);
            check(!live.has(c) || live.get(c)!.nodeId === n.nodeId, () => `${who}: ${d.name}'s node ${n.index} records grid node ${n.nodeId}, but its contract ${c} runs on node ${live.get(c)!.nodeId}`);
          }
        }
        if (running) check(d.nodes.filter((x) => x.state === 'ok').length === d.count, () => `${who}: ${d.name} counts ${d.count} nodes but has ${d.nodes.filter((x) => x.state === 'ok').length} running`);
      }
      for (const c of live.values()) {
        check(owned.has(c.contractId), () => `${who}: contract ${c.contractId} (${c.projectName} ${c.deploymentName}) is live on the grid but no running deployment owns it (orphan)`);
      }
      // deposits: every transfer into the wallet credited, exactly once, with its amount
      const transfers = await grid.incomingTransfers(u.identity.address);
      const creditIds = u.credits.map((c) => c.id);
      report.credits += creditIds.length;
      check(new Set(creditIds).size === creditIds.length, () => `${who}: a deposit is credited twice (${creditIds.join(', ')})`);
      const byId = new Map(transfers.map((t) => [t.id, t]));
      for (const c of u.credits) check(byId.get(c.id)?.amount === c.amount, () => `${who}: credit ${c.id} of ${c.amount} is not a transfer of that amount into the wallet`);
      for (const t of transfers) check(creditIds.includes(t.id), () => `${who}: deposit ${t.id} of ${t.amount} was never credited`);
      // each deposit pays one prompt at most: a claim names an order or an extension
      for (const c of u.credits) {
        if (c.paidOrder === undefined || c.paidOrder.startsWith('extend:')) continue;
        check(u.deployments.some((d) => d.id === c.paidOrder), () => `${who}: credit ${c.id} paid order ${c.paidOrder}, which does not exist`);
      }
    }
  } finally {
    await grid.close();
  }
  const failed = await readdir(path.join(dataDir, 'jobs', 'failed')).catch(() => []);
  check(failed.length === 0, () => `${failed.length} jobs were set aside as failing for good: ${failed.join(', ')}`);
}

export function summary(r: ChaosReport): string {
  const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return [
    `chaos: ${r.violations.length === 0 ? 'OK' : `${r.violations.length} VIOLATIONS`} (seed ${r.seed}, ${r.users} users, ${(r.ms / 1000).toFixed(1)} s)`,
    `  process: ${r.kills} SIGKILLs, ${r.starts} starts`,
    `  users: ${kv(r.actions)}; ${r.interrupted} conversations interrupted (tolerated)`,
    `  grid faults injected (seen in the log): ${r.faults}`,
    `  at the end: deployments ${kv(r.deployments)}; ${r.contractsLive} live contracts; ${r.credits} deposits credited`,
    `  invariant checks: ${r.checks}, violations: ${r.violations.length}; orphans the final reconcile cancelled: ${r.reconciledOrphans}`,
    ...r.violations.slice(0, 30).map((v) => `  ✗ ${v}`),
    ...(r.violations.length > 0 ? [`  data kept in ${r.dataDir}`] : []),
  ].join('\n');
}

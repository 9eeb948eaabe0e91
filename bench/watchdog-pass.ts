/**
 * One watchdog pass over N active deployments (default 100,000 users, one node each) on the
 * simulated grid, through the product's own code: the store's watch index, the user files, the
 * sealed identities, the grid reads, and the outbox's durable notice queue.
 *
 *   npx tsx bench/watchdog-pass.ts [--n 100000] [--nodes 8000] [--farms 800]   (npm run bench:watchdog)
 *
 * 1. seeds the sim (one batch) and N user files, each with one active deployment on its contract;
 * 2. times: a health pass (all healthy: nothing to write), a runway pass (a month left: nothing to
 *    say), a runway pass a week before the money runs out (N reminders queued on disk), and a
 *    health pass with one grid node down (the deployments on it found broken, replacements queued).
 * Prints a table and one JSON line; the peak RSS is the process's, seeding included.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from '../src/app.js';
import { SecretBox } from '../src/chain/secret-box.js';
import { ManualClock } from '../src/clock.js';
import type { Deployment } from '../src/domain/deployment.js';
import { DAY_MS, HOURS_PER_MONTH } from '../src/domain/money.js';
import type { User } from '../src/domain/user.js';
import { SimGrid } from '../src/grid/sim/index.js';
import { pino } from 'pino';
import { silentLogger } from '../src/log.js';
import { BotApiEmulator } from '../src/telegram/emulator/index.js';

const { values: args } = parseArgs({
  options: { n: { type: 'string', default: '100000' }, nodes: { type: 'string', default: '8000' }, farms: { type: 'string', default: '800' } },
  strict: true,
});
const N = Number(args.n);
const NODES = Number(args.nodes);
const FARMS = Number(args.farms);
const KEY = Buffer.alloc(32, 9);
const VM = { cru: 1, mruMb: 256, sruGb: 1 };

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const rows: { step: string; s: number; rssMb: number; note?: string }[] = [];
async function timed<T>(step: string, fn: () => Promise<T>, note?: (r: T) => string): Promise<T> {
  const t = performance.now();
  const r = await fn();
  rows.push({ step, s: (performance.now() - t) / 1000, rssMb: mb(process.memoryUsage().rss), ...(note ? { note: note(r) } : {}) });
  return r;
}

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bench-watchdog-'));
const clock = new ManualClock(Date.UTC(2026, 0, 1));
const emu = await BotApiEmulator.start();
let exit = 0;
try {
  const grid = await SimGrid.open({ dataDir, seed: 42, nodes: NODES, farms: FARMS, clock, deployMs: 0 });
  const app = await createApp({
    dataDir,
    log: process.env.BENCH_LOG ? pino({ level: 'error' }, pino.destination(2)) : silentLogger,
    grid,
    chain: grid,
    faucet: grid,
    prober: grid,
    masterKey: KEY,
    telegram: { token: emu.token, apiRoot: emu.apiRoot },
    clock,
    paymentTimeoutMs: 30 * 60_000,
    depositPollMs: 10_000,
    watchdog: 'manual',
  });
  await app.outbox.open();
  const sealed = new SecretBox(KEY).seal('bench mnemonic');

  const slots: number[] = [];
  for (const n of await grid.findNodes({ free: VM })) {
    const fit = Math.min(Math.floor((n.total.cru - n.used.cru) / VM.cru), Math.floor((n.total.mruMb - n.used.mruMb) / VM.mruMb));
    for (let k = 0; k < fit; k++) slots.push(n.nodeId);
  }
  if (slots.length < N) throw new Error(`${NODES} nodes fit only ${slots.length} small VMs; raise --nodes`);
  const nodeOf = (i: number) => slots[Math.floor((i * slots.length) / N)]!;
  const uid = (i: number) => 1_000_000 + i;
  const address = (i: number) => `bench-address-${i}`;

  const contracts = await timed(`seed the sim: ${N} twins, funded, one VM each`, () =>
    grid.batch(async () => {
      const ids: number[] = [];
      for (let i = 0; i < N; i++) {
        const id = { address: address(i), mnemonic: '' };
        await grid.ensureTwin(id);
        await grid.fund(id.address, 10_000); // what grid_client asks to find before a deploy
        const projectName = `jukebox/u${uid(i)}/d1`;
        const r = await grid.deployVms(id, {
          projectName,
          name: 'node_1',
          machines: [{ name: 'node_1', nodeId: nodeOf(i), cpu: VM.cru, memoryMb: VM.mruMb, rootfsGb: VM.sruGb, disks: [], flist: 'x', entrypoint: '', env: {}, publicIp: false, mycelium: false }],
        });
        ids.push(r.contractIds[0]!);
      }
      return ids;
    }),
  );
  const hourly = (await grid.listContracts({ address: address(0), mnemonic: '' }))[0]!.hourlyCost;
  await grid.batch(async () => {
    for (let i = 0; i < N; i++) await grid.fund(address(i), hourly * HOURS_PER_MONTH);
  });

  const userOf = (i: number): User => {
    const node = grid.grid.nodes.find((n) => n.nodeId === nodeOf(i))!;
    const d: Deployment = {
      id: '1',
      name: 'node',
      profileId: 'dash-full',
      count: 1,
      placement: { kind: 'random' },
      inputs: {},
      state: 'active',
      projectName: `jukebox/u${uid(i)}/d1`,
      hourlyCost: hourly,
      nodes: [{ index: 1, gridName: 'node_1', nodeId: node.nodeId, farmId: node.farmId, country: node.country, city: node.city, contractIds: [contracts[i]!], hourlyCost: hourly, state: 'ok', generation: 0 }],
      autoRedeploy: false,
      createdAt: clock.now(),
      updatedAt: clock.now(),
      audit: [],
    };
    return {
      schema: 1,
      id: uid(i),
      chatId: uid(i),
      createdAt: clock.now(),
      identity: { address: address(i), mnemonicSealed: sealed, twinId: 1 },
      settings: {},
      credits: [],
      deployments: [d],
      nextDeploymentId: 2,
      reminders: { epoch: 0, sent: [] },
    };
  };
  await timed(`write ${N} user files + the watch index`, async () => {
    for (let i = 0; i < N; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, N - i) }, (_, k) => app.store.create(uid(i + k), () => userOf(i + k))));
    }
    await app.store.watched.addMany(Array.from({ length: N }, (_, i) => uid(i)));
  });

  const wd = app.watchdog;
  const note = (r: { users: number; errors: number; checked?: number; broken?: number; redeploys?: number; reminders?: number }) =>
    `${r.users} users, ${r.errors} errors` +
    (r.checked !== undefined ? `, ${r.checked} nodes checked, ${r.broken ?? 0} broken, ${r.redeploys ?? 0} replacements` : '') +
    (r.reminders !== undefined ? `, ${r.reminders} reminders queued` : '');
  // the first pass records every chain's sync state (a write per user); later ones write only what moved
  await timed('health pass: first look (each syncing chain recorded)', () => wd.health(), note);
  const health = await timed('health pass: all healthy', () => wd.health(), note);
  const quiet = await timed('runway pass: a month left', () => wd.runway(), note);
  clock.advance(24 * DAY_MS);
  const loud = await timed('runway pass: 6 days left (every user reminded)', () => wd.runway(), note);
  await grid.setNodeStatus(nodeOf(0), 'down');
  const down = await timed(`health pass: grid node ${nodeOf(0)} down`, () => wd.health(), note);
  if (health.errors + quiet.errors + loud.errors + down.errors > 0 || loud.reminders !== N || (down.broken ?? 0) < 1) exit = 1;
  await app.stop();
  await grid.close();
} catch (e) {
  console.error(e);
  exit = 1;
} finally {
  await emu.stop();
  await rm(dataDir, { recursive: true, force: true });
}

const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(`\nwatchdog pass: N = ${N}, ${NODES} nodes, ${FARMS} farms, Node ${process.version}, ${os.cpus().length} CPUs\n`);
console.log('| step | wall s | RSS after, MB | what it did |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.step} | ${r.s.toFixed(2)} | ${r.rssMb} | ${r.note ?? ''} |`);
console.log(`\npeak RSS ${peakRssMb} MB\n`);
console.log(JSON.stringify({ n: N, peakRssMb, steps: rows.map((r) => ({ ...r, s: Number(r.s.toFixed(2)) })) }));
process.exit(exit);

/**
 * The store at scale (issue 6): 100,000 users with 10 deployments each and one user with 1,000, then
 * the bot's start, its memory, and /list and conversation answers for the big user, each measured in
 * a FRESH child process so the generation's memory does not count; then the same data as one lowdb
 * file for all users (the naive design), for comparison.
 *
 *   npx tsx bench/store-scale.ts [--users 100000] [--per-user 10] [--big 1000] [--runs 50]
 *                                [--single-file 10000,100000] [--dir <path>] [--keep]   (npm run bench:store)
 *
 * 1. Generation (this process): the user files are written directly as the JSON the store writes
 *    (lowdb's `JSON.stringify(data, null, 2)`, under users/<id mod 1000>/<id>.json), not through
 *    UserStore.create (zod and lowdb per user; the bytes are the same); the first user of each shape is checked
 *    against UserSchema and read back through UserStore. Deployments are realistic: four profiles,
 *    1–3 nodes with contracts, IPs and sync state, the accepted plan, the payment prompt, sealed
 *    secrets, an audit trail; 8 active, 1 deleted, 1 failed. The watch index lists every user.
 * 2. `core` child: createApp (a grid that must not be called) + the start path without Telegram
 *    (outbox journal, job worker, watch index).
 * 3. `app` child: the simulated grid, the emulator and createApp + start() (polling), as the e2e
 *    harness does (watchdog 'manual'); then, through the emulator, the big user's /list (cold, then
 *    warm × runs), [More ›], a typed answer to /list's question, /deploy, [Dash full node], /cancel,
 *    the same for a 10-deployment user, and UserStore.update of the big user alone.
 * 4. `lowdb` children: one JSON file {users: {id: user}} of N users, read with lowdb, then written.
 * Replies go through the outbox with the harness's generous limits (a burst of 50 /list in one chat
 * would otherwise measure Telegram's 1 message a second per chat, not the store).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    'per-user': { type: 'string', default: '10' },
    big: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '50' },
    'single-file': { type: 'string', default: '10000,100000' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    child: { type: 'string' },
    file: { type: 'string' },
  },
  strict: true,
});
const USERS = Number(args.users);
const PER_USER = Number(args['per-user']);
const BIG = Number(args.big);
const RUNS = Number(args.runs);
const KEY = Buffer.alloc(32, 9);
const T0 = Date.UTC(2026, 0, 1);
const uid = (i: number) => 1_000_000 + i;
const BIG_ID = 999_999;
const SMALL_ID = uid(12_345 % Math.max(1, USERS));

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};
const stats = (xs: number[]) => ({ n: xs.length, p50: round(pct(xs, 50)), p99: round(pct(xs, 99)), max: round(Math.max(...xs)) });

// ---- realistic users ----------------------------------------------------------------------------

const SHAPES = [
  { profileId: 'dash-full', count: 1, hourly: 2_400_000, inputs: {} as Record<string, string>, publicIp: true },
  { profileId: 'presearch', count: 3, hourly: 180_000, inputs: { registrationCode: 'SEALED' }, publicIp: false },
  { profileId: 'digibyte-full', count: 1, hourly: 1_900_000, inputs: {}, publicIp: false },
  { profileId: 'polygon-full', count: 2, hourly: 9_700_000, inputs: {}, publicIp: true, size: 'mainnet' },
] as const;
const PLACES = [
  ['BE', 'Ghent'],
  ['DE', 'Frankfurt'],
  ['US', 'Ashburn'],
  ['EG', 'Cairo'],
  ['CH', 'Zurich'],
] as const;

// The generator builds plain objects of the domain's shape; the types are checked where it is used.
function deployment(userId: number, k: number, sealed: string) {
  const shape = SHAPES[k % SHAPES.length]!;
  const state = k % 10 === 8 ? 'deleted' : k % 10 === 9 ? 'failed' : 'active';
  const at = T0 + k * 3_600_000;
  const id = String(k + 1);
  const name = `${shape.profileId.split('-')[0]}_${k + 1}`;
  const hourly = shape.hourly * shape.count;
  const nodes = state === 'failed' ? [] : Array.from({ length: shape.count }, (_, n) => {
    const [country, city] = PLACES[(k + n) % PLACES.length]!;
    const nodeId = 1 + ((userId * 7 + k * 13 + n) % 8000);
    return {
      index: n + 1,
      gridName: `${name}_${n + 1}`,
      nodeId,
      farmId: 1 + (nodeId % 800),
      country,
      city,
      contractIds: [userId * 100 + k * 4 + n, ...(shape.publicIp ? [userId * 100 + k * 4 + n + 50] : [])],
      ...(shape.publicIp ? { publicIp: `185.69.${(nodeId >> 8) & 255}.${nodeId & 255}` } : {}),
      mycelium: `4${(userId % 0xfff).toString(16)}:${k.toString(16)}:${n}:e3a1:ff0f:7c2b:19d4:${(nodeId & 0xffff).toString(16)}`,
      hourlyCost: shape.hourly,
      state: state === 'deleted' ? 'deleted' : 'ok',
      generation: 0,
      ...(state === 'active' ? { sync: { state: 'synced', progress: 1, height: 2_150_000 + k, since: at + 6 * 3_600_000 } } : {}),
    };
  });
  const audit = [
    { at, by: 'user', to: 'awaiting_payment' },
    { at: at + 60_000, by: 'job', to: 'provisioning', note: 'paid by deposit' },
    state === 'failed'
      ? { at: at + 300_000, by: 'job', to: 'failed', note: 'no node in Cairo has room for 2 more VMs' }
      : { at: at + 300_000, by: 'job', to: 'active' },
    ...(state === 'deleted' ? [{ at: at + 86_400_000, by: 'user', to: 'deleting' }, { at: at + 86_460_000, by: 'job', to: 'deleted' }] : []),
  ];
  return {
    id,
    name,
    profileId: shape.profileId,
    ...('size' in shape ? { size: shape.size } : {}),
    plan: nodes.map((n) => ({ nodeId: n.nodeId, farmId: n.farmId, country: n.country, city: n.city, certified: n.nodeId % 3 === 0, hourlyCost: shape.hourly })),
    count: shape.count,
    placement: { kind: 'random' },
    inputs: Object.fromEntries(Object.keys(shape.inputs).map((key) => [key, sealed])),
    state,
    ...(state === 'failed' ? { reason: 'no node in Cairo has room for 2 more VMs' } : {}),
    projectName: `jukebox/u${userId}/d${id}`,
    hourlyCost: state === 'active' ? hourly : 0,
    payment: {
      required: hourly * 720,
      due: hourly * 720,
      requestedAt: at,
      expiresAt: at + 30 * 60_000,
      uri: `TFT:5D${(userId * 31 + k).toString(36).padStart(46, 'x')}?amount=${Math.ceil((hourly * 720) / 1e7)}&sender=me`,
    },
    nodes,
    autoRedeploy: k % 2 === 0,
    createdAt: at,
    updatedAt: at + 300_000,
    audit,
  };
}

function user(userId: number, deployments: number, sealed: string) {
  return {
    schema: 1,
    id: userId,
    chatId: userId,
    firstName: `User${userId}`,
    createdAt: T0,
    identity: { address: `5D${(userId * 97).toString(36).padStart(46, 'q')}`, mnemonicSealed: sealed, twinId: 1000 + userId },
    settings: { sshKey: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${'b'.repeat(43)} user${userId}@laptop` },
    credits: [{ id: `0x${userId.toString(16)}-1`, amount: 500_000_000, at: T0 }],
    deployments: Array.from({ length: deployments }, (_, k) => deployment(userId, k, sealed)),
    nextDeploymentId: deployments + 1,
    reminders: { epoch: 0, sent: [] as string[] },
  };
}

const userFile = (dir: string, id: number) => path.join(dir, 'users', String(Math.abs(id) % 1000).padStart(3, '0'), `${id}.json`);

async function generate(dir: string): Promise<{ ms: number; bytes: number; bigBytes: number; smallBytes: number }> {
  const { SecretBox } = await import('../src/chain/secret-box.js');
  const { UserSchema } = await import('../src/domain/user.js');
  const box = new SecretBox(KEY);
  const sealed = box.seal('bench mnemonic words twelve of them go here in one line to be sealed');
  // the shapes the store must accept, checked once
  const checkedSmall = UserSchema.parse(user(uid(0), PER_USER, sealed));
  const checkedBig = UserSchema.parse(user(BIG_ID, BIG, sealed));
  const t = performance.now();
  for (let s = 0; s < 1000; s++) await mkdir(path.join(dir, 'users', String(s).padStart(3, '0')), { recursive: true, mode: 0o700 });
  let bytes = 0;
  const put = async (id: number, json: string) => {
    bytes += Buffer.byteLength(json);
    await writeFile(userFile(dir, id), json, { mode: 0o600 });
  };
  const BATCH = 256;
  for (let i = 0; i < USERS; i += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, USERS - i) }, (_, k) => put(uid(i + k), JSON.stringify(user(uid(i + k), PER_USER, sealed), null, 2))));
    if (i % 20_000 === 0 && i > 0) process.stderr.write(`  ${i} users written\n`);
  }
  const bigJson = JSON.stringify(checkedBig, null, 2);
  await put(BIG_ID, bigJson);
  await mkdir(path.join(dir, 'index'), { recursive: true });
  await writeFile(path.join(dir, 'index', 'watched-users.json'), JSON.stringify({ version: 1, users: [BIG_ID, ...Array.from({ length: USERS }, (_, i) => uid(i))] }, null, 2));
  const ms = performance.now() - t;
  // read back through the real store: what is on disk is what it loads
  const { UserStore } = await import('../src/store/user-store.js');
  const store = new UserStore(dir);
  const small = await store.get(uid(0));
  const big = await store.get(BIG_ID);
  if (JSON.stringify(small) !== JSON.stringify(checkedSmall) || big?.deployments.length !== BIG) throw new Error('generated files do not load back as generated');
  return { ms, bytes, bigBytes: Buffer.byteLength(bigJson), smallBytes: Buffer.byteLength(JSON.stringify(checkedSmall, null, 2)) };
}

/** One lowdb file for everyone, in lowdb's own format (2-space indent), streamed so it can exceed a JS string. */
async function generateSingleFile(file: string, n: number): Promise<number> {
  const { SecretBox } = await import('../src/chain/secret-box.js');
  const sealed = new SecretBox(KEY).seal('bench mnemonic words twelve of them go here in one line to be sealed');
  const out = createWriteStream(file);
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write('{\n  "users": {\n');
  const ids = [BIG_ID, ...Array.from({ length: n }, (_, i) => uid(i))];
  for (const [j, id] of ids.entries()) {
    const u = user(id, id === BIG_ID ? BIG : PER_USER, sealed);
    await write(`    "${id}": ${JSON.stringify(u, null, 2).replace(/\n/g, '\n    ')}${j < ids.length - 1 ? ',' : ''}\n`);
  }
  await write('  }\n}');
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
  return (await stat(file)).size;
}

// ---- children -----------------------------------------------------------------------------------

type ChildResult = Record<string, unknown>;

function runChild(mode: string, extra: string[]): Promise<ChildResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, self, '--child', mode, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve({ exitCode: code, ...(JSON.parse(last) as ChildResult) });
      } catch {
        resolve({ exitCode: code, error: `no result (exit ${code}): ${out.slice(-500)}` });
      }
    });
  });
}

const rssNow = () => mb(process.memoryUsage().rss);

async function childCore(dir: string): Promise<ChildResult> {
  const t0 = performance.now();
  const { createApp } = await import('../src/app.js');
  const { silentLogger } = await import('../src/log.js');
  const importedMs = performance.now() - t0;
  const rssBefore = rssNow();
  const refuse = new Proxy({}, { get: (_t, p) => (p === 'then' ? undefined : () => { throw new Error(`the store start called the grid (${String(p)})`); }) });
  const t1 = performance.now();
  const app = await createApp({
    dataDir: dir,
    log: silentLogger,
    grid: refuse as never,
    chain: refuse as never,
    prober: refuse as never,
    masterKey: KEY,
    telegram: { token: '1:unused', apiRoot: 'http://127.0.0.1:9' },
    paymentTimeoutMs: 30 * 60_000,
    depositPollMs: 10_000,
    watchdog: 'manual',
  });
  const createMs = performance.now() - t1;
  const t2 = performance.now();
  await app.outbox.open();
  const resumed = await app.worker.start();
  const watched = (await app.store.watched.all()).length;
  const startMs = performance.now() - t2;
  const result = { importedMs, createMs, startMs, sinceProcessStartMs: performance.now(), resumed, watched, rssBeforeMb: rssBefore, rssAfterMb: rssNow() };
  await app.worker.stop();
  await app.outbox.stopNotices();
  return result;
}

async function childApp(dir: string): Promise<ChildResult> {
  const t0 = performance.now();
  const { createApp } = await import('../src/app.js');
  const { SimGrid } = await import('../src/grid/sim/index.js');
  const { silentLogger } = await import('../src/log.js');
  const { BotApiEmulator } = await import('../src/telegram/emulator/index.js');
  const importedMs = performance.now() - t0;
  const rssImported = rssNow();
  const emu = await BotApiEmulator.start();
  const t1 = performance.now();
  const grid = await SimGrid.open({ dataDir: dir, seed: 7, deployMs: 30 });
  const simMs = performance.now() - t1;
  const rssSim = rssNow();
  const t2 = performance.now();
  const app = await createApp({
    dataDir: dir,
    log: silentLogger,
    grid,
    chain: grid,
    faucet: grid,
    prober: grid,
    masterKey: KEY,
    telegram: { token: emu.token, apiRoot: emu.apiRoot },
    paymentTimeoutMs: 30 * 60_000,
    depositPollMs: 10_000,
    outboxLimits: { perChatPerSecond: 1000, perChatBurst: 1000, perSecond: 1000 },
    watchdog: 'manual',
  });
  const createMs = performance.now() - t2;
  const t3 = performance.now();
  await app.start();
  const startMs = performance.now() - t3;
  const readyAt = performance.now();
  const rssStarted = rssNow();
  const t4 = performance.now();
  const watched = (await app.store.watched.all()).length;
  const indexMs = performance.now() - t4;

  // time from just before an action to the first send/edit in the chat
  let waiting: { chat: number; t: number; resolve: (ms: number) => void } | undefined;
  emu.on('event', (ev: { type: string; chatId: number }) => {
    if ((ev.type === 'send' || ev.type === 'edit') && waiting && ev.chatId === waiting.chat) {
      const w = waiting;
      waiting = undefined;
      w.resolve(performance.now() - w.t);
    }
  });
  type U = ReturnType<typeof emu.user>;
  const time = (u: U, act: () => Promise<void>, done: () => Promise<unknown>): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      waiting = { chat: u.id, t: performance.now(), resolve };
      act().catch(reject);
    }).then(async (ms) => {
      await done();
      return ms;
    });
  const W = { timeoutMs: 60_000 };

  async function scenario(u: U, label: string) {
    const r: Record<string, unknown> = {};
    r.listCold = round(await time(u, () => u.sendText('/list'), () => u.waitForText('Your deployments', W)));
    const rssAfterFirstList = rssNow();
    const list: number[] = [];
    const more: number[] = [];
    const typed: number[] = [];
    const deploy: number[] = [];
    const pick: number[] = [];
    const cancel: number[] = [];
    const paged = (await u.waitForText('Your deployments', W)).reply_markup?.inline_keyboard.flat().some((b) => b.text === 'More ›') ?? false;
    for (let i = 0; i < RUNS; i++) {
      list.push(await time(u, () => u.sendText('/list'), () => u.waitForText('Your deployments', W)));
      if (paged) more.push(await time(u, () => u.press('More ›'), () => u.waitFor((m, ev) => ev.type === 'edit' && /Page 2/.test(m.text ?? ''), W)));
      // an answer to /list's question: a name that is not there, so the same question comes back (state rewritten)
      typed.push(await time(u, () => u.sendText(`nothing_called_${i}`), () => u.waitForText('You have no deployment called', W)));
      deploy.push(await time(u, () => u.sendText('/deploy'), () => u.waitForText('What would you like to deploy?', W)));
      pick.push(await time(u, () => u.press('Dash full node'), () => u.waitForText('How many', W)));
      cancel.push(await time(u, () => u.sendText('/cancel'), () => u.waitForText('Cancelled /deploy', W)));
    }
    Object.assign(r, {
      rssAfterFirstListMb: rssAfterFirstList,
      list: stats(list),
      ...(paged ? { more: stats(more) } : {}),
      typedAnswer: stats(typed),
      deploy: stats(deploy),
      pressDash: stats(pick),
      cancel: stats(cancel),
    });
    process.stderr.write(`  ${label}: ${JSON.stringify(r)}\n`);
    return r;
  }

  const big = await scenario(emu.user({ id: BIG_ID, first_name: 'Big' }), 'big user');
  const rssAfterBig = rssNow();
  const small = await scenario(emu.user({ id: SMALL_ID, first_name: 'Small' }), 'small user');
  // the store's write path alone for the big user: clone + whole-file atomic write
  const upd: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await app.store.update(BIG_ID, (u) => {
      u.settings = { ...u.settings };
    });
    upd.push(performance.now() - t);
  }
  const result = {
    importedMs,
    rssImportedMb: rssImported,
    simMs,
    rssSimMb: rssSim,
    createMs,
    startMs,
    sinceProcessStartMs: readyAt,
    rssStartedMb: rssStarted,
    indexMs,
    watched,
    big,
    rssAfterBigMb: rssAfterBig,
    small,
    storeUpdateBig: stats(upd),
    rssEndMb: rssNow(),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  await app.stop();
  await grid.close();
  await emu.stop();
  return result;
}

async function childLowdb(file: string): Promise<ChildResult> {
  const { Low } = await import('lowdb');
  const { JSONFile } = await import('lowdb/node');
  type Db = { users: Record<string, { flow?: unknown; deployments: unknown[] }> };
  const rssBefore = rssNow();
  const db = new Low<Db>(new JSONFile<Db>(file), { users: {} });
  const t = performance.now();
  try {
    await db.read();
  } catch (e) {
    return { error: `read: ${(e as Error).message}`, afterMs: round(performance.now() - t), rssMb: rssNow(), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
  }
  const loadMs = performance.now() - t;
  const rssLoaded = rssNow();
  const users = Object.keys(db.data.users).length;
  const listT = performance.now();
  const bigDeployments = db.data.users[String(BIG_ID)]!.deployments.length;
  const listMs = performance.now() - listT;
  const writes: number[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      db.data.users[String(BIG_ID)]!.flow = { flow: 'list', version: 1, step: 'pick', token: `t${i}`, data: {}, choices: [], page: 0, updatedAt: Date.now() };
      const w = performance.now();
      await db.write();
      writes.push(performance.now() - w);
    }
  } catch (e) {
    return { users, loadMs: round(loadMs), rssBeforeMb: rssBefore, rssLoadedMb: rssLoaded, error: `write: ${(e as Error).message}`, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
  }
  return { users, bigDeployments, loadMs: round(loadMs), listMs: round(listMs, 3), rssBeforeMb: rssBefore, rssLoadedMb: rssLoaded, write: stats(writes), rssEndMb: rssNow(), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}

// ---- main ---------------------------------------------------------------------------------------

if (args.child) {
  const run = args.child === 'core' ? childCore(args.dir!) : args.child === 'app' ? childApp(args.dir!) : childLowdb(args.file!);
  run.then(
    (r) => {
      console.log(JSON.stringify(r));
      process.exit(0);
    },
    (e: unknown) => {
      console.log(JSON.stringify({ error: String((e as Error).stack ?? e) }));
      process.exit(1);
    },
  );
} else {
  const dir = args.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'bench-store-')));
  let exit = 0;
  try {
    const load = os.loadavg().map((x) => round(x, 2));
    console.error(`generating ${USERS} users × ${PER_USER} deployments + one user with ${BIG} in ${dir}`);
    const gen = await generate(dir);
    console.error(`  done in ${round(gen.ms / 1000)} s, ${mb(gen.bytes)} MB`);
    console.error('core child (store, index, jobs, outbox; no grid, no Telegram)');
    const core = await runChild('core', ['--dir', dir]);
    console.error('app child (sim grid, emulator, createApp + start, /list)');
    const app = await runChild('app', ['--dir', dir, '--runs', String(RUNS), '--users', String(USERS), '--big', String(BIG)]);
    const single: ChildResult[] = [];
    for (const n of (args['single-file'] ?? '').split(',').filter(Boolean).map(Number)) {
      const file = path.join(dir, `single-${n}.json`);
      const t = performance.now();
      const bytes = await generateSingleFile(file, n);
      console.error(`single-file lowdb: ${n} users + the big one, ${mb(bytes)} MB written in ${round((performance.now() - t) / 1000)} s`);
      single.push({ n, fileMb: mb(bytes), ...(await runChild('lowdb', ['--file', file, '--big', String(BIG)])) });
      await rm(file, { force: true });
    }
    const machine = { nproc: os.availableParallelism(), cpu: os.cpus()[0]?.model, node: process.version, loadAtStart: load, loadAtEnd: os.loadavg().map((x) => round(x, 2)) };
    const out = { users: USERS, perUser: PER_USER, big: BIG, runs: RUNS, machine, generation: { s: round(gen.ms / 1000), dataMb: mb(gen.bytes), bigFileKb: Math.round(gen.bigBytes / 1024), smallFileKb: round(gen.smallBytes / 1024) }, core, app, single };
    for (const r of [core, app, ...single]) if ('error' in r && !('n' in r)) exit = 1;
    console.log(JSON.stringify(out, null, 2));
  } finally {
    if (!args.keep) await rm(dir, { recursive: true, force: true });
    else console.error(`kept ${dir}`);
  }
  process.exit(exit);
}

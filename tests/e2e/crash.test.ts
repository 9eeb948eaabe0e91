/**
 * The real process, killed with SIGKILL while it provisions: after a restart the job resumes, the
 * order completes, and the grid holds exactly the contracts the store knows (no orphan). Also: the
 * process stops cleanly on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SimGrid } from '../../src/grid/sim/index.js';
import { UserStore } from '../../src/store/user-store.js';
import { BotApiEmulator } from '../../src/telegram/emulator/index.js';
import { confirmOrder, fillOrder } from '../helpers/chat.js';
import { eventually } from '../helpers/eventually.js';

const TOKEN = '424242:CRASH-TEST-TOKEN-abcdefghijklmnop';
const ROOT = path.resolve(import.meta.dirname, '../..');

let emu: BotApiEmulator;
let dataDir: string;

beforeAll(async () => {
  emu = await BotApiEmulator.start({ token: TOKEN });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-crash-'));
});
afterAll(async () => {
  await emu.stop();
  await rm(dataDir, { recursive: true, force: true });
});

function startProcess(): ChildProcess {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    METRICS: 'off', // test processes run side by side: they would all want port 9464
    TELEGRAM_BOT_TOKEN: TOKEN,
    TELEGRAM_API_ROOT: emu.apiRoot,
    DATA_DIR: dataDir,
    JUKEBOX_MASTER_KEY: '07'.repeat(32),
    SIM_DEPLOY_SECONDS: '2',
    DEPOSIT_POLL_SECONDS: '0.05',
    LOG_STDOUT: 'false',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );


async function liveContractsOnDisk(): Promise<number> {
  const raw = await readFile(path.join(dataDir, 'grid-sim.json'), 'utf8').catch(() => '{"contracts":[]}');
  try {
    return (JSON.parse(raw) as { contracts: { state: string }[] }).contracts.filter((c) => c.state !== 'deleted').length;
  } catch {
    return 0; // caught between write and rename: look again
  }
}

async function killAndRestart(child: ChildProcess): Promise<ChildProcess> {
  const killed = exited(child);
  child.kill('SIGKILL');
  expect((await killed).signal).toBe('SIGKILL');
  return startProcess();
}

async function stopCleanly(child: ChildProcess): Promise<void> {
  const stopped = exited(child);
  child.kill('SIGTERM');
  expect((await stopped).code).toBe(0);
}

/** The grid's live contracts of the address are exactly the ones the store records: nothing orphaned, nothing lost. */
async function expectGridToHoldExactly(address: string, contractIds: number[]): Promise<void> {
  const grid = await SimGrid.open({ dataDir, seed: 42 });
  try {
    const onGrid = (await grid.contractsOf(address)).filter((c) => c.state !== 'deleted').map((c) => c.contractId);
    expect(onGrid.sort()).toEqual([...contractIds].sort());
  } finally {
    await grid.close();
  }
}

describe('a crash in the middle of provisioning', () => {
  it('resumes after SIGKILL and leaves no contract the store does not own', async () => {
    let child = startProcess();
    const u = emu.user({ id: 777, first_name: 'Crash' });
    await u.sendText('/start');
    await u.waitForText('Welcome', { timeoutMs: 30_000 });
    await fillOrder(u, { name: 'phoenix', count: '2' });
    await confirmOrder(u);
    await u.press(/Simulate payment/);

    // node 1 is up and node 2's contract exists on the grid, but its deploy has not returned yet
    await u.waitForText('node 2 of 2', { timeoutMs: 20_000 });
    await eventually("node 2's contract is on the grid", async () => (await liveContractsOnDisk()) === 2, 20_000);
    child = await killAndRestart(child);
    await u.waitForText('phoenix</b> is up', { timeoutMs: 30_000 });

    await stopCleanly(child);

    const user = (await new UserStore(dataDir).get(777))!;
    const d = user.deployments[0]!;
    expect(d.state).toBe('active');
    expect(d.nodes).toHaveLength(2);
    await expectGridToHoldExactly(user.identity.address, d.nodes.flatMap((n) => n.contractIds));
  }, 90_000);
});

describe('a crash in the middle of replacing a node', () => {
  it('finishes the swap after SIGKILL: one new node, the old one cancelled, nothing orphaned', async () => {
    // the deployment the test above left running, with two nodes
    let child = startProcess();
    const u = emu.user({ id: 777, first_name: 'Crash' });
    const before = (await new UserStore(dataDir).get(777))!.deployments[0]!;
    await u.sendText('/redeploy phoenix 1');
    await u.waitForText('Replace node 1 of <b>phoenix</b>', { timeoutMs: 30_000 });
    await u.press(/Yes, replace node 1/);

    // the replacement's contract exists, its deploy has not returned: the old and the new coexist
    await eventually("the replacement's contract is on the grid", async () => (await liveContractsOnDisk()) === 3, 20_000);
    child = await killAndRestart(child);
    await u.waitForText('Node 1 of <b>phoenix</b> was replaced', { timeoutMs: 30_000 });
    await stopCleanly(child);

    const user = (await new UserStore(dataDir).get(777))!;
    const d = user.deployments[0]!;
    expect(d.state).toBe('active');
    // the untouched node is the same one (the watchdog may have recorded its chain's progress meanwhile)
    const { sync: _now, ...kept } = d.nodes[1]!;
    const { sync: _then, ...was } = before.nodes[1]!;
    expect(kept).toEqual(was);
    expect(d.nodes[0]!.gridName).toBe('phoenix_1_1');
    expect(d.nodes[0]!.nodeId).not.toBe(before.nodes[0]!.nodeId);
    await expectGridToHoldExactly(user.identity.address, d.nodes.flatMap((n) => n.contractIds));
  }, 90_000);
});

describe('when Telegram ends the polling', () => {
  it('the process exits non-zero instead of staying up deaf', async () => {
    const child = startProcess();
    const u = emu.user({ id: 778 });
    await u.sendText('/help');
    await u.waitForText('What I can do', { timeoutMs: 30_000 });
    const done = exited(child);
    emu.failNext('getUpdates', { error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
    await u.sendText('/help'); // ends the long poll in flight; the next one gets the 409
    expect((await done).code).toBe(1);
  }, 60_000);
});

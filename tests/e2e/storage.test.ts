/**
 * Quantum-safe storage through the real bot: /deploy → size → redundancy → where → name → confirm →
 * pay → 0-db backends on distinct grid nodes, the zstor config as a document, /status, /delete.
 * Also: a backend that fails is retried on another node, one that keeps failing rolls the order
 * back, bad sizes are refused, and a SIGKILL mid-provisioning orphans nothing.
 */
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import type { Deployment } from '../../src/domain/deployment.js';
import { UNITS_PER_TFT } from '../../src/domain/money.js';
import { SimGrid } from '../../src/grid/sim/index.js';
import { UserStore } from '../../src/store/user-store.js';
import type { EmulatedUser, EmuMessage } from '../../src/telegram/emulator/index.js';
import { BotApiEmulator } from '../../src/telegram/emulator/index.js';
import { confirmOrder } from '../helpers/chat.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

interface Backend {
  address: string;
  namespace: string;
  password: string;
}
interface ZstorFile {
  minimal_shards: number;
  expected_shards: number;
  encryption: { algorithm: string; key: string };
  compression: { algorithm: string };
  meta: { type: string; config: { encryption: { key: string }; backends: Backend[] } };
  groups: { backends: Backend[] }[];
}

/** /deploy storage up to the order summary. */
async function fillStorageOrder(u: EmulatedUser, o: { name: string; size: string; scheme: string }): Promise<EmuMessage> {
  await u.sendText('/deploy');
  await u.waitForText('What would you like to deploy?');
  await u.press('Quantum-safe storage');
  await u.waitForText('How much storage?');
  await u.press(o.size);
  await u.waitForText('How much redundancy');
  await u.press(o.scheme);
  await u.waitForText('Where should');
  await u.press('🎲 Anywhere');
  await u.waitForText('Give it a name');
  await u.sendText(o.name);
  return u.waitForText('Please check your order');
}

const userOf = async (id: number) => (await h!.app.store.get(id))!;
const liveContracts = async (address: string) =>
  (await h!.grid.contractsOf(address)).filter((c) => c.state !== 'deleted');
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

describe('quantum-safe storage', () => {
  it('deploys 1 TB at 16 + 4 on 20 distinct nodes plus 4 metadata 0-dbs, sends the zstor config, and deletes all 24', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 601 });
    const summary = await fillStorageOrder(u, { name: 'Vault_1', size: '1 TB', scheme: '16 + 4 (default)' });
    expect(summary.text).toContain('<b>1 TB</b> usable');
    expect(summary.text).toContain('20 data backends of 70 GB on 20 different nodes');
    expect(summary.text).toContain('any 4 of the 20 nodes can be lost');
    await confirmOrder(u);
    await u.press(/Simulate payment/);
    const up = await u.waitForText('vault_1</b> is up', { timeoutMs: 30_000 });
    expect(up.text).toContain('zstor -c /etc/zstor-default.toml monitor');
    expect(up.text).toContain('zdbfs /mnt/qsfs -o autons');
    const doc = await u.waitFor((m) => m.kind === 'document', { label: 'the zstor config' });
    expect(doc.document!.filename).toBe('zstor-vault_1.toml');
    expect(doc.caption).toContain('zstor configuration');

    const user = await userOf(601);
    const d = user.deployments[0]!;
    expect(d.state).toBe('active');
    expect(d.storage).toEqual({ usableGb: 1000, data: 16, parity: 4, backendGb: 70, metaGb: 1 });
    expect(d.count).toBe(24);
    expect(d.nodes).toHaveLength(24);
    const data = d.nodes.filter((n) => n.zdb?.role === 'data');
    const meta = d.nodes.filter((n) => n.zdb?.role === 'meta');
    expect(data).toHaveLength(20);
    expect(meta).toHaveLength(4);
    expect(new Set(data.map((n) => n.nodeId)).size).toBe(20);
    expect(new Set(meta.map((n) => n.nodeId)).size).toBe(4);
    expect(new Set(d.nodes.map((n) => n.gridName)).size).toBe(24);
    expect(d.nodes.every((n) => /^[a-z0-9]+$/.test(n.gridName) && n.contractIds.length === 1)).toBe(true);
    expect(d.hourlyCost).toBe(d.nodes.reduce((s, n) => s + n.hourlyCost, 0));

    // the grid holds exactly the store's contracts, each backend a zdb of the right mode and size
    expect(sorted((await liveContracts(user.identity.address)).map((c) => c.contractId))).toEqual(sorted(d.nodes.flatMap((n) => n.contractIds)));
    const identity = h.app.services.users.identityOf(user);
    for (const n of d.nodes) {
      const [z] = await h.grid.getZdbs(identity, d.projectName, n.gridName);
      expect(z).toMatchObject({ state: 'ok', mode: n.zdb!.role === 'data' ? 'seq' : 'user', sizeGb: n.zdb!.role === 'data' ? 70 : 1, namespace: n.zdb!.namespace });
    }

    // the document parses, lists every backend once with its address, namespace and password
    const cfg = parse(doc.document!.bytes.toString('utf8')) as unknown as ZstorFile;
    expect(cfg.minimal_shards).toBe(16);
    expect(cfg.expected_shards).toBe(20);
    expect(cfg.encryption.algorithm).toBe('AES');
    expect(cfg.encryption.key).toMatch(/^[0-9a-f]{64}$/);
    expect(cfg.meta.config.encryption.key).toMatch(/^[0-9a-f]{64}$/);
    expect(cfg.compression.algorithm).toBe('snappy');
    expect(cfg.meta.type).toBe('zdb');
    expect(cfg.meta.config.backends).toHaveLength(4);
    expect(cfg.groups).toHaveLength(1);
    expect(cfg.groups[0]!.backends).toHaveLength(20);
    const secrets = h.app.services.deployments.generatedSecrets(d);
    for (const n of d.nodes) {
      const pool = n.zdb!.role === 'data' ? cfg.groups[0]!.backends : cfg.meta.config.backends;
      const entry = pool.filter((b) => b.namespace === n.zdb!.namespace);
      expect(entry).toHaveLength(1);
      expect(entry[0]!.password).toBe(secrets[`zdb:${n.index}`]);
      expect(entry[0]!.address).toBe(`[${n.zdb!.ips[0]}]:9900`);
    }
    // the secrets are at rest only sealed, and the chat showed them only in the document
    const file = await readFile(path.join(h.dataDir, 'users', String(601 % 1000), '601.json'), 'utf8');
    expect(file).not.toContain(cfg.encryption.key);
    expect(file).not.toContain(secrets['zdb:1']);
    expect(u.messages().filter((m) => (m.text ?? m.caption ?? '').includes(cfg.encryption.key))).toHaveLength(0);

    await u.sendText('/status vault_1');
    const status = await u.waitForText('Storage: 1 TB usable');
    expect(status.text).toContain('16 + 4');
    await u.waitForText('<b>Backend 24</b> · metadata, 1 GB');
    const blocks = u.messages().filter((m) => m.message_id >= status.message_id).map((m) => m.text ?? '').join('\n');
    expect(blocks).toContain(`namespace <code>${data[0]!.zdb!.namespace}</code>`);
    expect(blocks).toContain(`[${data[0]!.zdb!.ips[0]}]:9900`);

    await u.sendText('/delete vault_1');
    await u.waitForText('Delete <b>vault_1</b>');
    await u.press(/Yes, delete/);
    const gone = await u.waitForText('vault_1</b> is deleted', { timeoutMs: 15_000 });
    expect(gone.text).toContain('24 contracts cancelled');
    expect(await liveContracts(user.identity.address)).toHaveLength(0);
    expect((await userOf(601)).deployments[0]!.state).toBe('deleted');
  }, 60_000);

  it('retries a backend that fails on another node, keeping the data backends on distinct nodes', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 602 });
    await fillStorageOrder(u, { name: 'retry', size: '100 GB', scheme: '8 + 2' });
    await confirmOrder(u);
    h.grid.failNextDeploy('zdb container exited unexpectedly', 2);
    await u.press(/Simulate payment/);
    await u.waitForText('retry</b> is up', { timeoutMs: 30_000 });
    await u.waitFor((m) => m.kind === 'document');

    const user = await userOf(602);
    const d = user.deployments[0]!;
    expect(d.nodes).toHaveLength(14);
    const data = d.nodes.filter((n) => n.zdb?.role === 'data');
    expect(new Set(data.map((n) => n.nodeId)).size).toBe(10);
    const all = await h.grid.contractsOf(user.identity.address);
    const failed = all.filter((c) => c.state === 'deleted');
    expect(failed).toHaveLength(2);
    // both failures were backend 1's first two nodes; it runs on a third, which no other data backend uses
    expect(failed.every((c) => c.deploymentName === 'retryd1')).toBe(true);
    expect(data.some((n) => failed.some((c) => c.nodeId === n.nodeId))).toBe(false);
    expect(sorted(all.filter((c) => c.state !== 'deleted').map((c) => c.contractId))).toEqual(sorted(d.nodes.flatMap((n) => n.contractIds)));
  }, 60_000);

  it('rolls the whole order back when a backend keeps failing, charging nothing', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 603 });
    await fillStorageOrder(u, { name: 'doomed', size: '100 GB', scheme: '4 + 2' });
    await confirmOrder(u);
    const due = (await userOf(603)).deployments[0]!.payment!.due;
    h.grid.failNextDeploy('failed to create namespace: no space left on device', 3);
    await u.press(/Simulate payment/);
    const failed = await u.waitForText('could not be deployed', { timeoutMs: 30_000 });
    expect(failed.text).toContain('storage backend 1: the node could not start the 0-db');
    const user = await userOf(603);
    expect(user.deployments[0]!.state).toBe('failed');
    expect(await liveContracts(user.identity.address)).toHaveLength(0);
    expect(await h.grid.balance(user.identity.address)).toBe(due);
    expect(u.messages().some((m) => m.kind === 'document')).toBe(false);
  }, 60_000);

  it('refuses sizes and redundancies it does not offer, saying why, and asks again', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 604 });
    await u.sendText('/deploy storage');
    await u.waitForText('How much storage?');
    await u.sendText('5 GB');
    expect((await u.waitForText('too small')).text).toContain('from 10 GB to 20 TB');
    await u.sendText('50 TB');
    await u.waitForText('50 TB is too large');
    await u.sendText('a lot');
    await u.waitForText('Please send a size such as');
    await u.sendText('10.5');
    await u.waitForText('whole number of GB');
    await u.sendText('2.5 TB');
    const q = await u.waitForText('How much redundancy for 2.5 TB?');
    expect(q.text).toContain('any 4 of the 20 nodes can be lost');
    expect(q.text).toContain('any 2 of the 6 nodes can be lost');
    await u.sendText('3 + 1');
    await u.waitForText('Please choose one of the buttons (16 + 4, 8 + 2, 4 + 2)');
    await u.sendText('8+2');
    await u.waitForText('Where should the 10 nodes run?');
    await u.sendText('/cancel');
    await u.waitForText('Cancelled /deploy');
    expect((await userOf(604)).deployments).toHaveLength(0);
  }, 30_000);
});

// ---------------------------------------------------------------- replacing backends, adding storage

/** /deploy 100 GB at 4 + 2 (6 data backends of 28 GB, 4 metadata), paid; waits until its job is done. */
async function deployedStorage(u: EmulatedUser, name: string): Promise<Deployment> {
  await fillStorageOrder(u, { name, size: '100 GB', scheme: '4 + 2' });
  await confirmOrder(u);
  await u.press(/Simulate payment/);
  await u.waitForText(`${name}</b> is up`, { timeoutMs: 30_000 });
  await u.waitFor((m) => m.kind === 'document', { label: 'the zstor config' });
  await h!.app.worker.idle();
  return (await userOf(u.id)).deployments[0]!;
}

/** The first document after `after`: an updated zstor config. */
const configAfter = (u: EmulatedUser, after: EmuMessage) =>
  u.waitFor((m) => m.kind === 'document' && m.message_id > after.message_id, { label: 'the updated zstor config' });
const parseConfig = (m: EmuMessage) => parse(m.document!.bytes.toString('utf8')) as unknown as ZstorFile;

/** The config lists exactly the store's live backends, each once, in one zstor group, with its password and address. */
function expectConfigOf(cfg: ZstorFile, d: Deployment): void {
  const live = d.nodes.filter((n) => n.state === 'ok' && n.zdb);
  const secrets = h!.app.services.deployments.generatedSecrets(d);
  const entry = (n: (typeof live)[number]): Backend => ({ address: `[${n.zdb!.ips[0]}]:9900`, namespace: n.zdb!.namespace, password: secrets[`zdb:${n.index}`]! });
  // one zstor group: with several, zstor enumerates every spread of the shards over them for each object
  expect(cfg.groups).toHaveLength(1);
  expect(cfg.groups[0]!.backends).toEqual(live.filter((n) => n.zdb!.role === 'data').map(entry));
  expect(cfg.meta.config.backends).toEqual(live.filter((n) => n.zdb!.role === 'meta').map(entry));
  const listed = [...cfg.groups.flatMap((g) => g.backends), ...cfg.meta.config.backends].map((b) => b.namespace);
  expect(new Set(listed).size).toBe(listed.length);
  expect(listed).toHaveLength(live.length);
}

describe('storage over time', () => {
  it('replaces a data backend whose node went down within one health pass, and sends the updated config', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 611 });
    const before = await deployedStorage(u, 'keeper');
    const address = (await userOf(611)).identity.address;
    // healthy backends are found healthy: 0-dbs, not missing machines
    expect(await h.app.watchdog.health()).toMatchObject({ checked: 10, broken: 0, redeploys: 0 });

    const victim = before.nodes.find((n) => n.index === 2)!;
    expect(victim.zdb!.role).toBe('data');
    await h.grid.setNodeStatus(victim.nodeId, 'down');
    const pass = await h.app.watchdog.health();
    expect(pass).toMatchObject({ broken: 1, redeploys: 1 });
    await u.waitForText('Storage backend 2 of <b>keeper</b>');
    const moved = await u.waitForText('Data backend 2 of <b>keeper</b> moved', { timeoutMs: 15_000 });
    expect(moved.text).toContain(`the old one on grid node ${victim.nodeId} is cancelled`);
    expect(moved.text).toContain("zstor's repair rebuilds");
    expect(moved.text).toContain('kill -USR1');
    const doc = await configAfter(u, moved);
    expect(doc.document!.filename).toBe('zstor-keeper.toml');
    await h.app.worker.idle();

    const d = (await userOf(611)).deployments[0]!;
    expect(d.state).toBe('active');
    const fresh = d.nodes.find((n) => n.index === 2)!;
    expect(fresh).toMatchObject({ gridName: 'keeperd2g1', generation: 1, state: 'ok' });
    expect(fresh.zdb).toMatchObject({ role: 'data', sizeGb: 28, group: 1 });
    expect(fresh.problem).toBeUndefined();
    const data = d.nodes.filter((n) => n.zdb!.role === 'data');
    expect(new Set(data.map((n) => n.nodeId)).size).toBe(6);
    expect(data.some((n) => n.nodeId === victim.nodeId)).toBe(false);
    // the other backends did not move, and the password stayed
    expect(d.nodes.filter((n) => n.index !== 2)).toEqual(before.nodes.filter((n) => n.index !== 2));
    const secrets = h.app.services.deployments.generatedSecrets(d);
    expect(secrets['zdb:2']).toBe(h.app.services.deployments.generatedSecrets(before)['zdb:2']);
    const [z] = await h.grid.getZdbs(h.app.services.users.identityOf(await userOf(611)), d.projectName, fresh.gridName);
    expect(z).toMatchObject({ state: 'ok', mode: 'seq', sizeGb: 28, nodeId: fresh.nodeId });

    const cfg = parseConfig(doc);
    expect(cfg.groups).toHaveLength(1);
    expectConfigOf(cfg, d);
    expect(cfg.groups[0]!.backends[1]!.address).toBe(`[${fresh.zdb!.ips[0]}]:9900`);
    const all = await h.grid.contractsOf(address);
    expect(all.find((c) => c.contractId === victim.contractIds[0])!.state).toBe('deleted');
    expect(sorted((await liveContracts(address)).map((c) => c.contractId))).toEqual(sorted(d.nodes.flatMap((n) => n.contractIds)));

    expect(await h.app.watchdog.health()).toMatchObject({ broken: 0, redeploys: 0 });
  }, 60_000);

  it('/redeploy moves a metadata backend by hand, off the other metadata nodes, and sends the updated config', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 612 });
    const before = await deployedStorage(u, 'mover');
    const address = (await userOf(612)).identity.address;
    const old = before.nodes.find((n) => n.index === 8)!;
    expect(old.zdb!.role).toBe('meta');

    await u.sendText('/redeploy');
    await u.waitForText('Which node of <b>mover</b>?');
    await u.press(/^Node 8 /);
    const confirm = await u.waitForText('Replace node 8 of <b>mover</b>');
    expect(confirm.text).toContain("zstor's repair rebuilds");
    await u.press(/Yes, replace node 8/);
    const moved = await u.waitForText('Metadata backend 8 of <b>mover</b> moved', { timeoutMs: 15_000 });
    const doc = await configAfter(u, moved);
    await h.app.worker.idle();

    const d = (await userOf(612)).deployments[0]!;
    expect(d.state).toBe('active');
    const fresh = d.nodes.find((n) => n.index === 8)!;
    expect(fresh).toMatchObject({ gridName: 'moverm2g1', generation: 1 });
    expect(fresh.zdb).toMatchObject({ role: 'meta', sizeGb: 1 });
    expect(fresh.nodeId).not.toBe(old.nodeId);
    const meta = d.nodes.filter((n) => n.zdb!.role === 'meta');
    expect(new Set(meta.map((n) => n.nodeId)).size).toBe(4);
    const [z] = await h.grid.getZdbs(h.app.services.users.identityOf(await userOf(612)), d.projectName, fresh.gridName);
    expect(z).toMatchObject({ state: 'ok', mode: 'user', sizeGb: 1 });
    expectConfigOf(parseConfig(doc), d);
    expect((await h.grid.contractsOf(address)).find((c) => c.contractId === old.contractIds[0])!.state).toBe('deleted');
    expect(sorted((await liveContracts(address)).map((c) => c.contractId))).toEqual(sorted(d.nodes.flatMap((n) => n.contractIds)));
  }, 60_000);

  it('/extend → More storage adds a second group of backends on new nodes and sends a config listing all of them', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 613 });
    const before = await deployedStorage(u, 'grower');
    const address = (await userOf(613)).identity.address;

    await u.sendText('/extend grower');
    const menu = await u.waitForText('What would you like to do?');
    const labels = (menu.reply_markup?.inline_keyboard ?? []).flat().map((b) => b.text);
    expect(labels).toContain('💾 More storage');
    expect(labels).not.toContain('➕ Add nodes');
    await u.press('💾 More storage');
    const quote = await u.waitForText('Add 100 GB to grower?');
    expect(quote.text).toContain('It holds 100 GB usable now; then 200 GB');
    expect(quote.text).toContain('6 data backends of 28 GB (4 + 2) on 6 different nodes the deployment does not use yet');
    expect(quote.text).toMatch(/Added cost: <b>[\d.]+ TFT\/h<\/b>, about [\d.,]+ TFT a month/);
    // the order's month is still in the wallet, and covers a month of the added group too
    expect(quote.text).toContain('enough for their first month');
    await u.press('✅ Confirm');
    await u.waitForText('Your wallet covers it. Adding 100 GB to <b>grower</b> now');
    const added = await u.waitForText('Added 100 GB to <b>grower</b>', { timeoutMs: 30_000 });
    expect(added.text).toContain('It now holds 200 GB usable');
    expect(added.text).toContain('kill -USR1');
    const doc = await configAfter(u, added);
    expect(doc.document!.filename).toBe('zstor-grower.toml');
    await h.app.worker.idle();

    const d = (await userOf(613)).deployments[0]!;
    expect(d.state).toBe('active');
    expect(d.extension).toBeUndefined();
    expect(d.nodes.slice(0, 10)).toEqual(before.nodes);
    const group2 = d.nodes.slice(10);
    expect(group2.map((n) => n.index)).toEqual([11, 12, 13, 14, 15, 16]);
    expect(group2.map((n) => n.gridName)).toEqual(['growerd7', 'growerd8', 'growerd9', 'growerd10', 'growerd11', 'growerd12']);
    expect(group2.every((n) => n.zdb?.role === 'data' && n.zdb.group === 2 && n.zdb.sizeGb === 28)).toBe(true);
    expect(new Set(group2.map((n) => n.nodeId)).size).toBe(6);
    expect(group2.some((n) => before.nodes.some((b) => b.nodeId === n.nodeId))).toBe(false);
    expect(d.count).toBe(16);
    expect(d.hourlyCost).toBe(d.nodes.reduce((s, n) => s + n.hourlyCost, 0));

    const cfg = parseConfig(doc);
    expect(cfg.groups).toHaveLength(1);
    expect(cfg.groups[0]!.backends).toHaveLength(12);
    expect(cfg.minimal_shards).toBe(4);
    expect(cfg.expected_shards).toBe(6);
    expectConfigOf(cfg, d);
    const secrets = h.app.services.deployments.generatedSecrets(d);
    expect(new Set(d.nodes.map((n) => secrets[`zdb:${n.index}`])).size).toBe(16);
    expect(sorted((await liveContracts(address)).map((c) => c.contractId))).toEqual(sorted(d.nodes.flatMap((n) => n.contractIds)));

    await u.sendText('/status grower');
    await u.waitForText('Storage: 200 GB usable');
  }, 60_000);

  it('removes only the new backends when adding storage fails, and leaves the deployment as it was', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 614 });
    const before = await deployedStorage(u, 'steady');
    const address = (await userOf(614)).identity.address;
    await h.grid.fund(address, 10_000 * UNITS_PER_TFT); // the wallet covers it: no payment step

    await u.sendText('/extend steady');
    await u.waitForText('What would you like to do?');
    await u.press('💾 More storage');
    await u.waitForText('Add 100 GB to steady?');
    h.grid.failNextDeploy('failed to create namespace: no space left on device', 3);
    await u.press('✅ Confirm');
    await u.waitForText('Adding 100 GB to <b>steady</b> now');
    const failed = await u.waitForText('could not add storage to <b>steady</b>', { timeoutMs: 30_000 });
    expect(failed.text).toContain('storage backend 7');
    await h.app.worker.idle();

    const after = (await userOf(614)).deployments[0]!;
    expect(after.state).toBe('active');
    expect(after.extension).toBeUndefined();
    expect(after.nodes).toEqual(before.nodes);
    expect(after.count).toBe(before.count);
    expect(after.hourlyCost).toBe(before.hourlyCost);
    expect(sorted((await liveContracts(address)).map((c) => c.contractId))).toEqual(sorted(before.nodes.flatMap((n) => n.contractIds)));
    expect(u.messages().filter((m) => m.kind === 'document')).toHaveLength(1);
  }, 60_000);
});

// ---------------------------------------------------------------- the real process, killed

const TOKEN = '525252:STORAGE-CRASH-TOKEN-abcdefghijklm';
const ROOT = path.resolve(import.meta.dirname, '../..');
let emu: BotApiEmulator | undefined;
let crashDir: string | undefined;
afterAll(async () => {
  await emu?.stop();
  if (crashDir) await rm(crashDir, { recursive: true, force: true });
});

function startProcess(dataDir: string, apiRoot: string): ChildProcess {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    METRICS: 'off', // test processes run side by side: they would all want port 9464
    TELEGRAM_BOT_TOKEN: TOKEN,
    TELEGRAM_API_ROOT: apiRoot,
    DATA_DIR: dataDir,
    JUKEBOX_MASTER_KEY: '07'.repeat(32),
    SIM_DEPLOY_SECONDS: '0.3',
    DEPOSIT_POLL_SECONDS: '0.05',
    LOG_STDOUT: 'false',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (b: Buffer) => process.stderr.write(b));
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

async function liveOnDisk(dataDir: string): Promise<number> {
  const raw = await readFile(path.join(dataDir, 'grid-sim.json'), 'utf8').catch(() => '{"contracts":[]}');
  try {
    return (JSON.parse(raw) as { contracts: { state: string }[] }).contracts.filter((c) => c.state !== 'deleted').length;
  } catch {
    return 0; // caught between write and rename: look again
  }
}

describe('a crash while the backends are deployed', () => {
  it('resumes after SIGKILL and leaves no contract the store does not own', async () => {
    emu = await BotApiEmulator.start({ token: TOKEN });
    crashDir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-storage-crash-'));
    let child = startProcess(crashDir, emu.apiRoot);
    const u = emu.user({ id: 605 });
    await u.sendText('/start');
    await u.waitForText('Welcome', { timeoutMs: 30_000 });
    await u.sendText('/deploy storage');
    await u.waitForText('How much storage?', { timeoutMs: 10_000 });
    await u.press('100 GB');
    await u.waitForText('How much redundancy');
    await u.press('4 + 2');
    await u.waitForText('Where should');
    await u.press('🎲 Anywhere');
    await u.waitForText('Give it a name');
    await u.sendText('phoenix');
    await u.waitForText('Please check your order');
    await confirmOrder(u);
    await u.press(/Simulate payment/);

    // backends 1 and 2 are up and backend 3's contract exists, but its deploy has not returned
    await eventually("backend 3's contract is on the grid", async () => (await liveOnDisk(crashDir!)) === 3, 30_000);
    const killed = exited(child);
    child.kill('SIGKILL');
    expect((await killed).signal).toBe('SIGKILL');
    child = startProcess(crashDir, emu.apiRoot);
    await u.waitForText('phoenix</b> is up', { timeoutMs: 60_000 });
    await u.waitFor((m) => m.kind === 'document', { timeoutMs: 10_000 });
    const stopped = exited(child);
    child.kill('SIGTERM');
    expect((await stopped).code).toBe(0);

    const user = (await new UserStore(crashDir).get(605))!;
    const d: Deployment = user.deployments[0]!;
    expect(d.state).toBe('active');
    expect(d.nodes).toHaveLength(10);
    const grid = await SimGrid.open({ dataDir: crashDir, seed: 42 });
    try {
      const live = (await grid.contractsOf(user.identity.address)).filter((c) => c.state !== 'deleted').map((c) => c.contractId);
      expect(sorted(live)).toEqual(sorted(d.nodes.flatMap((n) => n.contractIds)));
    } finally {
      await grid.close();
    }
  }, 120_000);
});

/**
 * /extend and /redeploy through the real bot: a top-up for a chosen period (QR → deposit detected →
 * the new runway), adding nodes to a running deployment (paid first when the wallet lacks their
 * month), and replacing a healthy node by hand.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { formatTft, UNITS_PER_TFT } from '../../src/domain/money.js';
import { deploy } from '../helpers/chat.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const userFile = async (id: number) => (await h.app.store.get(id))!;

describe('/extend', () => {
  it('tops up for a month: the QR asks for a month of the real hourly cost, and the new runway is reported', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 401 });
    await deploy(u, { name: 'topped' });
    await h.app.worker.idle();
    const before = await userFile(401);
    const burn = before.deployments[0]!.hourlyCost;

    await u.sendText('/extend');
    await u.waitForText('What would you like to do?');
    await u.press('💰 Top up the wallet');
    await u.waitForText('How much longer');
    await u.press(/^1 month/);
    const qr = await u.waitFor((m) => m.kind === 'photo');
    const tft = Math.ceil((burn * 30 * 24) / UNITS_PER_TFT);
    expect(qr.caption).toContain(`TFT:${before.identity.address}?amount=${tft}&amp;sender=me`);

    const balanceBefore = await h.grid.balance(before.identity.address);
    await u.press(/Simulate payment/);
    const done = await u.waitForText('Top-up received', { timeoutMs: 10_000 });
    const balance = await h.grid.balance(before.identity.address);
    expect(balance - balanceBefore).toBe(tft * UNITS_PER_TFT);
    const days = Math.floor(Math.floor(balance / burn) / 24);
    expect(done.text).toContain(`that lasts ${days} days`);
    expect((await userFile(401)).deployments[0]!.extension).toBeUndefined();
  }, 30_000);

  it('refuses a typed period out of range, and takes one in range', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 402 });
    await deploy(u, { name: 'typed' });
    await h.app.worker.idle();
    await u.sendText('/extend typed');
    await u.waitForText('What would you like to do?');
    await u.press('💰 Top up the wallet');
    await u.waitForText('How much longer');
    await u.sendText('400');
    await u.waitForText('from 1 to 365');
    await u.sendText('10 days');
    const qr = await u.waitFor((m) => m.kind === 'photo');
    const burn = (await userFile(402)).deployments[0]!.hourlyCost;
    expect(qr.caption).toContain(`amount=${Math.ceil((burn * 240) / UNITS_PER_TFT)}&amp;`);
    await u.press(/✖ Cancel/);
    await u.waitForText('Cancelled. Nothing changed');
    expect((await userFile(402)).deployments[0]!.extension).toBeUndefined();
  }, 30_000);

  it('adds nodes to a running deployment on other grid nodes, paid first, and keeps the first node', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 403 });
    await deploy(u, { name: 'grower' });
    await h.app.worker.idle();
    const first = (await userFile(403)).deployments[0]!.nodes[0]!;

    await u.sendText('/extend grower');
    await u.waitForText('What would you like to do?');
    await u.press('➕ Add nodes');
    await u.waitForText('How many nodes should I add');
    await u.press('2');
    await u.waitForText('Where should the new 2 nodes run?');
    await u.press('🎲 Anywhere');
    await u.waitForText('Add 2 nodes to grower?');
    await u.press('✅ Confirm');
    await u.waitFor((m) => m.kind === 'photo' && (m.caption ?? '').includes('To add 2 nodes'));
    await u.press(/Simulate payment/);
    const added = await u.waitForText('Added 2 nodes to <b>grower</b>', { timeoutMs: 15_000 });
    await h.app.worker.idle();

    const d = (await userFile(403)).deployments[0]!;
    expect(d.count).toBe(3);
    expect(d.nodes.map((n) => n.index)).toEqual([1, 2, 3]);
    expect(d.nodes[0]).toEqual(first);
    expect(new Set(d.nodes.map((n) => n.nodeId)).size).toBe(3);
    expect(d.hourlyCost).toBe(d.nodes.reduce((s, n) => s + n.hourlyCost, 0));
    expect(added.text).toContain(`${formatTft(d.hourlyCost)}/h in all`);
    const live = (await h.grid.contractsOf((await userFile(403)).identity.address)).filter((c) => c.state === 'created');
    expect(live.map((c) => c.contractId).sort()).toEqual(d.nodes.flatMap((n) => n.contractIds).sort());
  }, 30_000);

  it('removes only the new nodes when adding fails, and leaves the deployment as it was', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 404 });
    await deploy(u, { name: 'steady' });
    await h.app.worker.idle();
    const before = (await userFile(404)).deployments[0]!;
    await h.grid.fund((await userFile(404)).identity.address, 10_000 * UNITS_PER_TFT); // no payment step
    h.grid.failNextDeploy('failed to start vm', 100);

    await u.sendText('/extend steady');
    await u.waitForText('What would you like to do?');
    await u.press('➕ Add nodes');
    await u.waitForText('How many nodes should I add');
    await u.press('1');
    await u.waitForText('Where should the new');
    await u.press('🎲 Anywhere');
    await u.waitForText('Add 1 node to steady?');
    await u.press('✅ Confirm');
    await u.waitForText('could not add nodes to <b>steady</b>', { timeoutMs: 15_000 });
    await h.app.worker.idle();
    const after = (await userFile(404)).deployments[0]!;
    expect(after.nodes).toEqual(before.nodes);
    expect(after.state).toBe('active');
    expect(after.extension).toBeUndefined();
    const live = (await h.grid.contractsOf((await userFile(404)).identity.address)).filter((c) => c.state === 'created');
    expect(live.map((c) => c.contractId)).toEqual(before.nodes[0]!.contractIds);
  }, 30_000);
});

describe('/extend against /delete', () => {
  it('a deployment deleted while nodes are being added keeps no node and no contract', async () => {
    h = await startHarness({ deployMs: 1500 }); // each added node takes 1.5 s to come up
    const u = h.emu.user({ id: 407 });
    await deploy(u, { name: 'grower' });
    await h.app.worker.idle();
    const address = (await userFile(407)).identity.address;
    await h.grid.fund(address, 10_000 * UNITS_PER_TFT); // the wallet covers the growth: no payment step

    await u.sendText('/extend grower');
    await u.waitForText('What would you like to do?');
    await u.press('➕ Add nodes');
    await u.waitForText('How many nodes should I add');
    await u.press('2');
    await u.waitForText('Where should the new');
    await u.press('🎲 Anywhere');
    await u.waitForText('Add 2 nodes to grower?');
    await u.press('✅ Confirm');
    await u.waitForText('Adding 2 nodes');

    await u.sendText('/delete grower');
    await u.waitForText('Delete <b>grower</b>');
    await u.press(/Yes, delete/);
    await u.waitForText('grower</b> is deleted', { timeoutMs: 15_000 });
    await eventually('the extension has ended', async () => !h.app.worker.hasActive(407, '1') && (await userFile(407)).deployments[0]!.extension === undefined, 15_000);

    const d = (await userFile(407)).deployments[0]!;
    expect(d.state).toBe('deleted');
    expect(d.nodes.every((n) => n.state === 'deleted')).toBe(true);
    expect((await h.grid.contractsOf(address)).filter((c) => c.state !== 'deleted')).toEqual([]);
    expect(u.messages().some((m) => m.text?.includes('Added 2 nodes'))).toBe(false);
  }, 30_000);
});

describe('/redeploy', () => {
  it('moves a healthy node to another grid node when the user asks, then cancels the old one', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 405 });
    await deploy(u, { name: 'mover', count: '2' });
    await h.app.worker.idle();
    const before = (await userFile(405)).deployments[0]!;

    await u.sendText('/redeploy');
    await u.waitForText('Which node of <b>mover</b>?');
    await u.press(/^Node 2/);
    await u.waitForText('Replace node 2 of <b>mover</b>');
    await u.press(/Yes, replace node 2/);
    await u.waitForText('was replaced', { timeoutMs: 15_000 });
    await h.app.worker.idle();

    const after = (await userFile(405)).deployments[0]!;
    expect(after.state).toBe('active');
    expect(after.nodes[0]).toEqual(before.nodes[0]);
    const moved = after.nodes[1]!;
    expect(moved.nodeId).not.toBe(before.nodes[1]!.nodeId);
    expect(moved.nodeId).not.toBe(before.nodes[0]!.nodeId);
    expect(moved.gridName).toBe('mover_2_1');
    const contracts = await h.grid.contractsOf((await userFile(405)).identity.address);
    expect(contracts.find((c) => c.contractId === before.nodes[1]!.contractIds[0])!.state).toBe('deleted');
    expect(contracts.filter((c) => c.state === 'created').map((c) => c.contractId).sort()).toEqual(after.nodes.flatMap((n) => n.contractIds).sort());
  }, 30_000);

  it('answers a node number that does not exist with the ones that do', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 406 });
    await deploy(u, { name: 'single' });
    await h.app.worker.idle();
    await u.sendText('/redeploy single 7');
    await u.waitForText('has no node 7; its nodes are 1');
  }, 30_000);
});


/**
 * The whole product on the real-grid adapters, through the real bot: TfGrid over a real client pool
 * of fake grid_clients, TfChain and a real ChainWatcher over a scripted TFChain whose blocks carry
 * the deposits and the contract events (tests/helpers/real-adapter-harness.ts). There is no faucet:
 * an order is paid by a transfer into the user's wallet, found in a finalized block.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { dashFull } from '../../src/catalog/dash.js';
import type { Deployment } from '../../src/domain/deployment.js';
import { ceilToTft, formatTft } from '../../src/domain/money.js';
import type { MachinesShape } from '../../src/grid/tfgrid/client-seam.js';
import { networkNameOf } from '../../src/grid/tfgrid/models.js';
import type { EmulatedUser, EmuMessage } from '../../src/telegram/emulator/index.js';
import { confirmOrder, fillOrder } from '../helpers/chat.js';
import { eventually } from '../helpers/eventually.js';
import { connectionLost, isLive, metaOf, timeoutWithRollback } from '../helpers/fake-grid-client.js';
import { SETTINGS, startRealAdapterHarness, type RealAdapterHarness } from '../helpers/real-adapter-harness.js';

const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKgohXRjR97pEigtFr3tTNah4rv2EH3pmRDoJ1ee+qwE root@vm';

let h: RealAdapterHarness;
afterEach(async () => {
  await h?.stop();
});

const userFile = async (id: number) => (await h.app.store.get(id))!;
const order = async (id: number, name: string): Promise<Deployment> => (await userFile(id)).deployments.find((d) => d.name === name)!;
const buttons = (m: EmuMessage) => m.reply_markup?.inline_keyboard.flat().map((b) => b.text) ?? [];
const vmModels = () => h.world.deployed.filter((x) => x.type === 'vm').map((x) => ({ projectName: x.projectName, model: x.model as MachinesShape }));

/** /deploy dash up to the payment prompt (a QR photo); the order and the user's address. */
async function orderUpToPayment(u: EmulatedUser, name: string): Promise<{ prompt: EmuMessage; d: Deployment; address: string }> {
  await fillOrder(u, { name });
  const prompt = await confirmOrder(u);
  const d = await order(u.id, name);
  return { prompt, d, address: (await userFile(u.id)).identity.address };
}

/** Orders a Dash node, pays it with a deposit in a block, and waits until it is up. */
async function deployPaid(u: EmulatedUser, name: string): Promise<{ d: Deployment; address: string; up: EmuMessage; twin: number }> {
  const { d, address } = await orderUpToPayment(u, name);
  await h.untilWatched(address);
  await h.deposit(address, d.payment!.due);
  const up = await u.waitForText(`${name}</b> is up`, { timeoutMs: 15_000 });
  await h.app.worker.idle();
  return { d: await order(u.id, name), address, up, twin: h.twinOf(address)! };
}

describe('the real-grid adapters under the whole product', () => {
  it('deploys a Dash node paid by a deposit, shows it, and deletes every contract of it', async () => {
    h = await startRealAdapterHarness();
    const u = h.emu.user({ id: 4101, first_name: 'Ada' });

    const { prompt, d: ordered, address } = await orderUpToPayment(u, 'dash_one');
    // the real grid has no faucet: the prompt offers paying, never simulating
    expect(buttons(prompt)).toContain('✅ I have paid');
    expect(buttons(prompt)).toContain('🌟 Pay from Stellar instead'); // main.ts sets the network's bridge on a real grid
    expect(buttons(prompt).some((b) => /Simulate/.test(b))).toBe(false);
    expect(ordered.state).toBe('awaiting_payment');
    expect(ordered.projectName).toBe(`jukebox/u4101/d${ordered.id}`);
    expect(prompt.caption).toContain(`TFT:${address}?amount=${ordered.payment!.due / 1e7}&amp;sender=me`);
    expect(h.world.deployed).toEqual([]); // nothing reaches the grid before the money

    // the order's job asked the chain about the wallet: the watcher follows it from then on
    await h.untilWatched(address);
    const { id: depositId } = await h.deposit(address, ordered.payment!.due);
    await u.waitForText('Payment received');
    const up = await u.waitForText('dash_one</b> is up', { timeoutMs: 15_000 });
    await h.app.worker.idle();

    const user = await userFile(4101);
    const d = user.deployments[0]!;
    expect(d.state).toBe('active');
    // the wallet got its twin through the registrar before its first deployment
    const twin = h.twinOf(address)!;
    expect(twin).toBeGreaterThan(0);
    expect(user.identity.twinId).toBe(twin);
    expect(h.registrar.calls).toContain(address);

    // what grid_client was asked to deploy, by the user's own client, under the order's project
    expect(vmModels()).toHaveLength(1);
    const [{ projectName, model }] = vmModels() as [{ projectName: string; model: MachinesShape }];
    expect(projectName).toBe(`jukebox/u4101/d${d.id}`);
    expect(h.clients.filter((c) => c.client.calls.projects.includes(projectName)).map((c) => c.address)).toEqual([address]);
    const secrets = h.app.services.deployments.generatedSecrets(d);
    expect(model).toEqual({
      name: 'dash_one_1',
      network: { name: networkNameOf(projectName, 'dash_one_1'), ip_range: expect.stringMatching(/^10\.\d+\.0\.0\/16$/), addAccess: false },
      machines: [
        {
          name: 'dash_one_1',
          node_id: ordered.plan![0]!.nodeId, // the node the planner chose and the summary showed
          cpu: 3,
          memory: 8192, // MB
          rootfs_size: 80, // GB
          disks: [],
          flist: dashFull.flist,
          entrypoint: '/start_dash.sh',
          env: { rpcuser: 'dash', rpcpasswd: secrets.rpcpassword },
          public_ip: false,
          public_ip6: false,
          planetary: false,
          mycelium: true,
        },
      ],
      description: `jukebox ${projectName}`,
    });
    expect(secrets.rpcpassword).toMatch(/^[\w-]{24}$/);
    expect(up.text).toContain(secrets.rpcpassword!);

    // on chain: the VM contract the deployment records, and the network contract grid_client made next to it
    const live = h.world.liveContracts(twin);
    expect(live.map((r) => metaOf(r).type).sort()).toEqual(['network-light', 'vm']);
    const vm = live.find((r) => metaOf(r).type === 'vm')!;
    expect(d.nodes.map((n) => [n.nodeId, n.contractIds, n.gridName])).toEqual([[model.machines[0]!.node_id, [vm.contractID], 'dash_one_1']]);
    expect(d.nodes[0]!.mycelium).toBe(`5a1:${vm.contractID.toString(16)}::1`);
    expect(up.text).toContain(`grid node ${model.machines[0]!.node_id}`);
    expect(d.hourlyCost).toBe(ordered.hourlyCost);

    await u.sendText('/status dash_one');
    const status = await u.waitForText('Wallet:');
    expect(status.text).toContain(`contracts ${vm.contractID}`);
    expect(status.text).toContain('✅ up');
    expect(status.text).toContain(formatTft(ordered.payment!.due));
    expect(h.prober.asked.at(-1)?.target).toMatchObject({ contractId: vm.contractID, secrets: { rpcpassword: secrets.rpcpassword } });

    // the deposit is credited once, under the chain's id for it (block and event index)
    await u.sendText('/wallet');
    const wallet = await u.waitForText('Your Jukebox wallet');
    expect(wallet.text).toContain('Deposits credited (latest 1 of 1):');
    expect((await userFile(4101)).credits.map((c) => [c.id, c.amount])).toEqual([[depositId, ordered.payment!.due]]);

    // a health pass finds it well (and meets the twin, so chain events about it are acted on)
    const report = await h.app.watchdog.health();
    expect(report).toMatchObject({ checked: 1, broken: 0, errors: 0 });
    // the daily reconcile finds no orphan: the network contract, which the deployment does not record, belongs to its VM
    expect(await h.app.watchdog.reconcile()).toMatchObject({ orphans: [], errors: 0 });
    expect(h.world.liveContracts(twin)).toHaveLength(2);

    await u.sendText('/delete dash_one');
    await u.waitForText('Delete <b>dash_one</b>');
    await u.press(/Yes, delete/);
    const gone = await u.waitForText('dash_one</b> is deleted', { timeoutMs: 10_000 });
    expect(gone.text).toContain('2 contracts cancelled');
    expect(h.world.liveContracts(twin)).toEqual([]);
    expect(h.world.rows.filter((r) => r.twinId === twin).map((r) => r.state)).toEqual(['Deleted', 'Deleted']);
    expect((await userFile(4101)).deployments[0]!.state).toBe('deleted');

    // TFChain reports those cancellations: our own deletion is no incident for the watchdog
    expect(h.pendingEvents).toHaveLength(2);
    const said = u.messages().length;
    await h.block();
    await h.settled();
    expect(u.messages()).toHaveLength(said);
    expect((await userFile(4101)).deployments[0]!.state).toBe('deleted');
    expect(vmModels()).toHaveLength(1);
  });

  it('a Presearch node: public IPv4, a data disk in GB and the SSH key reach grid_client, and the IP it got is shown', async () => {
    h = await startRealAdapterHarness();
    const u = h.emu.user({ id: 4109 });
    await u.sendText('/settings');
    await u.waitForText('SSH key: none');
    await u.sendText(SSH_KEY);
    await u.waitForText('Saved your ssh-ed25519 key');
    const code = 'Ab3'.repeat(10) + 'Z9';

    await fillOrder(u, { type: 'presearch', name: 'searcher', registrationCode: code });
    await confirmOrder(u);
    const ordered = await order(4109, 'searcher');
    const address = (await userFile(4109)).identity.address;
    await h.untilWatched(address);
    await h.deposit(address, ordered.payment!.due);
    const up = await u.waitForText('searcher</b> is up', { timeoutMs: 15_000 });
    await h.app.worker.idle();

    const [{ model }] = vmModels() as [{ projectName: string; model: MachinesShape }];
    expect(model.machines[0]).toMatchObject({
      name: 'searcher_1',
      node_id: ordered.plan![0]!.nodeId,
      cpu: 1,
      memory: 512,
      rootfs_size: 1,
      disks: [{ name: 'docker', size: 10, mountpoint: '/var/lib/docker' }],
      public_ip: true,
      mycelium: true,
      env: { PRESEARCH_REGISTRATION_CODE: code, SSH_KEY },
    });
    const twin = h.twinOf(address)!;
    const vm = h.world.liveContracts(twin).find((r) => metaOf(r).type === 'vm')!;
    expect(vm.numberOfPublicIPs).toBe(1);
    const d = await order(4109, 'searcher');
    expect(d.nodes[0]!.publicIp).toBe(`185.69.166.${vm.contractID % 250}`);
    expect(up.text).toContain(`Public IP ${d.nodes[0]!.publicIp}`);
    // the order was quoted with the public IPv4 priced in, and so is the contract the grid bills before its first bill
    const [listed] = await h.grid.listContracts({ address, mnemonic: 'unused by the fake' }, { projectPrefix: d.projectName });
    expect(listed).toMatchObject({ contractId: vm.contractID, type: 'vm', hourlyCost: d.hourlyCost });
  });

  it('a deployment grid_client times out and rolls back: plain words, nothing charged, no contract left', async () => {
    h = await startRealAdapterHarness();
    const u = h.emu.user({ id: 4102 });
    const { d: ordered, address } = await orderUpToPayment(u, 'doomed');
    await h.untilWatched(address);
    // every try (the planned node, then two others) times out after creating its contracts
    h.world.failNextDeploys(3, () => timeoutWithRollback());
    await h.deposit(address, ordered.payment!.due);

    const failed = await u.waitForText('could not be deployed', { timeoutMs: 15_000 });
    expect(failed.text).toContain('the node did not start the machine in time');
    expect(failed.text).toContain('nothing was charged');
    expect(failed.text).not.toContain('TimeoutError');
    expect(failed.text).toContain(`Your balance is ${formatTft(ordered.payment!.due)}`);
    await h.app.worker.idle();

    const twin = h.twinOf(address)!;
    const tried = vmModels();
    expect(tried).toHaveLength(3);
    expect(new Set(tried.map((t) => t.model.machines[0]!.node_id)).size).toBe(3);
    expect(tried[0]!.model.machines[0]!.node_id).toBe(ordered.plan![0]!.nodeId);
    // each try made a network and a VM contract, and grid_client's rollback cancelled them all
    expect(h.world.rollbacks).toBe(3);
    expect(h.world.rows.filter((r) => r.twinId === twin)).toHaveLength(6);
    expect(h.world.liveContracts(twin)).toEqual([]);
    expect((await order(4102, 'doomed')).state).toBe('failed');
    expect(await h.tfchain.balance(address)).toBe(ordered.payment!.due);

    // the journal records every contract each failed try rolled back
    const done = path.join(h.dataDir, 'jobs', 'done');
    const [file] = (await readdir(done)).filter((f) => f.startsWith('provision'));
    const journal = (JSON.parse(await readFile(path.join(done, file!), 'utf8')) as { journal: Array<{ step: string; data?: { code?: string; rolledBack?: number[] } }> }).journal;
    const failures = journal.filter((e) => e.step === 'node:1:failed');
    expect(failures.map((f) => f.data!.code)).toEqual(['timeout', 'timeout', 'timeout']);
    expect(failures.flatMap((f) => f.data!.rolledBack!).sort()).toEqual(h.world.rows.filter((r) => r.twinId === twin).map((r) => r.contractID).sort());
  });

  it('the connection drops in the middle of a deploy: the order ends in plain words, a fresh client cleans up, nothing stays billed', async () => {
    h = await startRealAdapterHarness();
    const u = h.emu.user({ id: 4110 });
    const { d: ordered, address } = await orderUpToPayment(u, 'dropped');
    await h.untilWatched(address);
    // grid_client created the contracts, then its websocket died under it (no rollback: it could not)
    h.world.failNextDeploys(1, () => ({ error: connectionLost(), afterCreate: true, rollback: false, dropsConnection: true }));
    await h.deposit(address, ordered.payment!.due);

    const failed = await u.waitForText('could not be deployed', { timeoutMs: 15_000 });
    expect(failed.text).toContain('the grid could not be reached');
    expect(failed.text).toContain('nothing was charged');
    await h.app.worker.idle();
    const twin = h.twinOf(address)!;
    expect(h.world.rows.filter((r) => r.twinId === twin)).toHaveLength(2);
    expect(h.world.liveContracts(twin)).toEqual([]);
    // the pool let the dead client go and opened a fresh one for the clean-up
    const mine = h.clients.filter((c) => c.address === address);
    expect(mine.map((c) => c.client.connection.lost)).toEqual([true, false]);
    expect((await order(4110, 'dropped')).state).toBe('failed');
  });

  it('a contract the chain reports cancelled is replaced on another node', async () => {
    h = await startRealAdapterHarness();
    const u = h.emu.user({ id: 4103 });
    const { d, twin } = await deployPaid(u, 'evented');
    const old = d.nodes[0]!;
    const [oldNetwork] = h.world.liveContracts(twin).filter((r) => metaOf(r).type === 'network-light');
    await h.app.watchdog.health(); // the scheduled pass that meets this user's twin

    // cancelled outside the bot; TFChain says so in the next block, and main.ts routes it to the watchdog
    await h.contractEvent('canceled', old.contractIds[0]!);
    const replaced = await u.waitForText('was replaced', { timeoutMs: 15_000 });
    await h.settled();

    const after = await order(4103, 'evented');
    expect(after.state).toBe('active');
    const fresh = after.nodes[0]!;
    expect(fresh.nodeId).not.toBe(old.nodeId);
    expect(fresh.gridName).toBe('evented_1_1');
    expect(replaced.text).toContain(`grid node ${fresh.nodeId}`);
    const models = vmModels();
    expect(models.map((m) => [m.projectName, m.model.name, m.model.machines[0]!.node_id])).toEqual([
      [d.projectName, 'evented_1', old.nodeId],
      [d.projectName, 'evented_1_1', fresh.nodeId],
    ]);
    // the old deployment's network went with it; what is billed now is the new VM and its network
    expect(isLive(h.world.row(oldNetwork!.contractID)!)).toBe(false);
    const live = h.world.liveContracts(twin);
    expect(live.map((r) => [metaOf(r).type, metaOf(r).name, r.nodeID]).sort()).toEqual(
      [
        ['network-light', networkNameOf(d.projectName, 'evented_1_1'), fresh.nodeId],
        ['vm', 'evented_1_1', fresh.nodeId],
      ].sort(),
    );
    expect(fresh.contractIds).toEqual(live.filter((r) => metaOf(r).type === 'vm').map((r) => r.contractID));

    expect(await h.app.watchdog.reconcile()).toMatchObject({ orphans: [], errors: 0 });

    // the chain then reports the network we cancelled ourselves: nothing more happens
    expect(h.pendingEvents.length).toBeGreaterThan(0);
    const said = u.messages().length;
    await h.block();
    await h.settled();
    expect(u.messages()).toHaveLength(said);
    expect(vmModels()).toHaveLength(2);
    expect((await order(4103, 'evented')).nodes[0]).toEqual(fresh);
  });

  it('a node that goes down is replaced by the next health pass, and the old contracts are cancelled on chain', async () => {
    h = await startRealAdapterHarness();
    const u = h.emu.user({ id: 4105 });
    const { d, twin } = await deployPaid(u, 'fragile');
    const old = d.nodes[0]!;
    const oldContracts = h.world.liveContracts(twin).map((r) => r.contractID);
    expect(oldContracts).toHaveLength(2);

    // gridproxy reports it down and it no longer answers over RMB
    h.world.setNodeStatus(old.nodeId, 'down');
    const report = await h.app.watchdog.health();
    expect(report).toMatchObject({ checked: 1, broken: 1, redeploys: 1, errors: 0 });
    const down = await u.waitForText('stopped working');
    expect(down.text).toContain(`grid node ${old.nodeId} is down`);
    await u.waitForText('was replaced', { timeoutMs: 15_000 });
    await h.app.worker.idle();

    const fresh = (await order(4105, 'fragile')).nodes[0]!;
    expect(fresh.nodeId).not.toBe(old.nodeId);
    // grid_client's delete skips a node that does not answer: the adapter cancelled both contracts itself
    expect(h.world.cancelled.sort()).toEqual(oldContracts.sort());
    expect(h.world.liveContracts(twin).map((r) => r.nodeID)).toEqual([fresh.nodeId, fresh.nodeId]);
    expect((await order(4105, 'fragile')).state).toBe('active');
    expect(await h.app.watchdog.health()).toMatchObject({ checked: 1, broken: 0, redeploys: 0 });
  });

  it('a grace period the chain reports is told at once, with a top-up priced from what the contract reserves', async () => {
    h = await startRealAdapterHarness();
    const u = h.emu.user({ id: 4106 });
    const { d, address } = await deployPaid(u, 'starving');
    await h.app.watchdog.health();
    // the grid billed the wallet empty, and put the VM's contract in its grace period
    h.chain.accounts.set(address, { free: 0n });
    await h.contractEvent('grace_started', d.nodes[0]!.contractIds[0]!);

    const told = await u.waitForText('wallet is empty');
    expect(told.kind).toBe('photo');
    expect(told.caption).toContain('paused <b>starving</b>');
    // not billed yet: its cost is the calculator's price for what the node reports it reserves, which
    // is the price the order was quoted; a month of it (the default top-up), and the hour owed
    const amount = ceilToTft(d.hourlyCost * (30 * 24 + 1));
    expect(told.caption).toContain(`Add <b>${formatTft(amount)}</b>`);
    expect(told.caption).toContain(`TFT:${address}?amount=${amount / 1e7}&amp;sender=me`);

    // in grace the node is unpaid, not broken: nothing is replaced
    expect(await h.app.watchdog.health()).toMatchObject({ broken: 0, redeploys: 0 });
    await u.sendText('/status starving');
    const status = await u.waitForText('Wallet:');
    expect(status.text).toContain('grace period');
    expect(vmModels()).toHaveLength(1);
  });

  it('is paid from Stellar through the bridge: the memo names the twin registered while the prompt waits', async () => {
    h = await startRealAdapterHarness();
    const u = h.emu.user({ id: 4107 });
    const { d: ordered, address } = await orderUpToPayment(u, 'bridged');
    // the order's job registers the wallet's twin while the user reads the prompt
    await eventually('the twin is registered', async () => (await userFile(4107)).identity.twinId !== undefined);
    const twin = h.twinOf(address)!;
    expect((await userFile(4107)).identity.twinId).toBe(twin);
    expect(h.world.deployed).toEqual([]);

    await u.press('🌟 Pay from Stellar instead');
    const form = await u.waitForText('to the TFT bridge with the memo');
    const gross = ordered.payment!.due + 1e7; // the bridge keeps 1 TFT
    expect(form.caption).toContain(`<code>twin_${twin}</code>`);
    expect(form.caption).toContain(`TFT:${SETTINGS.bridgeAddress}?message=twin_${twin}&amp;amount=${gross / 1e7}&amp;sender=me`);

    await h.untilWatched(address);
    const mint = await h.bridgeDeposit(address, gross);
    await u.waitForText('bridged</b> is up', { timeoutMs: 15_000 });
    await h.app.worker.idle();
    expect(h.watcher.inbox.list(address)).toEqual([expect.objectContaining({ id: mint.id, from: 'tft-bridge', amount: ordered.payment!.due })]);
    await u.sendText('/wallet');
    await u.waitForText('Deposits credited (latest 1 of 1):');
    expect((await userFile(4107)).credits.map((c) => [c.id, c.amount])).toEqual([[mint.id, ordered.payment!.due]]);
    // one twin, registered once for the order, used by the deployment
    expect(h.registrar.calls.filter((a) => a === address)).toHaveLength(1);
    expect(h.world.liveContracts(twin)).toHaveLength(2);
  });

  it('asks an unverified user to verify with an iDenfy link first, and deploys once the KYC service says verified', async () => {
    h = await startRealAdapterHarness();
    const u = h.emu.user({ id: 4108 });
    await u.sendText('/start');
    await u.waitForText('Welcome to Jukebox');
    const address = (await userFile(4108)).identity.address;
    h.world.kyc.set(address, 'UNVERIFIED');

    await u.sendText('/deploy');
    const asked = await u.waitForText('verify your identity before your first deployment');
    const link = asked.reply_markup!.inline_keyboard.flat().find((b) => b.url !== undefined);
    expect(link?.url).toBe('https://ivs.idenfy.com/api/v2/redirect?authToken=idenfy-session-1');
    expect(h.world.kycAsked).toContain(address);
    expect((await userFile(4108)).deployments).toEqual([]);

    h.world.kyc.set(address, 'PENDING');
    await u.sendText('/verify');
    await u.waitForText('being reviewed');
    h.world.kyc.set(address, 'VERIFIED');
    await u.sendText('/verify');
    await u.waitForText('Your identity is verified');

    const { d } = await deployPaid(u, 'afterkyc');
    expect(d.state).toBe('active');
    expect(vmModels().map((m) => m.projectName)).toEqual([d.projectName]);
  });

  it('counts a deposit once when the watcher reads its block again after a restart', async () => {
    h = await startRealAdapterHarness();
    const u = h.emu.user({ id: 4104 });
    const { d: ordered, address } = await orderUpToPayment(u, 'twice');
    const due = ordered.payment!.due;
    const half = Math.floor(due / 2e7) * 1e7;
    await h.untilWatched(address);

    // part of the payment arrives, and is credited
    const first = await h.deposit(address, half);
    await eventually('the first half is credited', async () => (await userFile(4104)).credits.length === 1);

    // a crash after the inbox recorded the block but before the cursor moved past it
    await h.restart({ rewindCursorTo: first.block - 1 });
    await h.settled();
    expect(h.chain.reads.filter((n) => n === first.block)).toHaveLength(2);
    expect(h.watcher.inbox.list(address).map((t) => t.id)).toEqual([first.id]);

    // the order still waits for the other half: the same deposit read twice is one deposit
    await u.press('✅ I have paid');
    const notYet = await u.waitForText("I don't see the");
    expect(notYet.text).toContain(`your wallet has ${formatTft(half)}`);
    expect((await order(4104, 'twice')).state).toBe('awaiting_payment');
    expect((await userFile(4104)).credits.map((c) => [c.id, c.amount])).toEqual([[first.id, half]]);

    const second = await h.deposit(address, due - half);
    await u.waitForText('twice</b> is up', { timeoutMs: 15_000 });
    await h.app.worker.idle();
    expect((await order(4104, 'twice')).state).toBe('active');
    expect(vmModels()).toHaveLength(1);

    await u.sendText('/wallet');
    const wallet = await u.waitForText('Your Jukebox wallet');
    expect(wallet.text).toContain('Deposits credited (latest 2 of 2):');
    expect((await userFile(4104)).credits.map((c) => [c.id, c.amount])).toEqual([
      [first.id, half],
      [second.id, due - half],
    ]);
    expect(await h.tfchain.balance(address)).toBe(due);
  });
});




/**
 * A user's whole story through the real bot over HTTP: start, deploy (paying on the simulated grid),
 * list, status, delete; and what must hold around it: nobody else can see or touch the deployment,
 * a failed deployment costs nothing, an unpaid order expires.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { confirmOrder, deploy, fillOrder, payAndAwaitUp } from '../helpers/chat.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const userFile = async (id: number) => (await h.app.store.get(id))!;

describe('a user deploys, looks, and deletes', () => {
  it('goes from /start to a running node and back to nothing, paying only what the grid billed', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 101, first_name: 'Ada' });
    await u.sendText('/start');
    const hello = await u.waitForText('Welcome to Jukebox');
    const address = (await userFile(101)).identity.address;
    expect(hello.text).toContain(address);
    expect(h.grid.isValidAddress(address)).toBe(true);

    await u.sendText('/deploy');
    await u.waitForText('What would you like to deploy?');
    await u.press('Dash full node');
    await u.waitForText('How many');
    await u.press('1');
    await u.waitForText('Where should');
    await u.press('🎲 Anywhere');
    await u.waitForText('Give it a name');
    await u.sendText('Node_One');
    await u.waitForText('Please check your order');
    const qr = await confirmOrder(u);
    expect(qr.photo!.subarray(1, 4).toString()).toBe('PNG');
    const dep = (await userFile(101)).deployments[0]!;
    expect(dep.state).toBe('awaiting_payment');
    expect(dep.name).toBe('node_one');
    const amount = Math.ceil(dep.payment!.required / 1e7);
    expect(qr.caption).toContain(`TFT:${address}?amount=${amount}&amp;sender=me`);

    await u.press(/Simulate payment/);
    await u.waitForText('Payment received');
    const up = await u.waitForText('node_one</b> is up', { timeoutMs: 15_000 });
    const active = (await userFile(101)).deployments[0]!;
    expect(active.state).toBe('active');
    expect(active.nodes).toHaveLength(1);
    expect(up.text).toContain(`grid node ${active.nodes[0]!.nodeId}`);
    expect(up.text).toContain('rpcpassword'); // the generated RPC secret, shown this once
    const live = await h.grid.contractsOf(address);
    expect(live.filter((c) => c.state === 'created').map((c) => c.contractId)).toEqual(active.nodes[0]!.contractIds);
    expect(await h.grid.balance(address)).toBe(dep.payment!.due);

    await u.sendText('/list');
    await u.waitForText('Your deployments');
    await u.press(/node_one/);
    const status = await u.waitForText('Wallet:');
    expect(status.text).toContain(`contracts ${active.nodes[0]!.contractIds.join(', ')}`);
    expect(status.text).toContain('✅ up');
    expect(status.text).toMatch(/lasts 30 days/);

    await u.sendText('/wallet');
    const wallet = await u.waitForText('Your Jukebox wallet');
    expect(wallet.text).toContain(address);
    expect(wallet.text).toContain(`Wallet: ${(dep.payment!.due / 1e7).toLocaleString('en-US')}.00 TFT`);
    expect(wallet.text).toMatch(/for all your deployments, that lasts 30 days/);
    expect(wallet.text).toContain(`Deposits credited (latest 1 of 1):`);
    expect(wallet.text).toContain(`+${(dep.payment!.due / 1e7).toLocaleString('en-US')}.00 TFT`);

    await u.sendText('/delete node_one');
    await u.waitForText('Delete <b>node_one</b>');
    await u.press(/Yes, delete/);
    await u.waitForText('node_one</b> is deleted', { timeoutMs: 10_000 });
    expect((await h.grid.contractsOf(address)).every((c) => c.state === 'deleted')).toBe(true);
    expect((await userFile(101)).deployments[0]!.state).toBe('deleted');
    expect(await h.grid.balance(address)).toBe(dep.payment!.due); // no whole hour passed: nothing billed

    await u.sendText('/list');
    await u.waitForText('You have no deployments yet');
  });

  it('keeps one user out of another user’s deployments, whatever they send', async () => {
    h = await startHarness();
    const alice = h.emu.user({ id: 201, first_name: 'Alice' });
    const mallory = h.emu.user({ id: 202, first_name: 'Mallory' });
    await deploy(alice, { name: 'secret' });
    const aliceDep = (await userFile(201)).deployments[0]!;

    await mallory.sendText('/status secret');
    await mallory.waitForText('no deployments yet');
    await mallory.sendText('/delete secret');
    await mallory.waitForText('You have no deployment called “secret”');

    // Mallory's own order, then buttons forged with Alice's deployment id and Alice's flow token
    await fillOrder(mallory, { name: 'mine' });
    const malloryPay = await confirmOrder(mallory);
    await alice.sendText('/delete');
    const aliceQuestion = await alice.waitForText('Which deployment should I delete?');
    const aliceButton = aliceQuestion.reply_markup!.inline_keyboard[0]![0]!.callback_data!;
    await mallory.pressData(malloryPay.message_id, aliceButton);
    expect((await mallory.waitForAnswer()).text).toMatch(/older message/);
    await mallory.pressData(malloryPay.message_id, `a:cancelorder:${aliceDep.id === '1' ? '2' : '1'}`);
    expect((await mallory.waitForAnswer()).text).toMatch(/does not exist/);
    await mallory.pressData(malloryPay.message_id, 'a:constructor:x');
    expect((await mallory.waitForAnswer()).text).toMatch(/no longer works/);

    expect((await userFile(201)).deployments[0]!.state).toBe('active');
    const aliceAddress = (await userFile(201)).identity.address;
    expect((await h.grid.contractsOf(aliceAddress)).filter((c) => c.state === 'created').map((c) => c.contractId)).toEqual(
      aliceDep.nodes[0]!.contractIds,
    );
  });
});

describe('a big order', () => {
  it('reports 30 nodes in messages that fit Telegram, secrets first', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 150 });
    await u.sendText('/deploy dash');
    await u.waitForText('How many');
    await u.sendText('30');
    await u.waitForText('Where should the 30 nodes run?');
    await u.press('🎲 Anywhere');
    await u.waitForText('Give it a name');
    await u.sendText('fleet30');
    await u.waitForText('30 Dash full nodes named <b>fleet30</b>');
    await confirmOrder(u);
    const up = await payAndAwaitUp(u, 'fleet30');
    expect(up.text).toContain('rpcpassword');
    await u.waitForText('<b>Node 30</b>');
    const d = (await userFile(150)).deployments.find((x) => x.name === 'fleet30')!;
    expect(d.state).toBe('active');
    expect(new Set(d.nodes.map((n) => n.nodeId)).size).toBe(30); // 30 distinct grid nodes
    const shown = u.messages().filter((m) => /<b>Node \d+<\/b>/.test(m.text ?? ''));
    expect(shown.length).toBeGreaterThan(1);
    expect(shown.every((m) => m.text!.length <= 4096)).toBe(true);
    for (let i = 1; i <= 30; i++) expect(shown.some((m) => m.text!.includes(`<b>Node ${i}</b>`))).toBe(true);

    await u.sendText('/status fleet30');
    const summary = await u.waitForText('Wallet:');
    expect(summary.text).toMatch(/lasts/);
    await u.waitFor((m) => (m.text ?? '').includes('<b>Node 30</b>') && m.message_id > summary.message_id);
  }, 60_000);
});

describe('money is safe when things go wrong', () => {
  it('rolls back a deployment the grid cannot finish and leaves the balance whole', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 301 });
    await fillOrder(u, { name: 'doomed' });
    await confirmOrder(u);
    h.grid.failNextDeploy('disk failure', 3);
    await u.press(/Simulate payment/);
    const failed = await u.waitForText('could not be deployed', { timeoutMs: 15_000 });
    expect(failed.text).toContain('nothing was charged');
    const user = await userFile(301);
    expect(user.deployments[0]!.state).toBe('failed');
    expect((await h.grid.contractsOf(user.identity.address)).every((c) => c.state === 'deleted')).toBe(true);
    expect(await h.grid.balance(user.identity.address)).toBe(user.deployments[0]!.payment!.due);
    expect(failed.text).toContain(`Your balance is`);
  });

  it('retries a node that fails on another node, and the user sees only success', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 302 });
    await fillOrder(u, { name: 'lucky' });
    await confirmOrder(u);
    h.grid.failNextDeploy('flaky node', 1);
    await u.press(/Simulate payment/);
    await u.waitForText('lucky</b> is up', { timeoutMs: 15_000 });
    const user = await userFile(302);
    const contracts = await h.grid.contractsOf(user.identity.address);
    expect(contracts.filter((c) => c.state === 'created').map((c) => c.contractId)).toEqual(user.deployments[0]!.nodes[0]!.contractIds);
    expect(contracts.filter((c) => c.state === 'deleted')).toHaveLength(1);
  });

  it('cancels an order whose payment never comes, charging nothing', async () => {
    h = await startHarness({ paymentTimeoutMs: 300 });
    const u = h.emu.user({ id: 303 });
    await fillOrder(u, { name: 'unpaid' });
    await confirmOrder(u);
    const msg = await u.waitForText('is cancelled: no payment arrived within', { timeoutMs: 10_000 });
    expect(msg.text).toContain('Nothing was charged');
    expect((await userFile(303)).deployments[0]!.state).toBe('failed');
  });

  it('credits a payment that arrives on its own and says how much is still missing before that', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 304 });
    await fillOrder(u, { name: 'manual' });
    await confirmOrder(u);
    const user = await userFile(304);
    const due = user.deployments[0]!.payment!.due;
    await h.grid.fund(user.identity.address, due - 1e7);
    await u.press('✅ I have paid');
    await u.waitForText(`I don't see the ${(due / 1e7).toLocaleString('en-US')}.00 TFT yet`);
    await h.grid.fund(user.identity.address, 1e7);
    await u.waitForText('Payment received', { timeoutMs: 10_000 });
    await u.waitForText('manual</b> is up', { timeoutMs: 15_000 });
    const credits = (await userFile(304)).credits;
    expect(credits.map((c) => [c.amount, c.paidOrder])).toEqual([
      [due - 1e7, '1'],
      [1e7, '1'],
    ]);
  });
});

describe('an order waiting for its payment', () => {
  it('shows its QR code again in /status', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 306 });
    await fillOrder(u, { name: 'later' });
    const first = await confirmOrder(u);
    await u.sendText('/status later');
    const again = await u.waitFor((m) => m.kind === 'photo');
    expect(again.message_id).not.toBe(first.message_id);
    expect(again.caption).toBe(first.caption);
    await payAndAwaitUp(u, 'later');
  });
});

describe('a crash after the outcome but before the user heard of it', () => {
  it('tells the user on the next start', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 305 });
    await deploy(u, { name: 'told' });
    // put the finished job back as it was on disk just before its last step ("end") was done
    const doneDir = path.join(h.dataDir, 'jobs', 'done');
    await eventually('the job is filed as done', async () => (await readdir(doneDir)).length === 1);
    const [file] = await readdir(doneDir);
    const job = JSON.parse(await readFile(path.join(doneDir, file!), 'utf8')) as { journal: { step: string; phase: string }[] };
    expect(job.journal.at(-1)).toMatchObject({ step: 'end', phase: 'done' });
    job.journal.pop();
    await writeFile(path.join(h.dataDir, 'jobs', file!), JSON.stringify(job));
    await rm(path.join(doneDir, file!));

    await h.restart();
    const again = await u.waitForText('told</b> is up', { timeoutMs: 10_000 });
    expect(again.text).toContain('rpcpassword');
    expect((await userFile(305)).deployments[0]!.state).toBe('active');
    const user = await userFile(305);
    expect((await h.grid.contractsOf(user.identity.address)).filter((c) => c.state === 'created')).toHaveLength(1);
  });

  it('finishes quietly when the user cancelled the order while it was expiring', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 307 });
    await fillOrder(u, { name: 'raced' });
    await confirmOrder(u);
    await u.press('✖ Cancel order');
    await u.waitForText('raced</b> is deleted');
    // the payment job as a crash left it: it had decided the order expired, and begun saying so
    const jobsDir = path.join(h.dataDir, 'jobs');
    await eventually('the provision job is filed as done', async () => (await readdir(path.join(jobsDir, 'done'))).some((f) => f.startsWith('provision')));
    const file = (await readdir(path.join(jobsDir, 'done'))).find((f) => f.startsWith('provision'))!;
    const job = JSON.parse(await readFile(path.join(jobsDir, 'done', file), 'utf8')) as { journal: unknown[] };
    job.journal = [{ at: 0, step: 'end', phase: 'begin', data: { kind: 'expired', reason: 'no payment arrived within 30 minutes' } }];
    await writeFile(path.join(jobsDir, file), JSON.stringify(job));
    await rm(path.join(jobsDir, 'done', file));

    await h.restart();
    await eventually('the resumed job is done', async () => !(await readdir(jobsDir)).includes(file));
    expect(await readdir(path.join(jobsDir, 'failed'))).toEqual([]);
    expect(u.messages().some((m) => m.text?.includes('is cancelled: no payment'))).toBe(false);
    expect((await userFile(307)).deployments[0]!.state).toBe('deleted');
  });
});

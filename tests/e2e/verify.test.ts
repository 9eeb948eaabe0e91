/**
 * Identity verification (KYC), through the real bot: the grid deploys only for verified accounts,
 * so /deploy of an unverified user asks for it first with a link to verify, /verify tells where it
 * stands, and a deployment the grid refuses for it is explained in plain words.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { confirmOrder, deploy, fillOrder } from '../helpers/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const urlButtons = (m: { reply_markup?: { inline_keyboard: { text: string; url?: string }[][] } }) =>
  m.reply_markup?.inline_keyboard.flat().filter((b) => b.url !== undefined) ?? [];

async function newUser(id: number) {
  const u = h.emu.user({ id });
  await u.sendText('/start');
  await u.waitForText('Welcome to Jukebox');
  return { u, address: (await h.app.store.get(id))!.identity.address };
}

describe('identity verification', () => {
  it('an unverified user is asked to verify before /deploy, with a link; once verified, /deploy goes on', async () => {
    h = await startHarness();
    const { u, address } = await newUser(1101);
    h.grid.setVerification(address, 'unverified');

    // the verification service opens a session only for a wallet holding 1 TFT: a new wallet is asked for it first
    await u.sendText('/deploy');
    const fund = await u.waitForText('first asks for at least 1.00 TFT');
    expect(fund.kind).toBe('photo');
    expect(fund.caption).toContain(`<code>TFT:${address}?amount=1&amp;sender=me</code>`);
    expect(urlButtons(fund)).toHaveLength(0);
    await h.grid.fund(address, 1_0000000);

    await u.sendText('/deploy');
    const asked = await u.waitForText('verify your identity before your first deployment');
    expect(asked.text).toContain(`<code>${address}</code>`);
    const [button] = urlButtons(asked);
    expect(button).toEqual({ text: '🪪 Verify my identity', url: `https://kyc.sim.invalid/verify?address=${address}` });
    expect((await h.app.store.get(1101))!.deployments).toHaveLength(0);

    h.grid.setVerification(address, 'pending');
    await u.sendText('/verify');
    await u.waitForText('being reviewed');

    h.grid.setVerification(address, 'verified');
    await u.sendText('/verify');
    await u.waitForText('Your identity is verified');
    await deploy(u, { name: 'afterkyc' });
  });

  it('a rejected verification says so and offers the link again', async () => {
    h = await startHarness();
    const { u, address } = await newUser(1102);
    await h.grid.fund(address, 5_0000000);
    h.grid.setVerification(address, 'rejected');
    await u.sendText('/verify');
    const m = await u.waitForText('was not accepted');
    expect(urlButtons(m)).toHaveLength(1);
  });

  it('a deployment the grid refuses for verification is rolled back with plain words and costs nothing', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 1103 });
    await fillOrder(u, { name: 'revoked' });
    await confirmOrder(u);
    const address = (await h.app.store.get(1103))!.identity.address;
    h.grid.setVerification(address, 'unverified'); // the grid's answer changed after /deploy asked
    await u.press(/Simulate payment/);
    const told = await u.waitForText('could not be deployed', { timeoutMs: 15_000 });
    expect(told.text).toContain('the grid asks you to verify your identity first: send /verify');
    expect(told.text).toContain('nothing was charged');
    expect((await h.grid.contractsOf(address)).filter((c) => c.state !== 'deleted')).toHaveLength(0);
  });
});

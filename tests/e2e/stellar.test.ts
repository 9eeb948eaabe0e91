/**
 * Paying from Stellar through the real bot: the payment prompt offers the bridge form when a bridge
 * is configured, the form names the user's own twin (registered while the order waits), asks for the
 * bridge's fee on top, and the order goes on when the bridged TFT land in the wallet.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../src/clock.js';
import { HOUR_MS } from '../../src/domain/money.js';
import { confirmOrder, deploy, fillOrder } from '../helpers/chat.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const TFT = 10_000_000;
const BRIDGE = 'GA2CWNBUHX7NZ3B5GR4I23FMU7VY5RPA77IUJTIXTTTGKYSKDSV6LUA4';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const labels = (m: { reply_markup?: { inline_keyboard: { text: string }[][] } }) => m.reply_markup?.inline_keyboard.flat().map((b) => b.text) ?? [];

describe('paying from Stellar', () => {
  it('offers the bridge form with the twin memo and the fee, and the bridged TFT pay the order', async () => {
    h = await startHarness({ bridgeAddress: BRIDGE });
    const u = h.emu.user({ id: 801 });
    await fillOrder(u, { name: 'stellarpay' });
    const prompt = await confirmOrder(u);
    expect(labels(prompt)).toContain('🌟 Pay from Stellar instead');
    const order = (await h.app.store.get(801))!.deployments[0]!;
    const due = order.payment!.due;

    // the order's job registers the wallet's twin while the user reads the prompt
    await eventually('the twin is registered', async () => (await h.app.store.get(801))!.identity.twinId !== undefined);
    const twinId = (await h.app.store.get(801))!.identity.twinId!;
    const address = (await h.app.store.get(801))!.identity.address;
    expect(twinId).toBe(await h.grid.ensureTwin({ address, mnemonic: '' }));

    await u.press('🌟 Pay from Stellar instead');
    const form = await u.waitFor((m) => m.kind === 'photo' && (m.caption ?? '').includes('From a Stellar wallet'));
    const asked = Math.ceil(due / TFT) + 1;
    expect(form.caption).toContain(`the memo <code>twin_${twinId}</code>`);
    expect(form.caption).toContain(`<code>TFT:${BRIDGE}?message=twin_${twinId}&amp;amount=${asked}&amp;sender=me</code>`);
    expect(form.caption).toContain('keeps 1.00 TFT as its fee');

    // the bridge mints what arrived, less its fee, onto the twin's account: that is a deposit like any other
    await h.grid.fund(address, asked * TFT - TFT);
    await u.waitForText('stellarpay</b> is up', { timeoutMs: 15_000 });
  });

  it('without a bridge the prompt offers none, and a forged press is refused', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 802 });
    await fillOrder(u, { name: 'nobridge' });
    const prompt = await confirmOrder(u);
    expect(labels(prompt).some((l) => l.includes('Stellar'))).toBe(false);
    const id = (await h.app.store.get(802))!.deployments[0]!.id;
    await u.pressData(prompt.message_id, `a:stellar:${id}`);
    expect((await u.waitForAnswer()).text).toMatch(/not offered/);
  });

  it('another user cannot get the bridge form of an order that is not theirs', async () => {
    h = await startHarness({ bridgeAddress: BRIDGE });
    const owner = h.emu.user({ id: 803 });
    await fillOrder(owner, { name: 'mine' });
    await confirmOrder(owner);
    const id = (await h.app.store.get(803))!.deployments[0]!.id;
    const other = h.emu.user({ id: 804 });
    await other.sendText('/start');
    const welcome = await other.waitForText('Welcome to Jukebox');
    await other.pressData(welcome.message_id, `a:stellar:${id}`);
    expect((await other.waitForAnswer()).text).toMatch(/does not exist/);
    expect(other.messages().some((m) => (m.caption ?? m.text ?? '').includes('twin_'))).toBe(false);
  });

  it('a low-balance reminder carries the bridge form next to the TFChain QR', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock, bridgeAddress: BRIDGE });
    const u = h.emu.user({ id: 805 });
    await deploy(u, { name: 'remindme' });
    await h.app.worker.idle();
    const twinId = (await h.app.store.get(805))!.identity.twinId!;
    for (let t = 0; t < 27 * 24; t += 6) {
      clock.advance(6 * HOUR_MS);
      await h.app.watchdog.runway();
    }
    const reminder = await u.waitForText('runs out in');
    const tfchain = /TFT:\w+\?amount=(\d+)&amp;sender=me/.exec(reminder.caption!);
    expect(tfchain).not.toBeNull();
    expect(reminder.caption).toContain(`<code>TFT:${BRIDGE}?message=twin_${twinId}&amp;amount=${Number(tfchain![1]) + 1}&amp;sender=me</code>`);
    expect(reminder.caption!.length).toBeLessThanOrEqual(1024);
  });
});

/**
 * Conversations: every step answers bad input with a clear message and the question again, stale
 * buttons are recognised, /cancel works anywhere, and a restart resumes where the chat stood.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { confirmOrder, fillOrder } from '../helpers/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

const long = 'x'.repeat(5000);

describe('bad input at every step of /deploy', () => {
  it('answers each one and asks again, charging nothing', async () => {
    const u = h.emu.user({ id: 401 });
    await u.sendText('hello');
    await u.waitForText('Send /help');
    await u.sendText('/frobnicate');
    await u.waitForText("I don't know /frobnicate");

    await u.sendText('/deploy');
    const typeQ = await u.waitForText('What would you like to deploy?');
    await u.sendText('dash please');
    await u.waitForText('Please choose one of the buttons');
    await u.waitForText('What would you like to deploy?');
    await u.press('Presearch node');
    await u.waitForText('How many');

    for (const [input, answer] of [
      ['abc', 'whole number from 1 to 50'],
      ['0', '0 is out of range'],
      ['51', '51 is out of range'],
      ['-3', 'whole number from 1 to 50'],
      ['2.5', 'whole number from 1 to 50'],
      [long, 'whole number from 1 to 50'],
    ] as const) {
      await u.sendText(input);
      await u.waitForText(answer);
      await u.waitForText('How many');
    }
    // a button of an older question is refused, and the current question comes again
    await u.press('Presearch node', { messageId: typeQ.message_id });
    expect((await u.waitForAnswer()).text).toMatch(/older message/);
    await u.waitForText('How many');

    await u.sendText('2');
    await u.waitForText('Where should');
    await u.sendText('Atlantis');
    await u.waitForText('the grid has no node in Atlantis');
    await u.sendText(long);
    await u.waitForText('That is not a place name');
    await u.sendText('anywhere');
    await u.waitForText('Give it a name');

    for (const [input, answer] of [
      ['my dash!', 'A name can only have'],
      ['ab', 'A name can only have'],
      ['1abc', 'A name can only have'],
      ['<b>x</b>', 'A name can only have'],
      ['abcdefghijklmnopqrstu', 'too long (21 characters)'],
      [long, 'too long (5000 characters)'],
      ['\u0000\u0007bell', 'A name can only have'],
      ['名字名字', 'A name can only have'],
    ] as const) {
      await u.sendText(input);
      await u.waitForText(answer);
    }
    await u.sendText('search_2');
    await u.waitForText('registration code');
    await u.sendText('a'.repeat(31));
    await u.waitForText('exactly 32 letters and digits; that was 31 characters');
    await u.sendText(`${'a'.repeat(31)}!`);
    await u.waitForText('had other characters');
    await u.sendText(long);
    await u.waitForText('that was much longer');
    await u.sendText('Z'.repeat(32));
    await u.waitForText('Please check your order');

    await u.sendText('/cancel');
    await u.waitForText('Cancelled /deploy. Nothing was charged.');
    const user = (await h.app.store.get(401))!;
    expect(user.deployments).toHaveLength(0);
    expect(user.flow).toBeUndefined();
    expect(await h.grid.balance(user.identity.address)).toBe(0);

    // no message the bot sent broke Telegram's limits (the emulator would have refused it)
    expect(h.emu.stats().calls.sendMessage).toBeGreaterThan(20);
  });

  it('refuses a name the user already uses', async () => {
    const u = h.emu.user({ id: 402 });
    await fillOrder(u, { name: 'twin' });
    await confirmOrder(u);
    await u.sendText('/deploy dash');
    await u.waitForText('How many');
    await u.press('1');
    await u.waitForText('Where should');
    await u.press('🎲 Anywhere');
    await u.waitForText('Give it a name');
    await u.sendText('TWIN');
    await u.waitForText('You already have a deployment called <b>twin</b>');
  });

  it('handles a double click on Confirm as one order', async () => {
    const u = h.emu.user({ id: 403 });
    const summary = await fillOrder(u, { name: 'once' });
    await Promise.all([u.press('✅ Confirm', { messageId: summary.message_id }), u.press('✅ Confirm', { messageId: summary.message_id })]);
    await u.waitFor((m) => m.kind === 'photo');
    await u.waitForAnswer();
    expect((await h.app.store.get(403))!.deployments).toHaveLength(1);
  });
});

describe('/list', () => {
  it('pages past one screen, and each button opens that deployment’s status', async () => {
    const u = h.emu.user({ id: 406 });
    // twelve orders waiting for payment: placed through the service, as the /deploy flow places them
    await u.sendText('/start');
    await u.waitForText('Welcome');
    for (let i = 1; i <= 12; i++) {
      await h.app.services.deployments.order(
        406,
        { profileId: 'dash-full', count: 1, placement: { kind: 'random' }, name: `order${String(i).padStart(2, '0')}`, inputs: {} },
        45_000_000,
      );
    }
    await u.sendText('/list');
    const page1 = await u.waitForText('12 deployments');
    const labels = (m: typeof page1) => m.reply_markup!.inline_keyboard.flat().map((b) => b.text);
    expect(page1.text).toContain('Page 1 of 2');
    expect(labels(page1).filter((l) => l.startsWith('order'))).toHaveLength(8);
    expect(labels(page1)[0]).toMatch(/^order12 · 1 node · ⏳ awaiting payment$/); // newest first
    await u.press('More ›');
    const page2 = await u.waitFor((m, ev) => ev.type === 'edit' && m.message_id === page1.message_id);
    expect(page2.text).toContain('Page 2 of 2');
    expect(labels(page2).filter((l) => l.startsWith('order'))).toEqual(['order04', 'order03', 'order02', 'order01'].map((n) => `${n} · 1 node · ⏳ awaiting payment`));
    await u.press(/^order03/);
    const status = await u.waitForText('<b>order03</b>');
    expect(status.text).toContain('Wallet:');
  });
});

describe('paging a list that changed meanwhile', () => {
  it('acts on the deployment whose name the pressed button shows', async () => {
    const u = h.emu.user({ id: 407 });
    await u.sendText('/start');
    await u.waitForText('Welcome');
    const order = (name: string) =>
      h.app.services.deployments.order(407, { profileId: 'dash-full', count: 1, placement: { kind: 'random' }, name, inputs: {} }, 45_000_000);
    for (let i = 1; i <= 9; i++) await order(`old${i}`);
    await u.sendText('/delete');
    await u.waitForText('Which deployment should I delete?');
    await order('newest'); // arrives while the question is on screen
    await u.press('More ›');
    await u.waitFor((m, ev) => ev.type === 'edit' && /Page 2/.test(m.text ?? ''));
    await u.press(/^old2 ·/);
    await u.waitForText('Delete <b>old2</b>');
  });
});

describe('/help and /cancel', () => {
  it('lists every command with one line each, the same as the command menu', async () => {
    const u = h.emu.user({ id: 404 });
    await u.sendText('/help');
    const help = await u.waitForText('What I can do');
    for (const { command, description } of h.emu.commands()) expect(help.text).toContain(`/${command} — ${description}`);
    expect(h.emu.commands().map((c) => c.command)).toEqual(['start', 'deploy', 'list', 'status', 'extend', 'redeploy', 'delete', 'wallet', 'verify', 'settings', 'help', 'cancel']);
    await u.sendText('/cancel');
    await u.waitForText('Nothing to cancel');
    await u.sendText('/wallet');
    const wallet = await u.waitForText('Your Jukebox wallet');
    expect(wallet.text).toContain('Wallet: 0.00 TFT');
    expect(wallet.text).toContain('Nothing is being billed right now.');
    expect(wallet.text).toContain('No deposits yet');
  });
});

describe('a restart in the middle of /deploy', () => {
  it('resumes the conversation where it stood, old buttons included', async () => {
    const u = h.emu.user({ id: 405 });
    await u.sendText('/deploy');
    await u.waitForText('What would you like to deploy?');
    await u.press('Dash full node');
    const countQ = await u.waitForText('How many');
    await h.restart();
    await u.press('3', { messageId: countQ.message_id });
    await u.waitForText('Where should the 3 nodes run?');
    await h.restart();
    await u.sendText('anywhere');
    await u.waitForText('Give it a name');
    await u.sendText('after_restart');
    const summary = await u.waitForText('Please check your order');
    expect(summary.text).toContain('3 Dash full nodes named <b>after_restart</b>');
  });
});

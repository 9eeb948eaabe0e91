/**
 * /admin through the real bot: counts that match what was deployed, a user's deployments without
 * their secrets, the watchdog paused across restarts, a broadcast each user gets once even across a
 * restart, and, for everyone not in ADMIN_IDS, no /admin at all: an unknown command, absent from
 * /help and the menu, its buttons stale even when forged or left in their conversation.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { BROADCAST_HEADER } from '../../src/services/admin.js';
import type { EmulatedUser, EmuMessage } from '../../src/telegram/emulator/index.js';
import { confirmOrder, deploy, fillOrder } from '../helpers/chat.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const ADMIN = 9001;
let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const MENU = '🛠 <b>Admin</b>';

async function openAdmin(a: EmulatedUser): Promise<EmuMessage> {
  await a.sendText('/admin');
  return a.waitForText(MENU);
}

/** Presses a menu button and waits for what it says, then for the menu asked again after it. */
async function menuPress(a: EmulatedUser, label: string, says: string): Promise<EmuMessage> {
  await a.press(label);
  const said = await a.waitForText(says);
  await a.waitFor((m) => m.message_id > said.message_id && (m.text ?? '').startsWith(MENU));
  return said;
}

describe('/admin for an admin', () => {
  it('counts what was deployed, and shows a user without their secrets', async () => {
    h = await startHarness({ adminIds: [ADMIN] });
    const running = h.emu.user({ id: 601, first_name: 'Runa' });
    await deploy(running, { name: 'alpha' });
    await h.app.worker.idle();
    const waiting = h.emu.user({ id: 602 });
    await fillOrder(waiting, { name: 'beta' });
    await confirmOrder(waiting); // awaiting payment, its job waiting for the deposit

    const a = h.emu.user({ id: ADMIN });
    await openAdmin(a);
    const counts = await menuPress(a, '📊 Counts', '📊 <b>Counts</b>');
    // the admin is a user too (three files), one user has something billed
    expect(counts.text).toContain('Users: 3 (3 reachable) · with something billed: 1');
    expect(counts.text).toContain('✅ active: 1');
    expect(counts.text).toContain('⏳ awaiting payment: 1');
    expect(counts.text).not.toMatch(/failed|provisioning|deleted/);
    expect(counts.text).toContain(`Jobs in flight: ${h.app.worker.pendingCount()}`);
    expect(h.app.worker.pendingCount()).toBeGreaterThanOrEqual(1);
    expect(counts.text).toContain('Watchdog: ▶️ running');
    expect(counts.text).toMatch(/Outbox: \d+ notices? queued/);

    await a.press('🔎 User…');
    await a.waitForText('Telegram user id');
    await a.sendText('12x');
    await a.waitForText('A Telegram user id is a number');
    await a.sendText('424242');
    await a.waitForText('No user with id 424242');
    await a.sendText('601');
    const found = await a.waitForText('🔎 <b>User 601</b>');
    const file = (await h.app.store.get(601))!;
    const d = file.deployments[0]!;
    expect(found.text).toContain('(Runa)');
    expect(found.text).toContain(file.identity.address);
    expect(found.text).toMatch(/Balance: [\d,]+\.\d+ TFT/);
    expect(found.text).toContain(`<b>alpha</b> #${d.id} · Dash full node · ✅ active`);
    expect(found.text).toMatch(/1\/1 nodes up · [\d.]+ TFT\/h \([\d,.]+ TFT\/month\) · created 20\d\d-/);
    // nothing secret: not the mnemonic (sealed or open), not the generated RPC credentials
    const mnemonic = h.app.services.users.identityOf(file).mnemonic;
    expect(found.text).not.toContain(mnemonic.split(' ').slice(0, 3).join(' '));
    expect(found.text).not.toContain(file.identity.mnemonicSealed);
    for (const secret of Object.values(h.app.services.deployments.generatedSecrets(d))) expect(found.text).not.toContain(secret);
    for (const v of Object.values(d.inputs)) expect(found.text).not.toContain(v);
  });

  it('pauses and resumes the watchdog, and a restart keeps what was chosen', async () => {
    h = await startHarness({ adminIds: [ADMIN] });
    const a = h.emu.user({ id: ADMIN });
    await openAdmin(a);
    expect(h.app.watchdog.isPaused()).toBe(false);
    await menuPress(a, '⏸ Pause watchdog', '⏸ Watchdog paused');
    expect(h.app.watchdog.isPaused()).toBe(true);

    await h.restart();
    expect(h.app.watchdog.isPaused()).toBe(true);
    await openAdmin(a);
    await menuPress(a, '📊 Counts', 'Watchdog: ⏸ paused');
    await menuPress(a, '▶️ Resume watchdog', '▶️ Watchdog resumed');
    expect(h.app.watchdog.isPaused()).toBe(false);

    await h.restart();
    expect(h.app.watchdog.isPaused()).toBe(false);
  });

  it('broadcasts once to every reachable user, through a restart and a second start of the same broadcast', async () => {
    h = await startHarness({ adminIds: [ADMIN] });
    const users = [611, 612, 613].map((id) => h.emu.user({ id }));
    for (const u of users) {
      await u.sendText('/start');
      await u.waitForText(/./);
    }
    const blocked = h.emu.user({ id: 614 });
    await blocked.sendText('/start');
    await blocked.waitForText(/./);
    await h.app.services.users.markUnreachable(614);

    const a = h.emu.user({ id: ADMIN });
    await openAdmin(a);
    await a.press('📣 Broadcast…');
    await a.waitForText('Type the message');
    await a.sendText('Maintenance tonight <22:00 UTC> & a new node type.');
    // the three users and the admin; not the one who blocked the bot
    const preview = await a.waitForText('This goes to about 4 users');
    expect(preview.text).toContain('Maintenance tonight &lt;22:00 UTC&gt; &amp; a new node type.');

    // the third user's notice cannot leave yet: it is still queued when the bot restarts
    h.emu.failNext('sendMessage', { error_code: 502, description: 'Bad Gateway' }, { chatId: 613, times: 1_000 });
    await a.press('✅ Confirm, send it');
    await a.waitForText('is being queued in the background');
    const report = await a.waitForText('is queued: 4 notices');
    expect(report.text).toContain('1 users skipped');
    const id = /Broadcast <code>([\w-]+)<\/code> is queued/.exec(report.text!)![1]!;

    const got = (u: EmulatedUser) => u.messages().filter((m) => m.text?.startsWith(BROADCAST_HEADER)).length;
    await eventually('the first two users have it', () => got(users[0]!) === 1 && got(users[1]!) === 1);
    expect(got(users[2]!)).toBe(0);
    expect(h.app.outbox.pendingNotices()).toBe(1);

    await h.restart();
    (h.emu as unknown as { faults: unknown[] }).faults = []; // the third chat works again
    await eventually('the third user has it', () => got(users[2]!) === 1);
    await eventually('the admin has it', () => got(a) === 1);

    // the same broadcast started again (as a job resumed after a crash would): nobody gets it twice
    const html = users[0]!.messages().find((m) => m.text?.startsWith(BROADCAST_HEADER))!.text!;
    expect(html).toBe(`${BROADCAST_HEADER}\n\nMaintenance tonight &lt;22:00 UTC&gt; &amp; a new node type.`);
    await h.app.services.admin.startBroadcast(ADMIN, ADMIN, id, html);
    await eventually('the second run reports', () => a.messages().filter((m) => m.text?.includes(`${id}</code> is queued`)).length === 2);
    await h.app.worker.idle();
    // the second run queued nothing new (the journal refuses ids it has): once the outbox is empty, all is said
    await eventually('the outbox has sent everything', () => h.app.outbox.pendingNotices() === 0);
    for (const u of [...users, a]) expect(got(u)).toBe(1);
    expect(got(blocked)).toBe(0);
    expect(h.app.outbox.pendingNotices()).toBe(0);
  });
});

describe('/admin for everyone else', () => {
  it('does not exist: unknown command, not in /help or the menu, buttons stale even when forged', async () => {
    h = await startHarness({ adminIds: [ADMIN] });
    const a = h.emu.user({ id: ADMIN });
    const u = h.emu.user({ id: 620 });

    await u.sendText('/nonsense');
    const unknown = await u.waitForText("I don't know");
    await u.sendText('/admin');
    const admin = await u.waitForText("I don't know /admin");
    expect(admin.text).toBe(unknown.text!.replace('/nonsense', '/admin'));
    expect(admin.reply_markup).toBeUndefined();

    await u.sendText('/help');
    const help = await u.waitForText('What I can do');
    expect(help.text).not.toContain('/admin');
    expect(h.emu.commands().map((c) => c.command)).not.toContain('admin');
    await a.sendText('/help');
    expect((await a.waitForText('What I can do')).text).toContain('/admin —');

    // the admin's buttons, pressed by someone else: the generic stale answer, nothing said
    const menu = await openAdmin(a);
    const counts = menu.reply_markup!.inline_keyboard.flat().find((b) => b.text === '📊 Counts')!.callback_data!;
    await u.sendText('/start');
    const own = await u.waitForText(/./);
    const before = u.messages().length;
    await u.pressData(own.message_id, counts);
    expect((await u.waitForAnswer()).text).toBe('This button is from an older message.');

    // even with the admin's conversation in their own file (say, demoted since), it is not theirs
    const state = (await h.app.flows.get(ADMIN))!;
    await h.app.flows.set(620, structuredClone(state));
    await u.pressData(own.message_id, counts);
    expect((await u.waitForAnswer()).text).toBe('This button is from an older message.');
    await u.sendText('42');
    await u.waitForText('I answer commands and buttons');
    await u.sendText('/cancel');
    await u.waitForText('Nothing to cancel.');
    await u.sendText('/admin');
    await u.waitForText("I don't know /admin");

    // replies in one chat keep their order: once this one is here, anything else said came before it
    await u.sendText('/help');
    await u.waitForText('What I can do');
    const said = u.messages().slice(before, -1).map((m) => m.text ?? '');
    expect(said).toEqual(["I answer commands and buttons. Send /help to see what I can do.", 'Nothing to cancel.', expect.stringContaining("I don't know /admin")]);
    for (const m of u.messages()) expect(m.text ?? '').not.toMatch(/Admin|Counts|Broadcast|Watchdog|📊|📣/);
    expect(h.app.watchdog.isPaused()).toBe(false);
  });
});

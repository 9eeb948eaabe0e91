/**
 * The watchdog through the real bot, with the simulated grid's clock driven by the test: runway
 * reminders (once per threshold, in order, with a top-up QR that works), node failures replaced
 * by the bot or offered to the user, the bound on replacements, a pass cut short by a restart, and
 * the runway the chat shows against the grid's own billing.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../src/clock.js';
import { DAY_MS, HOUR_MS, UNITS_PER_TFT } from '../../src/domain/money.js';
import type { EmulatedUser, EmuMessage } from '../../src/telegram/emulator/index.js';
import { deploy } from '../helpers/chat.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { reconcileUser } from '../../src/watchdog/reconcile.js';
import type { WatchdogDeps } from '../../src/watchdog/deps.js';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const userFile = async (id: number) => (await h.app.store.get(id))!;
/** The watchdog's own dependencies, to run one step of a pass on a chosen snapshot. */
const watchdogDeps = () => (h.app.watchdog as unknown as { deps: WatchdogDeps }).deps;
/** Deploys and waits until the provisioning job has finished too (the watchdog leaves deployments with a job alone). */
async function deployed(u: EmulatedUser, name: string): Promise<void> {
  await deploy(u, { name });
  await h.app.worker.idle();
}
const reminders = (u: EmulatedUser) => u.messages().filter((m) => /runs out in|wallet is empty/.test(m.caption ?? ''));

/** Runs the runway pass every `stepH` hours for `hours` hours of the test clock. */
async function liveThrough(clock: ManualClock, hours: number, stepH = 6): Promise<void> {
  for (let t = 0; t < hours; t += stepH) {
    clock.advance(stepH * HOUR_MS);
    await h.app.watchdog.runway();
  }
}

/** The URI a reminder's caption carries, and its amount in units. */
function topUpOf(m: EmuMessage): { uri: string; amount: number } {
  const uri = /TFT:\w+\?amount=(\d+)&amp;sender=me/.exec(m.caption ?? '');
  expect(uri).not.toBeNull();
  return { uri: uri![0]!.replace('&amp;', '&'), amount: Number(uri![1]) * UNITS_PER_TFT };
}

describe('runway reminders', () => {
  it('reminds once at 7 days, 3 days, 1 day and the grace period, in order, each with a QR that tops up', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock });
    const u = h.emu.user({ id: 301 });
    await deployed(u, 'runner');
    const address = (await userFile(301)).identity.address;

    await h.app.watchdog.runway();
    expect(reminders(u)).toHaveLength(0); // a month paid: nothing to say

    await liveThrough(clock, 33 * 24);
    await eventually('four reminders arrive', () => reminders(u).length >= 4);
    const got = reminders(u);
    expect(got.map((m) => /runs out in (\d+ days?|\d+ h)/.exec(m.caption!)?.[1] ?? 'grace')).toEqual([
      expect.stringMatching(/^[4-7] days$/),
      expect.stringMatching(/^[1-3] days?$/),
      expect.stringMatching(/^\d+ h$/),
      'grace',
    ]);
    for (const m of got) expect(m.photo!.subarray(1, 4).toString()).toBe('PNG');
    expect(got[3]!.caption).toContain('paused <b>runner</b>');
    const contracts = await h.grid.contractsOf(address);
    expect(contracts.some((c) => c.state === 'grace')).toBe(true);

    // more passes in grace say nothing new
    await liveThrough(clock, 24);
    expect(reminders(u)).toHaveLength(4);

    // paying what the grace reminder asks brings the node back and stops the reminders
    const { amount } = topUpOf(got[3]!);
    await h.grid.fund(address, amount);
    expect((await h.grid.contractsOf(address)).every((c) => c.state === 'created')).toBe(true);
    await liveThrough(clock, 5 * 24);
    expect(reminders(u)).toHaveLength(4);
    expect((await userFile(301)).reminders.sent).toEqual([]);
  }, 60_000);

  it('tells the user when the grid deleted the deployment after the grace period', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock });
    const u = h.emu.user({ id: 302 });
    await deployed(u, 'starved');
    await liveThrough(clock, 30 * 24 + 15 * 24, 12);
    await u.waitForText('starved</b> is deleted (the grid deleted it after 14 days without funds)');
    expect((await userFile(302)).deployments[0]!.state).toBe('deleted');
  }, 60_000);

  it('shows a runway in /wallet that the grid bills to the hour', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock });
    const u = h.emu.user({ id: 303 });
    await deployed(u, 'exact');
    const address = (await userFile(303)).identity.address;
    await u.sendText('/wallet');
    const shown = await u.waitForText('that lasts');
    const m = /that lasts (?:(\d+) days?)?\s*(?:(\d+) h)?/.exec(shown.text!)!;
    const hours = Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0);
    expect(hours).toBeGreaterThan(24 * 29);

    clock.advance(hours * HOUR_MS);
    const [c] = await h.grid.contractsOf(address);
    expect(c!.state).toBe('created'); // every hour shown was paid
    clock.advance(HOUR_MS);
    const [after] = await h.grid.contractsOf(address);
    expect(after!.state).toBe('grace'); // and not one more
  });
});

describe('many deployments', () => {
  it('a user with 40 deployments still gets their reminder: the photo caption stays within Telegram\'s limit', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock });
    const u = h.emu.user({ id: 304 });
    await deployed(u, 'first_one');
    // 39 more running deployments with names at the 20-character limit (copies of the first: the grid bills one)
    await h.app.store.update(304, (usr) => {
      const d0 = usr.deployments[0]!;
      for (let k = 2; k <= 40; k++) {
        usr.deployments.push({ ...structuredClone(d0), id: String(100 + k), name: `deployment_number_${String(k).padStart(2, '0')}`, projectName: `jukebox/u304/d${100 + k}` });
      }
    });
    clock.advance(25 * DAY_MS);
    expect((await h.app.watchdog.runway()).reminders).toBe(1);
    const got = await u.waitFor((m) => m.kind === 'photo' && /runs out in/.test(m.caption ?? ''));
    expect(got.caption).toContain('and 35 more');
    expect(got.caption!.length).toBeLessThanOrEqual(1024);
  }, 30_000);
});

describe('a pass cut short', () => {
  it('neither repeats nor drops a reminder when the process restarts between queuing and recording it', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock });
    const users = [311, 312, 313].map((id) => h.emu.user({ id }));
    for (const [i, u] of users.entries()) await deployed(u, `node${i + 1}`);
    clock.advance(25 * DAY_MS); // every wallet is below the 7-day threshold

    // the store fails for one user right after their reminder was queued, as a crash would leave it
    const store = h.app.store;
    const update = store.update.bind(store);
    store.update = (async (id: number, fn: never) => {
      if (id === 312) throw new Error('killed');
      return update(id, fn);
    }) as typeof store.update;
    const first = await h.app.watchdog.runway();
    expect(first.errors).toBe(1);
    await h.restart();
    await h.app.watchdog.runway();
    await h.app.watchdog.runway();

    for (const u of users) await eventually(`user ${u.id} is reminded`, () => reminders(u).length === 1);
    await h.app.outbox.drain();
    for (const u of users) expect(reminders(u)).toHaveLength(1);
    expect((await userFile(312)).reminders.sent).toEqual(['7d']);
  }, 60_000);
});

describe('failed nodes', () => {
  it('replaces a node that went down on another node, by itself, within one health pass', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 321 });
    await deployed(u, 'healer');
    const before = (await userFile(321)).deployments[0]!;
    const old = before.nodes[0]!;
    await h.grid.setNodeStatus(old.nodeId, 'down');

    const pass = await h.app.watchdog.health();
    expect(pass.broken).toBe(1);
    expect(pass.redeploys).toBe(1);
    await u.waitForText('stopped working');
    const replaced = await u.waitForText('was replaced', { timeoutMs: 15_000 });
    const after = (await userFile(321)).deployments[0]!;
    expect(after.state).toBe('active');
    expect(after.nodes[0]!.nodeId).not.toBe(old.nodeId);
    expect(after.nodes[0]!.problem).toBeUndefined();
    expect(replaced.text).toContain(`grid node ${after.nodes[0]!.nodeId}`);
    const contracts = await h.grid.contractsOf(after.nodes[0]!.contractIds.length ? (await userFile(321)).identity.address : '');
    expect(contracts.find((c) => c.contractId === old.contractIds[0])!.state).toBe('deleted');
    expect(contracts.filter((c) => c.state === 'created').map((c) => c.contractId)).toEqual(after.nodes[0]!.contractIds);

    // the next pass finds everything well and does nothing
    const again = await h.app.watchdog.health();
    expect(again).toMatchObject({ broken: 0, redeploys: 0 });
  }, 30_000);

  it('offers a Redeploy button instead when auto-redeploy is off, once, and acts on it', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 322 });
    await deployed(u, 'asker');
    await u.sendText('/status asker');
    await u.waitForText('asker');
    await u.press(/Auto-redeploy: on/);
    await u.waitForText('Auto-redeploy is <b>off</b>');
    const old = (await userFile(322)).deployments[0]!.nodes[0]!;
    await h.grid.setNodeStatus(old.nodeId, 'down');

    expect((await h.app.watchdog.health()).redeploys).toBe(0);
    await u.waitForText('Shall I replace it');
    await h.app.watchdog.health();
    await h.app.outbox.drain();
    expect(u.messages().filter((m) => m.text?.includes('Shall I replace it'))).toHaveLength(1);
    expect((await userFile(322)).deployments[0]!.state).toBe('degraded');

    await u.press('🔁 Redeploy node 1');
    await u.waitForText('was replaced', { timeoutMs: 15_000 });
    expect((await userFile(322)).deployments[0]!.nodes[0]!.nodeId).not.toBe(old.nodeId);
  }, 30_000);

  it('stops chasing a node whose replacements come up and keep breaking', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock, recovery: { maxTries: 2, backoffMs: 10 * 60_000 } });
    const u = h.emu.user({ id: 324 });
    await deployed(u, 'flaky');
    const breakNode = async () => {
      const n = (await userFile(324)).deployments[0]!.nodes[0]!;
      await h.grid.setNodeStatus(n.nodeId, 'down');
      return n;
    };
    for (let round = 1; round <= 2; round++) {
      const broken = await breakNode();
      clock.advance(60 * 60_000); // past any backoff
      expect((await h.app.watchdog.health()).redeploys).toBe(1);
      await eventually(`replacement ${round} is recorded`, async () => (await userFile(324)).deployments[0]!.nodes[0]!.nodeId !== broken.nodeId && !h.app.worker.hasActive(324, '1'), 15_000);
    }
    await breakNode();
    clock.advance(60 * 60_000);
    expect((await h.app.watchdog.health()).redeploys).toBe(0);
    await u.waitForText('keeps failing, so I stopped replacing it');
    clock.advance(60 * 60_000);
    expect((await h.app.watchdog.health()).redeploys).toBe(0);
    expect((await userFile(324)).deployments[0]!.nodes[0]!.recovery).toMatchObject({ failures: 2, gaveUp: true });
  }, 60_000);

  it('stops replacing a node that keeps failing after the bound, and says so', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock, recovery: { maxTries: 2, backoffMs: 10 * 60_000 } });
    const u = h.emu.user({ id: 323 });
    await deployed(u, 'doomed');
    const old = (await userFile(323)).deployments[0]!.nodes[0]!;
    await h.grid.setNodeStatus(old.nodeId, 'down');
    h.grid.failNextDeploy('failed to start vm', 1000);

    await h.app.watchdog.health();
    await u.waitForText("I'll try again in about 10 minutes", { timeoutMs: 15_000 });
    await eventually('the first replacement ends', () => !h.app.worker.hasActive(323, '1'));
    expect((await h.app.watchdog.health()).redeploys).toBe(0); // backing off
    clock.advance(10 * 60_000);
    expect((await h.app.watchdog.health()).redeploys).toBe(1);
    await u.waitForText('I stopped trying', { timeoutMs: 15_000 });
    await eventually('the second replacement ends', () => !h.app.worker.hasActive(323, '1'));

    clock.advance(DAY_MS);
    expect((await h.app.watchdog.health()).redeploys).toBe(0);
    const d = (await userFile(323)).deployments[0]!;
    expect(d.state).toBe('degraded');
    expect(d.nodes[0]!.recovery).toMatchObject({ failures: 2, gaveUp: true });
    // the old node is still the one on record, and nothing else was left on the grid
    const live = (await h.grid.contractsOf((await userFile(323)).identity.address)).filter((c) => c.state !== 'deleted');
    expect(live.map((c) => c.contractId)).toEqual(old.contractIds);

    // the user can still ask: that starts afresh
    h.grid.failNextDeploy(undefined, 0);
    await h.grid.setNodeStatus(old.nodeId, 'up');
    await u.sendText('/redeploy doomed');
    await u.waitForText('Replace node 1 of <b>doomed</b>');
    await u.press(/Yes, replace node 1/);
    await u.waitForText('was replaced', { timeoutMs: 15_000 });
  }, 60_000);
});

describe("the chain's own health", () => {
  it('/status shows the sync progress; a sync that stops moving is found stalled and the node replaced', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock }); // the simulated chains sync in 6 hours
    const u = h.emu.user({ id: 325 });
    await deployed(u, 'syncer');
    clock.advance(3 * HOUR_MS);
    await u.sendText('/status syncer');
    await u.waitForText('syncing 50%');

    const before = (await userFile(325)).deployments[0]!.nodes[0]!;
    await h.grid.stallSync(before.contractIds[0]!);
    await h.app.watchdog.health(); // records the height
    clock.advance(HOUR_MS);
    expect((await h.app.watchdog.health()).broken).toBe(0); // an hour without progress is not yet a stall
    clock.advance(HOUR_MS);
    const pass = await h.app.watchdog.health();
    expect(pass).toMatchObject({ broken: 1, redeploys: 1 });
    await u.waitForText('its chain stopped syncing at 50%');
    await u.waitForText('was replaced', { timeoutMs: 15_000 });
    await h.app.worker.idle();
    const after = (await userFile(325)).deployments[0]!;
    expect(after.nodes[0]!.nodeId).not.toBe(before.nodeId);
    expect(after.state).toBe('active');

    clock.advance(7 * HOUR_MS);
    await u.sendText('/status syncer');
    await u.waitForText('✅ up · synced');
  }, 30_000);
});

describe('reconcile', () => {
  it('does not cancel a node that a replacement recorded after the pass loaded the user', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 332 });
    await deployed(u, 'mover');
    const snapshot = await userFile(332); // what a pass loaded before it listed and cancelled
    expect((await h.app.services.deployments.requestRedeploy(332, '1', 1, 'user')).ok).toBe(true);
    await u.waitForText('was replaced', { timeoutMs: 15_000 });
    await h.app.worker.idle();
    const after = (await userFile(332)).deployments[0]!;

    const out = { users: 0, orphans: [] as number[], resumed: 0 };
    await reconcileUser(watchdogDeps(), snapshot, out);
    expect(out.orphans).toEqual([]);
    const live = (await h.grid.contractsOf(snapshot.identity.address)).filter((c) => c.state === 'created');
    expect(live.map((c) => c.contractId)).toEqual(after.nodes[0]!.contractIds);
  }, 30_000);

  it('cancels contracts under a user project that no deployment owns, and keeps the owned ones', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 331 });
    await deployed(u, 'owned');
    const user = await userFile(331);
    const identity = { address: user.identity.address, mnemonic: '' };
    const stray = await h.grid.deployVms(identity, {
      projectName: 'jukebox/u331/d77',
      name: 'stray_1',
      machines: [{ name: 'stray_1', nodeId: user.deployments[0]!.nodes[0]!.nodeId, cpu: 1, memoryMb: 512, rootfsGb: 1, disks: [], flist: 'x', entrypoint: '', env: {}, publicIp: false, mycelium: false }],
    });
    const report = await h.app.watchdog.reconcile();
    expect(report.orphans).toEqual(stray.contractIds);
    const contracts = await h.grid.contractsOf(user.identity.address);
    expect(contracts.filter((c) => c.state === 'created').map((c) => c.contractId)).toEqual(user.deployments[0]!.nodes[0]!.contractIds);
  }, 30_000);
});

/**
 * Chain events feeding the watchdog, through the real bot: a contract the chain reports cancelled
 * is replaced, and a grace period it reports is told to the user, without waiting for the next
 * scheduled pass. Events about twins the watchdog does not know change nothing.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../src/clock.js';
import { DAY_MS } from '../../src/domain/money.js';
import type { EmulatedUser } from '../../src/telegram/emulator/index.js';
import { deploy } from '../helpers/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const userFile = async (id: number) => (await h.app.store.get(id))!;

async function deployed(u: EmulatedUser, name: string): Promise<void> {
  await deploy(u, { name });
  await h.app.worker.idle();
}

describe('contract events from the chain', () => {
  it('a contract cancelled outside the bot is replaced as soon as the chain says so', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 951 });
    await deployed(u, 'evented');
    await h.app.watchdog.health(); // the scheduled pass that met this user's twin
    const user = await userFile(951);
    const old = user.deployments[0]!.nodes[0]!;
    await h.grid.cancelContract({ address: user.identity.address, mnemonic: '' }, old.contractIds[0]!);

    await h.app.watchdog.onContractEvent({ kind: 'canceled', contractId: old.contractIds[0]!, twinId: user.identity.twinId! });
    await u.waitForText('was replaced', { timeoutMs: 15_000 });
    const after = (await userFile(951)).deployments[0]!;
    expect(after.state).toBe('active');
    expect(after.nodes[0]!.contractIds).not.toEqual(old.contractIds);
  });

  it('a grace period the chain reports is told at once, with the top-up QR', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock });
    const u = h.emu.user({ id: 952 });
    await deployed(u, 'starving');
    await h.app.watchdog.health();
    const user = await userFile(952);
    clock.advance(40 * DAY_MS); // the month paid runs out with no scheduled runway pass meanwhile
    const contracts = await h.grid.contractsOf(user.identity.address);
    expect(contracts.some((c) => c.state === 'grace')).toBe(true);

    await h.app.watchdog.onContractEvent({ kind: 'grace_started', contractId: contracts[0]!.contractId, twinId: user.identity.twinId! });
    const told = await u.waitForText('wallet is empty');
    expect(told.kind).toBe('photo');
    expect(told.caption).toContain('paused <b>starving</b>');
  });

  it('an event about a twin no pass has met changes nothing and says nothing', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 953 });
    await deployed(u, 'quiet');
    const user = await userFile(953);
    const old = user.deployments[0]!.nodes[0]!;
    const before = u.messages().length;
    // no pass has run: the twin is unknown, so the schedule handles it later
    await h.app.watchdog.onContractEvent({ kind: 'canceled', contractId: old.contractIds[0]!, twinId: user.identity.twinId! });
    await h.app.watchdog.onContractEvent({ kind: 'canceled', contractId: 1, twinId: 999_999 });
    await h.app.worker.idle();
    expect(u.messages()).toHaveLength(before);
    expect((await userFile(953)).deployments[0]!.nodes[0]).toEqual(old);
  });
});

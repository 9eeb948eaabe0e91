import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, mnemonicGenerate } from '@polkadot/util-crypto';
import { HOUR_MS } from '../../../src/domain/money.js';
import { GridError } from '../../../src/grid/port.js';
import { FAUCET_ADDRESS } from '../../../src/grid/sim/index.js';
import { harness, pickNode, vmDeployment, vmSpec, who, type Harness } from './helpers.js';

const alice = who('alice-address');
const bob = who('bob-address');
const TFT = 10_000_000;

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.cleanup();
});

describe('chain', () => {
  it('funds from the faucet with sim-<n> ids and lists incoming transfers after an id', async () => {
    const t1 = await h.sim.fund(alice.address, 5 * TFT);
    const t2 = await h.sim.fund(bob.address, 1 * TFT);
    h.clock.advance(1000);
    const t3 = await h.sim.fund(alice.address, 7 * TFT);
    expect([t1.id, t2.id, t3.id]).toEqual(['sim-1', 'sim-2', 'sim-3']);
    expect(t1).toMatchObject({ from: FAUCET_ADDRESS, to: alice.address, amount: 5 * TFT });
    expect(t3.at).toBe(t1.at + 1000);

    expect((await h.sim.incomingTransfers(alice.address)).map((t) => t.id)).toEqual(['sim-1', 'sim-3']);
    expect((await h.sim.incomingTransfers(alice.address, 'sim-1')).map((t) => t.id)).toEqual(['sim-3']);
    expect((await h.sim.incomingTransfers(alice.address, 'sim-2')).map((t) => t.id)).toEqual(['sim-3']);
    expect(await h.sim.incomingTransfers(alice.address, 'sim-3')).toEqual([]);
    expect(await h.sim.incomingTransfers('nobody')).toEqual([]);
    await expect(h.sim.incomingTransfers(alice.address, 'garbage')).rejects.toMatchObject({ code: 'invalid' });
    expect(await h.sim.balance(alice.address)).toBe(12 * TFT);
    expect(await h.sim.balance('nobody')).toBe(0);
  });

  it('transfers between accounts and refuses overdrafts', async () => {
    await h.sim.fund(alice.address, 5 * TFT);
    const t = await h.sim.transfer(alice, bob.address, 2 * TFT);
    expect(t).toMatchObject({ from: alice.address, to: bob.address, amount: 2 * TFT });
    expect(await h.sim.balance(alice.address)).toBe(3 * TFT);
    expect(await h.sim.balance(bob.address)).toBe(2 * TFT);
    expect((await h.sim.incomingTransfers(bob.address)).map((x) => x.id)).toEqual([t.id]);

    const err = await h.sim.transfer(alice, bob.address, 3 * TFT + 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GridError);
    expect((err as GridError).code).toBe('insufficient_funds');
    expect(await h.sim.balance(alice.address)).toBe(3 * TFT);
    await expect(h.sim.transfer(alice, bob.address, 0)).rejects.toMatchObject({ code: 'invalid' });
    await expect(h.sim.fund(alice.address, 1.5)).rejects.toMatchObject({ code: 'invalid' });
  });

  it('a transfer into an account in grace brings its contracts back', async () => {
    await h.sim.ensureTwin(alice);
    await h.sim.fund(alice.address, 10_000);
    await h.sim.fund(bob.address, 100 * TFT);
    const nodeId = await pickNode(h.sim, { cru: 1 });
    await h.sim.deployVms(alice, vmDeployment('x', [vmSpec('a', nodeId)]));
    h.clock.advance(2 * HOUR_MS);
    const [c] = await h.sim.listContracts(alice);
    expect(c?.state).toBe('grace');
    await h.sim.transfer(bob, alice.address, 2 * (c?.hourlyCost ?? 0));
    expect((await h.sim.listContracts(alice))[0]?.state).toBe('created');
    expect(await h.sim.balance(alice.address)).toBe(10_000);
  });

  describe('isValidAddress', () => {
    let real: string;
    beforeAll(async () => {
      await cryptoWaitReady();
      real = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(mnemonicGenerate()).address;
    });

    it('accepts a real ss58 address (prefix 42) and refuses junk', () => {
      expect(h.sim.isValidAddress(real)).toBe(true);
      expect(h.sim.isValidAddress(FAUCET_ADDRESS)).toBe(true);
      expect(h.sim.isValidAddress('')).toBe(false);
      expect(h.sim.isValidAddress('alice-address')).toBe(false);
      expect(h.sim.isValidAddress(`${real.slice(0, -1)}${real.endsWith('a') ? 'b' : 'a'}`)).toBe(false);
      // the same key with the Polkadot prefix (0) is not a TFChain address
      const polkadot = new Keyring({ type: 'sr25519', ss58Format: 0 }).addFromUri(mnemonicGenerate()).address;
      expect(h.sim.isValidAddress(polkadot)).toBe(false);
      expect(h.sim.isValidAddress('GBNOTAYUMXVO5QDYWYO2SOCOYIJ3XFIP65GKOQN7H65ZZSO6BK4SLWSC')).toBe(false);
    });
  });
});

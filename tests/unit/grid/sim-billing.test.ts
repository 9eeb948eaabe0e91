import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DAY_MS, HOUR_MS } from '../../../src/domain/money.js';
import { GRACE_MESSAGE, GRACE_PERIOD_MS, type SimGrid } from '../../../src/grid/sim/index.js';
import { T0, harness, pickNode, vmDeployment, vmSpec, who, zdbDeployment, type Harness } from './helpers.js';

const alice = who('alice-address');
const TFT = 10_000_000;

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.cleanup();
});

/** Funds alice with `amount`, deploys one VM at the current time, returns its id and hourly cost. */
async function deployOne(sim: SimGrid, amount: number, name = 'app'): Promise<{ contractId: number; cost: number; nodeId: number }> {
  await sim.ensureTwin(alice);
  if (amount > 0) await sim.fund(alice.address, amount);
  const nodeId = await pickNode(sim, { cru: 2 });
  const { contractIds } = await sim.deployVms(alice, vmDeployment(name, [vmSpec('a', nodeId)]));
  const contractId = contractIds[0] as number;
  const c = (await sim.listContracts(alice)).find((x) => x.contractId === contractId);
  return { contractId, cost: c?.hourlyCost as number, nodeId };
}

async function stateOf(sim: SimGrid, contractId: number) {
  return (await sim.contractsOf(alice.address)).find((c) => c.contractId === contractId);
}

describe('hourly billing', () => {
  it('bills each whole hour since creation, to the unit', async () => {
    const initial = 100 * TFT;
    const { cost } = await deployOne(h.sim, initial);
    expect(cost).toBeGreaterThan(0);
    expect(await h.sim.balance(alice.address)).toBe(initial);
    h.clock.advance(HOUR_MS - 1);
    expect(await h.sim.balance(alice.address)).toBe(initial);
    h.clock.advance(1);
    expect(await h.sim.balance(alice.address)).toBe(initial - cost);
    h.clock.advance(4.5 * HOUR_MS);
    expect(await h.sim.balance(alice.address)).toBe(initial - 5 * cost);
    const history = await h.sim.billingHistory(alice.address);
    expect(history.reduce((s, e) => s + e.amount, 0)).toBe(5 * cost);
    expect(history.reduce((s, e) => s + e.hours, 0)).toBe(5);
    expect(history.at(-1)?.at).toBe(T0 + 5 * HOUR_MS);
  });

  it('does not bill the partial hour of a cancelled contract', async () => {
    const initial = 100 * TFT;
    const { contractId, cost } = await deployOne(h.sim, initial);
    h.clock.advance(2.9 * HOUR_MS);
    await h.sim.cancelContract(alice, contractId);
    h.clock.advance(10 * HOUR_MS);
    expect(await h.sim.balance(alice.address)).toBe(initial - 2 * cost);
  });

  it('enters grace when funds run out and leaves it when funded', async () => {
    await h.sim.ensureTwin(alice);
    const probe = await deployOne(h.sim, 10 * TFT, 'probe');
    await h.sim.cancelContract(alice, probe.contractId);
    const start = h.clock.now();
    const before = await h.sim.balance(alice.address);
    // leave exactly 3 hours of bills plus 0.001 TFT
    await h.sim.transfer(alice, 'sink', before - 3 * probe.cost - 10_000);
    const { contractId, cost } = await deployOne(h.sim, 0);
    expect(cost).toBe(probe.cost);

    h.clock.advance(3 * HOUR_MS);
    expect(await h.sim.balance(alice.address)).toBe(10_000);
    expect((await stateOf(h.sim, contractId))?.state).toBe('created');

    h.clock.advance(HOUR_MS);
    expect(await h.sim.balance(alice.address)).toBe(10_000);
    expect(await stateOf(h.sim, contractId)).toMatchObject({ state: 'grace', graceStartedAt: start + 4 * HOUR_MS });
    expect(await h.sim.getVms(alice, 'vm/app', 'app')).toMatchObject([{ state: 'error', message: GRACE_MESSAGE }]);
    // still listed: grace is not deleted
    expect(await h.sim.listContracts(alice)).toHaveLength(1);

    h.clock.advance(2 * HOUR_MS); // overdue: hours 4, 5, 6
    expect(await h.sim.balance(alice.address)).toBe(10_000);
    await h.sim.fund(alice.address, 3 * cost - 10_001); // one unit short of the overdue
    expect((await stateOf(h.sim, contractId))?.state).toBe('grace');
    await h.sim.fund(alice.address, 1);
    const back = await stateOf(h.sim, contractId);
    expect(back?.state).toBe('created');
    expect(back?.graceStartedAt).toBeUndefined();
    expect(await h.sim.balance(alice.address)).toBe(0);
    expect((await h.sim.billingHistory(alice.address)).at(-1)).toMatchObject({ contractId, kind: 'overdue', amount: 3 * cost, hours: 3 });
    expect(await h.sim.getVms(alice, 'vm/app', 'app')).toMatchObject([{ state: 'ok' }]);

    h.clock.advance(HOUR_MS); // hour 7: the balance cannot pay again
    expect((await stateOf(h.sim, contractId))?.state).toBe('grace');
  });

  it('deletes the contract after 14 days of grace and frees its node', async () => {
    const { contractId, nodeId } = await deployOne(h.sim, 10_000);
    const usedWhileLive = (await h.sim.getNode(nodeId))?.used.cru as number;
    h.clock.advance(HOUR_MS);
    expect(await stateOf(h.sim, contractId)).toMatchObject({ state: 'grace', graceStartedAt: T0 + HOUR_MS });
    h.clock.advance(GRACE_PERIOD_MS - HOUR_MS);
    expect((await stateOf(h.sim, contractId))?.state).toBe('grace');
    h.clock.advance(HOUR_MS);
    expect(await stateOf(h.sim, contractId)).toMatchObject({ state: 'deleted', deletedCause: 'out_of_funds' });
    expect((await h.sim.getNode(nodeId))?.used.cru).toBe(usedWhileLive - 1);
    expect(await h.sim.getVms(alice, 'vm/app', 'app')).toEqual([]);
    expect(await h.sim.listContracts(alice)).toEqual([]);
    // funds arriving later do not bring it back, and nothing more is billed
    h.clock.advance(10 * DAY_MS);
    await h.sim.fund(alice.address, 1000 * TFT);
    expect(await h.sim.balance(alice.address)).toBe(10_000 + 1000 * TFT);
    expect((await stateOf(h.sim, contractId))?.state).toBe('deleted');
  });
});

describe('clock jumps', () => {
  /** A month with two contracts, a funding in between, grace, recovery, grace again and deletion. */
  async function month(stepMs: number) {
    const hh = await harness();
    const sim = hh.sim;
    const advanceTo = async (t: number): Promise<void> => {
      while (hh.clock.now() < t) {
        hh.clock.advance(Math.min(stepMs, t - hh.clock.now()));
        await sim.balance(alice.address);
      }
    };
    try {
      await sim.ensureTwin(alice);
      await sim.fund(alice.address, 10_000);
      const nodeId = await pickNode(sim, { cru: 2, hruGb: 100 });
      await sim.deployVms(alice, vmDeployment('a', [vmSpec('a', nodeId)]));
      hh.clock.advance(30 * 60_000);
      await sim.deployZdbs(alice, zdbDeployment('b', nodeId, 50));
      const costA = (await sim.listContracts(alice))[0]?.hourlyCost as number;
      await sim.fund(alice.address, 20 * costA);
      await advanceTo(T0 + 2 * DAY_MS + 10 * 60_000);
      await sim.fund(alice.address, 40 * costA);
      await advanceTo(T0 + 30 * DAY_MS);
      return {
        balance: await sim.balance(alice.address),
        contracts: await sim.contractsOf(alice.address),
        history: await sim.billingHistory(alice.address),
      };
    } finally {
      await hh.cleanup();
    }
  }

  it('bills a funded month at once to the unit, like stepping through it', async () => {
    const run = async (stepMs: number) => {
      const hh = await harness();
      try {
        await hh.sim.ensureTwin(alice);
        await hh.sim.fund(alice.address, 100_000 * TFT);
        const nodeId = await pickNode(hh.sim, { cru: 2, hruGb: 100 });
        await hh.sim.deployVms(alice, vmDeployment('a', [vmSpec('a', nodeId)]));
        hh.clock.advance(20 * 60_000);
        await hh.sim.deployZdbs(alice, zdbDeployment('b', nodeId, 50));
        const costs = (await hh.sim.listContracts(alice)).map((c) => c.hourlyCost);
        const end = T0 + 30 * DAY_MS;
        while (hh.clock.now() < end) {
          hh.clock.advance(Math.min(stepMs, end - hh.clock.now()));
          await hh.sim.balance(alice.address);
        }
        return { costs, balance: await hh.sim.balance(alice.address), history: await hh.sim.billingHistory(alice.address) };
      } finally {
        await hh.cleanup();
      }
    };
    const jumped = await run(30 * DAY_MS);
    const [costA, costB] = jumped.costs as [number, number];
    // A: 720 whole hours; B (created 20 minutes later): 719
    expect(jumped.balance).toBe(100_000 * TFT - 720 * costA - 719 * costB);
    expect(jumped.history).toEqual([
      { contractId: expect.any(Number), kind: 'hourly', hours: 720, amount: 720 * costA, at: T0 + 30 * DAY_MS },
      { contractId: expect.any(Number), kind: 'hourly', hours: 719, amount: 719 * costB, at: T0 + 20 * 60_000 + 719 * HOUR_MS },
    ]);
    expect(await run(HOUR_MS)).toEqual(jumped);
  });

  it('a 30-day jump gives the same result as stepping hour by hour', async () => {
    const stepped = await month(HOUR_MS);
    const jumped = await month(30 * DAY_MS);
    const odd = await month(7 * HOUR_MS + 13 * 60_000);
    expect(jumped).toEqual(stepped);
    expect(odd).toEqual(stepped);
    // the scenario did go through grace, recovery and deletion
    expect(stepped.history.some((e) => e.kind === 'overdue')).toBe(true);
    expect(stepped.contracts.every((c) => c.state === 'deleted' && c.deletedCause === 'out_of_funds')).toBe(true);
    expect(stepped.balance).toBeLessThan(40 * (stepped.contracts[0]?.hourlyCost ?? 0));
  });
});

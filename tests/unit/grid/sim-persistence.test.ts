import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { HOUR_MS } from '../../../src/domain/money.js';
import { GridError } from '../../../src/grid/port.js';
import { SimGrid, STATE_FILE } from '../../../src/grid/sim/index.js';
import { gate, harness, pickNode, vmDeployment, vmSpec, who, type Harness } from './helpers.js';

const alice = who('alice-address');
const TFT = 10_000_000;

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.cleanup();
});

describe('persistence', () => {
  it('keeps twins, balances, transfers, contracts and billing across close + open', async () => {
    const twinId = await h.sim.ensureTwin(alice);
    await h.sim.fund(alice.address, 100 * TFT);
    const nodeId = await pickNode(h.sim, { cru: 2 });
    await h.sim.deployVms(alice, vmDeployment('keep', [vmSpec('a', nodeId)]));
    const cost = (await h.sim.listContracts(alice))[0]?.hourlyCost as number;
    h.clock.advance(3 * HOUR_MS);
    const balance = await h.sim.balance(alice.address);
    expect(balance).toBe(100 * TFT - 3 * cost);
    const contracts = await h.sim.listContracts(alice);
    const node = await h.sim.getNode(nodeId);

    const sim = await h.reopen();
    expect(await sim.ensureTwin(alice)).toBe(twinId);
    expect(await sim.balance(alice.address)).toBe(balance);
    expect(await sim.listContracts(alice)).toEqual(contracts);
    expect((await sim.getNode(nodeId))?.used).toEqual(node?.used);
    expect(await sim.getVms(alice, 'vm/keep', 'keep')).toMatchObject([{ state: 'ok' }]);
    expect(await sim.incomingTransfers(alice.address)).toHaveLength(1);
    // billing continues from where it was
    h.clock.advance(HOUR_MS);
    expect(await sim.balance(alice.address)).toBe(balance - cost);
    // the next ids do not collide with the old ones
    const { contractIds } = await sim.deployVms(alice, vmDeployment('more', [vmSpec('a', nodeId)]));
    expect(contracts.map((c) => c.contractId)).not.toContain(contractIds[0]);
    expect(await sim.ensureTwin(who('bob'))).not.toBe(twinId);

    const file = JSON.parse(await readFile(path.join(h.dir, STATE_FILE), 'utf8')) as { seed: number; contracts: unknown[] };
    expect(file.seed).toBe(42);
    expect(file.contracts).toHaveLength(2);
  });

  it('derives workload state after a crash during the deploy wait', async () => {
    const g = gate();
    const sim = await h.reopen({ sleep: g.sleep, deployMs: 10 * 60_000 });
    await sim.ensureTwin(alice);
    await sim.fund(alice.address, 100 * TFT);
    const nodeId = await pickNode(sim, { cru: 2 });
    sim.failNextDeploy('disk failure');
    const failing = sim.deployVms(alice, vmDeployment('doomed', [vmSpec('a', nodeId)]));
    await g.entered;
    const healthy = sim.deployVms(alice, vmDeployment('fine', [vmSpec('a', nodeId)]));

    // the process dies while waiting; the deploys never finish
    await sim.close();
    g.release();
    await expect(failing).rejects.toMatchObject({ code: 'unavailable' });
    await expect(healthy).rejects.toMatchObject({ code: 'unavailable' });

    const after = await h.reopen({ deployMs: 10 * 60_000 });
    expect((await after.listContracts(alice)).map((c) => c.state)).toEqual(['created', 'created']);
    expect(await after.getVms(alice, 'vm/fine', 'fine')).toMatchObject([{ state: 'init' }]);
    expect(await after.getVms(alice, 'vm/doomed', 'doomed')).toMatchObject([{ state: 'init' }]);
    h.clock.advance(10 * 60_000);
    expect(await after.getVms(alice, 'vm/fine', 'fine')).toMatchObject([{ state: 'ok' }]);
    expect(await after.getVms(alice, 'vm/doomed', 'doomed')).toMatchObject([{ state: 'error', message: 'disk failure' }]);
  });

  it('keeps grace and node status overrides across a restart', async () => {
    await h.sim.ensureTwin(alice);
    await h.sim.fund(alice.address, 10_000);
    const nodeId = await pickNode(h.sim, { cru: 2 });
    await h.sim.deployVms(alice, vmDeployment('g', [vmSpec('a', nodeId)]));
    h.clock.advance(HOUR_MS);
    const other = await pickNode(h.sim, { cru: 1 });
    await h.sim.setNodeStatus(other, 'standby');
    const before = await h.sim.listContracts(alice);
    expect(before[0]?.state).toBe('grace');

    const sim = await h.reopen();
    expect(await sim.listContracts(alice)).toEqual(before);
    expect((await sim.getNode(other))?.status).toBe('standby');
    expect(await sim.getVms(alice, 'vm/g', 'g')).toMatchObject([{ state: 'error' }]);
  });

  it('refuses a state file made with another seed', async () => {
    await h.sim.close();
    await expect(SimGrid.open({ dataDir: h.dir, seed: 7, clock: h.clock })).rejects.toThrow(/seed 42.*seed 7/s);
    await expect(SimGrid.open({ dataDir: h.dir, nodes: 100, clock: h.clock })).rejects.toThrow(/another data directory/);
  });

  it('refuses calls once closed', async () => {
    await h.sim.close();
    await expect(h.sim.balance(alice.address)).rejects.toBeInstanceOf(GridError);
    await expect(h.sim.balance(alice.address)).rejects.toMatchObject({ code: 'unavailable' });
  });
});

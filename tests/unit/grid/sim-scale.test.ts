/**
 * What lets the sim scale to 100,000 contracts without changing what it computes: owners settled
 * lazily, reads that do not write, in-memory indexes rebuilt at open, and batch().
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DAY_MS, HOUR_MS } from '../../../src/domain/money.js';
import { GRACE_PERIOD_MS, SimGrid, STATE_FILE, generateGrid, type SimContract } from '../../../src/grid/sim/index.js';
import { harness, instant, pickNode, vmDeployment, vmSpec, who, zdbDeployment, type Harness } from './helpers.js';

const TFT = 10_000_000;
const alice = who('alice-address');
const bob = who('bob-address');

interface StateFile {
  contracts: SimContract[];
  twins: Record<string, number>;
  balances: Record<string, number>;
}
const stateFile = async (dir: string): Promise<StateFile> => JSON.parse(await readFile(path.join(dir, STATE_FILE), 'utf8')) as StateFile;

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.cleanup();
});

describe('settling owners lazily', () => {
  const rich = who('rich-address');
  const poor = who('poor-address');
  const rescued = who('rescued-address');
  const store = who('store-address');
  const bystander = 'bystander-address';

  /**
   * Three weeks of four owners on one node: one rich, one who can never pay (grace, then deleted
   * out of funds, which frees a public IP), one who runs dry and is rescued by a transfer from the
   * rich one, one with a zdb topped up on the way. The events and clock moves are the same in
   * every mode; only when bills get settled differs:
   * - lazy: only what the calls themselves settle (mostly one owner at a time);
   * - eager: every owner settled after every clock move (settleNow);
   * - hourly: the clock moves an hour at a time, every owner settled after each hour.
   */
  async function threeWeeks(mode: 'lazy' | 'eager' | 'hourly') {
    const hh = await harness();
    const { sim, clock } = hh;
    const advance = async (ms: number): Promise<void> => {
      if (mode === 'hourly') {
        for (let left = ms; left > 0; left -= HOUR_MS) {
          clock.advance(Math.min(HOUR_MS, left));
          await sim.settleNow();
        }
        return;
      }
      clock.advance(ms);
      if (mode === 'eager') await sim.settleNow();
    };
    try {
      for (const o of [rich, poor, rescued, store]) await sim.ensureTwin(o);
      await sim.fund(rich.address, 10_000 * TFT);
      await sim.fund(poor.address, 10_000);
      await sim.fund(rescued.address, 50 * TFT);
      await sim.fund(store.address, 20 * TFT);
      const nodeId = await pickNode(sim, { cru: 8, hruGb: 200 }, true);
      await sim.deployVms(poor, vmDeployment('p', [vmSpec('a', nodeId, { publicIp: true })]));
      clock.advance(10 * 60_000);
      await sim.deployVms(rich, vmDeployment('r1', [vmSpec('a', nodeId)]));
      clock.advance(15 * 60_000);
      await sim.deployVms(rescued, vmDeployment('s', [vmSpec('a', nodeId)]));
      await sim.deployZdbs(store, zdbDeployment('z', nodeId, 100));
      clock.advance(20 * 60_000);
      await sim.deployVms(rich, vmDeployment('r2', [vmSpec('a', nodeId, { cpu: 2 })], 'other/r2'));

      await advance(3 * DAY_MS);
      await sim.transfer(rich, rescued.address, 100 * TFT);
      if (mode === 'lazy') {
        // The transfer settled its two owners only: on disk, the poor owner's contract has
        // still not been billed once, three days on.
        const file = await stateFile(hh.dir);
        const ofOwner = (o: { address: string }) => file.contracts.filter((c) => c.owner === o.address);
        expect(ofOwner(poor).map((c) => c.billedUntil)).toEqual(ofOwner(poor).map((c) => c.createdAt));
        for (const c of [...ofOwner(rich), ...ofOwner(rescued)]) expect(c.billedUntil).toBeGreaterThan(c.createdAt + 2 * DAY_MS);
      }
      await advance(5 * DAY_MS);
      await sim.fund(store.address, 5 * TFT);
      await sim.transfer(rich, bystander, TFT);
      await advance(9 * DAY_MS + 7 * HOUR_MS + 13 * 60_000);
      // Needs every owner settled: the poor owner's contract was deleted meanwhile, freeing its IP.
      const r3 = await sim.deployVms(rich, vmDeployment('r3', [vmSpec('a', nodeId, { publicIp: true })]));
      await advance(3 * DAY_MS);

      // Read back one owner at a time (each read settles only that owner), the node last.
      const owners: Record<string, unknown> = {};
      for (const o of [store.address, rescued.address, poor.address, rich.address, bystander]) {
        owners[o] = {
          balance: await sim.balance(o),
          contracts: await sim.contractsOf(o),
          history: await sim.billingHistory(o),
          incoming: await sim.incomingTransfers(o),
        };
      }
      const deployments = {
        p: await sim.getVms(poor, 'vm/p', 'p'),
        r1: await sim.getVms(rich, 'vm/r1', 'r1'),
        r2: await sim.getVms(rich, 'other/r2', 'r2'),
        r3: await sim.getVms(rich, 'vm/r3', 'r3'),
        s: await sim.getVms(rescued, 'vm/s', 's'),
        z: await sim.getZdbs(store, 'zdb/z', 'z'),
      };
      const node = await sim.getNode(nodeId);
      const stats = await sim.stats();
      await sim.close();
      return { r3, owners, deployments, node, stats, file: await stateFile(hh.dir) };
    } finally {
      await hh.cleanup();
    }
  }

  it('gives the same state as settling every owner at once, or hour by hour', async () => {
    const lazy = await threeWeeks('lazy');
    const eager = await threeWeeks('eager');
    const hourly = await threeWeeks('hourly');
    expect(lazy).toEqual(eager);
    expect(lazy).toEqual(hourly);

    // and the scenario went where it was meant to
    const contracts = (o: { address: string }) => (lazy.owners[o.address] as { contracts: { state: string; deletedCause?: string }[] }).contracts;
    expect(contracts(poor)).toMatchObject([{ state: 'deleted', deletedCause: 'out_of_funds' }]);
    const history = (o: { address: string }) => (lazy.owners[o.address] as { history: { kind: string }[] }).history;
    expect(history(rescued).some((e) => e.kind === 'overdue')).toBe(true);
    expect(contracts(rich).every((c) => c.state === 'created')).toBe(true);
    expect(lazy.deployments.r3[0]?.publicIp).toMatch(/\/24$/);
  });
});

describe('reads of nodes', () => {
  it('see the contracts every owner lost to a lack of funds, without reading the owners', async () => {
    const nodeId = await pickNode(h.sim, { cru: 8 }, true);
    const before = await h.sim.getNode(nodeId);
    const owners = [who('a-address'), who('b-address'), who('c-address')];
    for (const [i, o] of owners.entries()) {
      await h.sim.ensureTwin(o);
      await h.sim.fund(o.address, 10_000); // enough to deploy, not to pay an hour
      await h.sim.deployVms(o, vmDeployment('x', [vmSpec('a', nodeId, { publicIp: i === 0 })]));
      h.clock.advance(7 * HOUR_MS); // deleted at different times
    }
    expect((await h.sim.getNode(nodeId))?.used.cru).toBe((before?.used.cru ?? 0) + 3);
    h.clock.advance(GRACE_PERIOD_MS);
    expect(await h.sim.getNode(nodeId)).toMatchObject({ used: before?.used, publicIps: before?.publicIps });
    expect((await h.sim.stats()).contracts).toEqual({ created: 0, grace: 0, deleted: 3 });
  });
});

describe('reads', () => {
  it('settle bills without writing; after a crash the same bills are settled again', async () => {
    await h.sim.ensureTwin(alice);
    await h.sim.fund(alice.address, 100 * TFT);
    const nodeId = await pickNode(h.sim, { cru: 2 });
    await h.sim.deployVms(alice, vmDeployment('app', [vmSpec('a', nodeId)]));
    const [{ hourlyCost: cost } = { hourlyCost: 0 }] = await h.sim.listContracts(alice);
    const file = path.join(h.dir, STATE_FILE);

    h.clock.advance(5 * HOUR_MS + 123);
    const onDisk = await readFile(file, 'utf8');
    const balance = await h.sim.balance(alice.address);
    const history = await h.sim.billingHistory(alice.address);
    const contracts = await h.sim.contractsOf(alice.address);
    expect(balance).toBe(100 * TFT - 5 * cost);
    expect(await readFile(file, 'utf8')).toBe(onDisk);

    // kill -9 now: a new process opens the file as it is
    const after = await SimGrid.open({ dataDir: h.dir, clock: h.clock, sleep: instant });
    expect(await after.balance(alice.address)).toBe(balance);
    expect(await after.billingHistory(alice.address)).toEqual(history);
    expect(await after.contractsOf(alice.address)).toEqual(contracts);
    await after.close();

    // settleNow writes what reads settled
    await h.sim.settleNow();
    expect((await stateFile(h.dir)).balances[alice.address]).toBe(balance);
  });
});

describe('in-memory indexes', () => {
  it('rebuilt at open, agree with the running sim after a mixed history', async () => {
    const sim = h.sim;
    await sim.ensureTwin(alice);
    await sim.ensureTwin(bob);
    await sim.fund(alice.address, 1000 * TFT);
    await sim.fund(bob.address, 10_000);
    const [n1, n2] = (await sim.findNodes({ free: { cru: 8, hruGb: 200 }, publicIp: true })).map((n) => n.nodeId) as [number, number];
    await sim.deployVms(alice, vmDeployment('web', [vmSpec('a', n1, { publicIp: true }), vmSpec('b', n2)], 'u1/web'));
    await sim.deployVms(alice, vmDeployment('gone', [vmSpec('a', n1)], 'u1/gone'));
    await sim.deployZdbs(alice, zdbDeployment('z', n2, 100, 'u2/z'));
    await sim.deployVms(bob, vmDeployment('dry', [vmSpec('a', n1, { publicIp: true })]));
    sim.failNextDeploy('boom');
    await expect(sim.deployVms(alice, vmDeployment('fails', [vmSpec('a', n2)]))).rejects.toMatchObject({ code: 'workload_error' });
    await sim.deleteDeployment(alice, 'u1/gone', 'gone');
    const web = await sim.getVms(alice, 'u1/web', 'web');
    await sim.cancelContract(alice, web[1]?.contractId as number); // one machine of two
    h.clock.advance(15 * DAY_MS); // bob: grace, then deleted out of funds

    await sim.settleNow();
    const fresh = await SimGrid.open({ dataDir: h.dir, clock: h.clock, sleep: instant });
    try {
      expect(await fresh.findNodes({ status: 'any' })).toEqual(await sim.findNodes({ status: 'any' }));
      expect(await fresh.stats()).toEqual(await sim.stats());
      for (const o of [alice, bob]) {
        expect(await fresh.listContracts(o, { includeDeleted: true })).toEqual(await sim.listContracts(o, { includeDeleted: true }));
        expect(await fresh.balance(o.address)).toBe(await sim.balance(o.address));
      }
      expect(await fresh.listContracts(alice, { projectPrefix: 'u1/' })).toEqual(await sim.listContracts(alice, { projectPrefix: 'u1/' }));
      expect((await fresh.listContracts(alice, { projectPrefix: 'u1/' })).map((c) => c.deploymentName)).toEqual(['web']);
      expect(await fresh.getVms(alice, 'u1/web', 'web')).toEqual(await sim.getVms(alice, 'u1/web', 'web'));
      expect(await fresh.getZdbs(alice, 'u2/z', 'z')).toEqual(await sim.getZdbs(alice, 'u2/z', 'z'));
      expect(await fresh.getVms(bob, 'vm/dry', 'dry')).toEqual([]);
      // names: taken while live, free once deleted
      await expect(fresh.deployVms(alice, vmDeployment('web', [vmSpec('a', n2)], 'u1/web'))).rejects.toMatchObject({ code: 'name_taken' });
      await expect(fresh.deployVms(alice, vmDeployment('gone', [vmSpec('a', n2)], 'u1/gone'))).resolves.toBeDefined();
    } finally {
      await fresh.close();
    }
  });

  it('give back every node its generated usage, to the unit, once every contract has ended', async () => {
    const sim = h.sim;
    await sim.ensureTwin(alice);
    await sim.fund(alice.address, 1000 * TFT);
    const nodes = (await sim.findNodes({ free: { cru: 4, hruGb: 100 }, publicIp: true, limit: 3 })).map((n) => n.nodeId);
    let k = 0;
    for (const nodeId of nodes) {
      for (const memoryMb of [256, 1000.5, 3333]) {
        const name = `d${k++}`;
        await sim.deployVms(alice, vmDeployment(name, [vmSpec('a', nodeId, { memoryMb, rootfsGb: 0.3, publicIp: k % 2 === 0 })]));
        await sim.deployZdbs(alice, zdbDeployment(`z${k}`, nodeId, 12.75));
      }
    }
    expect((await sim.findNodes({ status: 'any' })).map((n) => n.used)).not.toEqual(generateGrid({ seed: 42 }).nodes.map((n) => n.used));
    for (const c of await sim.listContracts(alice)) await sim.cancelContract(alice, c.contractId);
    const generated = generateGrid({ seed: 42 });
    const all = await sim.findNodes({ status: 'any' });
    expect(all.map((n) => [n.nodeId, n.used]).sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual(
      generated.nodes.map((n) => [n.nodeId, n.used]),
    );
    expect((await sim.stats()).publicIps.free).toBe(
      generated.farms.reduce((s, f) => s + f.publicIps.filter((p) => !p.usedByOther).length, 0),
    );
  });
});

describe('batch', () => {
  it('writes the state file once, at the end, and returns what the function returns', async () => {
    const file = path.join(h.dir, STATE_FILE);
    const before = await readFile(file, 'utf8');
    const nodeId = await pickNode(h.sim, { cru: 2 });
    const ids = await h.sim.batch(async () => {
      await h.sim.ensureTwin(alice);
      await h.sim.fund(alice.address, 100 * TFT);
      const { contractIds } = await h.sim.deployVms(alice, vmDeployment('b', [vmSpec('a', nodeId)]));
      expect(await readFile(file, 'utf8')).toBe(before);
      return contractIds;
    });
    expect(ids).toHaveLength(1);
    const onDisk = await stateFile(h.dir);
    expect(onDisk.contracts.map((c) => c.contractId)).toEqual(ids);
    expect(onDisk.twins[alice.address]).toBeDefined();
    expect(await h.sim.getVms(alice, 'vm/b', 'b')).toMatchObject([{ state: 'ok' }]);
  });

  it('nests, and writes at the end of the outermost batch even when it throws', async () => {
    const file = path.join(h.dir, STATE_FILE);
    const before = await readFile(file, 'utf8');
    await expect(
      h.sim.batch(async () => {
        await h.sim.batch(async () => {
          await h.sim.ensureTwin(alice);
        });
        expect(await readFile(file, 'utf8')).toBe(before);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await stateFile(h.dir)).twins[alice.address]).toBeDefined();
  });

  it('deploys with deployMs 0 and the default sleep without waiting on a timer', async () => {
    const hh = await harness({ deployMs: 0, sleep: undefined });
    const setTimeoutSpy = jest.spyOn(globalThis, 'setTimeout');
    try {
      const nodeId = await pickNode(hh.sim, { cru: 8 });
      await hh.sim.batch(async () => {
        for (let i = 0; i < 5; i++) {
          const id = who(`batch-${i}`);
          await hh.sim.ensureTwin(id);
          await hh.sim.fund(id.address, 10 * TFT);
          await hh.sim.deployVms(id, vmDeployment('n', [vmSpec('a', nodeId)]));
        }
      });
      expect(setTimeoutSpy).not.toHaveBeenCalled();
      expect(await hh.sim.getVms(who('batch-4'), 'vm/n', 'n')).toMatchObject([{ state: 'ok' }]);
    } finally {
      setTimeoutSpy.mockRestore();
      await hh.cleanup();
    }
  });
});

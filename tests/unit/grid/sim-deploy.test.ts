import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { GridError } from '../../../src/grid/port.js';
import { SimGrid } from '../../../src/grid/sim/index.js';
import { gate, harness, pickNode, vmDeployment, vmSpec, who, zdbDeployment, type Harness } from './helpers.js';

const alice = who('alice-address');
const TFT = 10_000_000;

async function gridError(p: Promise<unknown>): Promise<GridError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(GridError);
    return e as GridError;
  }
  throw new Error('expected a GridError');
}

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.cleanup();
});

async function funded(): Promise<SimGrid> {
  await h.sim.ensureTwin(alice);
  await h.sim.fund(alice.address, 10_000 * TFT);
  return h.sim;
}

describe('findNodes', () => {
  it('defaults to nodes that are up, sorted by free cru descending', async () => {
    const all = await h.sim.findNodes({ status: 'any' });
    expect(all).toHaveLength(400);
    const up = await h.sim.findNodes({});
    expect(up.length).toBe(all.filter((n) => n.status === 'up').length);
    expect(up.length).toBeLessThan(400);
    expect(up.every((n) => n.status === 'up')).toBe(true);
    const freeCru = up.map((n) => n.total.cru - n.used.cru);
    expect(freeCru).toEqual([...freeCru].sort((a, b) => b - a));
    const down = await h.sim.findNodes({ status: 'down' });
    expect(down.length).toBeGreaterThan(0);
    expect(down.every((n) => n.status === 'down')).toBe(true);
  });

  it('filters on free resources', async () => {
    const want = { cru: 16, mruMb: 64 * 1024, sruGb: 1000, hruGb: 1000 };
    const up = await h.sim.findNodes({});
    const fit = await h.sim.findNodes({ free: want });
    expect(fit.length).toBeGreaterThan(0);
    expect(fit.length).toBeLessThan(up.length);
    for (const n of fit) {
      expect(n.total.cru - n.used.cru).toBeGreaterThanOrEqual(16);
      expect(n.total.mruMb - n.used.mruMb).toBeGreaterThanOrEqual(64 * 1024);
      expect(n.total.sruGb - n.used.sruGb).toBeGreaterThanOrEqual(1000);
      expect(n.total.hruGb - n.used.hruGb).toBeGreaterThanOrEqual(1000);
    }
    const fitIds = new Set(fit.map((n) => n.nodeId));
    const missed = up.filter(
      (n) =>
        !fitIds.has(n.nodeId) &&
        n.total.cru - n.used.cru >= 16 &&
        n.total.mruMb - n.used.mruMb >= 64 * 1024 &&
        n.total.sruGb - n.used.sruGb >= 1000 &&
        n.total.hruGb - n.used.hruGb >= 1000,
    );
    expect(missed).toEqual([]);
  });

  it('filters on country and city case-insensitively', async () => {
    const be = await h.sim.findNodes({ country: 'belgium', status: 'any' });
    expect(be.length).toBeGreaterThan(0);
    expect(be.every((n) => n.country === 'Belgium')).toBe(true);
    const ghent = await h.sim.findNodes({ country: 'BELGIUM', city: 'ghent', status: 'any' });
    expect(ghent.length).toBeGreaterThan(0);
    expect(ghent.every((n) => n.city === 'Ghent')).toBe(true);
    expect(await h.sim.findNodes({ country: 'Atlantis' })).toEqual([]);
    expect(await h.sim.findNodes({ country: 'Belg' })).toEqual([]);
  });

  it('filters on a free public IPv4, farm, node ids, exclusions and limit', async () => {
    const up = await h.sim.findNodes({});
    const withIp = await h.sim.findNodes({ publicIp: true });
    expect(withIp.length).toBeGreaterThan(0);
    expect(withIp.length).toBeLessThan(up.length);
    expect(withIp.every((n) => n.publicIps.free >= 1)).toBe(true);
    expect(up.filter((n) => n.publicIps.free >= 1).length).toBe(withIp.length);

    const farmId = up[0]?.farmId as number;
    const farm = await h.sim.findNodes({ farmId });
    expect(farm.length).toBeGreaterThan(0);
    expect(farm.every((n) => n.farmId === farmId)).toBe(true);

    const ids = up.slice(0, 3).map((n) => n.nodeId);
    expect((await h.sim.findNodes({ nodeIds: ids })).map((n) => n.nodeId).sort()).toEqual([...ids].sort());
    const excluded = await h.sim.findNodes({ excludeNodeIds: ids });
    expect(excluded.length).toBe(up.length - 3);
    expect(excluded.some((n) => ids.includes(n.nodeId))).toBe(false);
    expect(await h.sim.findNodes({ limit: 5 })).toHaveLength(5);
  });

  it('sees a node set down as down', async () => {
    const nodeId = await pickNode(h.sim, {});
    await h.sim.setNodeStatus(nodeId, 'down');
    expect((await h.sim.findNodes({ nodeIds: [nodeId] })).length).toBe(0);
    expect((await h.sim.getNode(nodeId))?.status).toBe('down');
    expect((await h.sim.getNode(nodeId))?.uptimeSec).toBe(0);
  });
});

describe('deployVms', () => {
  it('creates one contract per machine with metadata, cost, IPs and reserved resources', async () => {
    const sim = await funded();
    const nodeId = await pickNode(sim, { cru: 4, mruMb: 8192, sruGb: 100 }, true);
    const before = await sim.getNode(nodeId);
    const d = vmDeployment('web', [vmSpec('a', nodeId, { cpu: 2, memoryMb: 2048, publicIp: true }), vmSpec('b', nodeId)]);
    const { contractIds } = await sim.deployVms(alice, d);
    expect(contractIds).toHaveLength(2);
    const contracts = await sim.listContracts(alice);
    expect(contracts.map((c) => c.contractId)).toEqual(contractIds);
    for (const c of contracts) {
      expect(c).toMatchObject({ state: 'created', type: 'vm', projectName: 'vm/web', deploymentName: 'web', nodeId });
    }
    const node = await sim.getNode(nodeId);
    expect(node?.used.cru).toBe((before?.used.cru ?? 0) + 3);
    expect(node?.used.mruMb).toBe((before?.used.mruMb ?? 0) + 3072);
    expect(node?.used.sruGb).toBe((before?.used.sruGb ?? 0) + 24);
    expect(node?.publicIps.free).toBe((before?.publicIps.free ?? 0) - 1);
    const certified = node?.certified ?? false;
    expect(contracts[0]?.hourlyCost).toBe(
      await sim.hourlyCost({ cru: 2, mruMb: 2048, sruGb: 12, hruGb: 0, publicIps: 1, certified }),
    );
    expect(contracts[1]?.hourlyCost).toBe(
      await sim.hourlyCost({ cru: 1, mruMb: 1024, sruGb: 12, hruGb: 0, publicIps: 0, certified }),
    );

    const vms = await sim.getVms(alice, 'vm/web', 'web');
    expect(vms.map((v) => v.state)).toEqual(['ok', 'ok']);
    expect(vms[0]?.publicIp).toMatch(/^\d+\.\d+\.\d+\.\d+\/24$/);
    expect(vms[1]?.publicIp).toBeUndefined();
    expect(vms[0]?.mycelium).toMatch(/^4[0-9a-f]{2}:/);
    expect(vms[0]?.privateIp).toMatch(/^10\.20\.\d+\.\d+$/);
    expect(vms[1]?.privateIp).not.toBe(vms[0]?.privateIp);
  });

  it('persists the contracts before waiting for the workloads', async () => {
    const g = gate();
    const first = await h.reopen({ sleep: g.sleep, deployMs: 60_000 });
    await first.ensureTwin(alice);
    await first.fund(alice.address, 100 * TFT);
    const nodeId = await pickNode(first, { cru: 2 });
    const deploying = first.deployVms(alice, vmDeployment('slow', [vmSpec('a', nodeId)]));
    expect(await g.entered).toBe(60_000);

    // Another process opening the same data dir (e.g. after a kill -9) sees the contracts.
    const second = await SimGrid.open({ dataDir: h.dir, clock: h.clock });
    const seen = await second.listContracts(alice);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.state).toBe('created');
    expect((await second.getVms(alice, 'vm/slow', 'slow'))[0]?.state).toBe('init');
    await second.close();

    g.release();
    const { contractIds } = await deploying;
    expect(contractIds).toEqual([seen[0]?.contractId]);
    expect((await first.getVms(alice, 'vm/slow', 'slow'))[0]?.state).toBe('ok');
  });

  it('rolls back every contract it created when a workload fails, and says which', async () => {
    const sim = await funded();
    const nodeId = await pickNode(sim, { cru: 4 });
    const before = await sim.getNode(nodeId);
    sim.failNextDeploy('flist download failed');
    const err = await gridError(sim.deployVms(alice, vmDeployment('bad', [vmSpec('a', nodeId), vmSpec('b', nodeId)])));
    expect(err.code).toBe('workload_error');
    expect(err.message).toContain('flist download failed');
    expect(err.rolledBack).toHaveLength(2);
    for (const id of err.rolledBack) expect(err.message).toContain(String(id));
    expect(await sim.listContracts(alice)).toEqual([]);
    const all = await sim.listContracts(alice, { includeDeleted: true });
    expect(all.map((c) => c.contractId)).toEqual(err.rolledBack);
    expect(all.every((c) => c.state === 'deleted' && c.deletedCause === 'canceled')).toBe(true);
    expect((await sim.getNode(nodeId))?.used).toEqual(before?.used);
    // the failure was for one deploy only
    await expect(sim.deployVms(alice, vmDeployment('bad', [vmSpec('a', nodeId)]))).resolves.toBeDefined();
  });

  it('fails the next N deploys when asked', async () => {
    const sim = await funded();
    const nodeId = await pickNode(sim, { cru: 1 });
    sim.failNextDeploy('flaky', 2);
    for (const name of ['one', 'two']) {
      const err = await gridError(sim.deployVms(alice, vmDeployment(name, [vmSpec('a', nodeId)])));
      expect(err.code).toBe('workload_error');
      expect(err.message).toContain('flaky');
    }
    await expect(sim.deployVms(alice, vmDeployment('three', [vmSpec('a', nodeId)]))).resolves.toBeDefined();
  });

  it('fails workloads at the seeded rate', async () => {
    const h2 = await harness({ workloadFailureRate: 1 });
    try {
      await h2.sim.ensureTwin(alice);
      await h2.sim.fund(alice.address, 100 * TFT);
      const nodeId = await pickNode(h2.sim, { cru: 1 });
      const err = await gridError(h2.sim.deployVms(alice, vmDeployment('x', [vmSpec('a', nodeId)])));
      expect(err.code).toBe('workload_error');
      expect(err.rolledBack).toHaveLength(1);
    } finally {
      await h2.cleanup();
    }
  });

  it('rolls back when a workload is failed while deploy waits', async () => {
    const g = gate();
    const sim = await h.reopen({ sleep: g.sleep });
    await sim.ensureTwin(alice);
    await sim.fund(alice.address, 100 * TFT);
    const nodeId = await pickNode(sim, { cru: 1 });
    const deploying = sim.deployVms(alice, vmDeployment('w', [vmSpec('a', nodeId)]));
    await g.entered;
    const [c] = await sim.listContracts(alice);
    await sim.failWorkload(c?.contractId as number, 'kernel panic');
    g.release();
    const err = await gridError(deploying);
    expect(err.code).toBe('workload_error');
    expect(err.message).toContain('kernel panic');
    expect(err.rolledBack).toEqual([c?.contractId]);
  });

  it('refuses a name already taken in the project, until it is deleted', async () => {
    const sim = await funded();
    const nodeId = await pickNode(sim, { cru: 4 });
    await sim.deployVms(alice, vmDeployment('dup', [vmSpec('a', nodeId)]));
    const err = await gridError(sim.deployVms(alice, vmDeployment('dup', [vmSpec('a', nodeId)])));
    expect(err.code).toBe('name_taken');
    await expect(sim.deployVms(alice, vmDeployment('dup', [vmSpec('a', nodeId)], 'other/project'))).resolves.toBeDefined();
    await sim.deleteDeployment(alice, 'vm/dup', 'dup');
    await expect(sim.deployVms(alice, vmDeployment('dup', [vmSpec('a', nodeId)]))).resolves.toBeDefined();
  });

  it('names the node and the missing resource when capacity is short', async () => {
    const sim = await funded();
    const [node] = await sim.findNodes({ free: { cru: 2, mruMb: 2048 }, limit: 1 });
    if (!node) throw new Error('no node');
    const freeCru = node.total.cru - node.used.cru;
    const err = await gridError(sim.deployVms(alice, vmDeployment('big', [vmSpec('a', node.nodeId, { cpu: freeCru + 1 })])));
    expect(err.code).toBe('no_capacity');
    expect(err.message).toContain(`node ${node.nodeId}`);
    expect(err.message).toContain('vCPU');
    const freeMem = node.total.mruMb - node.used.mruMb;
    const mem = await gridError(sim.deployVms(alice, vmDeployment('big', [vmSpec('a', node.nodeId, { memoryMb: freeMem + 1024 })])));
    expect(mem.code).toBe('no_capacity');
    expect(mem.message).toContain(`node ${node.nodeId}`);
    expect(mem.message).toContain('memory');
    // machines of one deployment add up on their node
    const half = Math.floor(freeCru / 2) + 1;
    const sum = await gridError(
      sim.deployVms(alice, vmDeployment('two', [vmSpec('a', node.nodeId, { cpu: half }), vmSpec('b', node.nodeId, { cpu: half })])),
    );
    expect(sum.code).toBe('no_capacity');
    expect(await sim.listContracts(alice)).toEqual([]);
  });

  it('needs a twin and 0.001 TFT of free balance', async () => {
    const sim = h.sim;
    const nodeId = await pickNode(sim, { cru: 1 });
    const d = vmDeployment('money', [vmSpec('a', nodeId)]);
    expect((await gridError(sim.deployVms(alice, d))).code).toBe('no_twin');
    await sim.ensureTwin(alice);
    expect((await gridError(sim.deployVms(alice, d))).code).toBe('insufficient_funds');
    await sim.fund(alice.address, 9_999);
    expect((await gridError(sim.deployVms(alice, d))).code).toBe('insufficient_funds');
    await sim.fund(alice.address, 1);
    await expect(sim.deployVms(alice, d)).resolves.toBeDefined();
  });

  it('refuses nodes that are down and farms without a free public IP', async () => {
    const sim = await funded();
    const nodeId = await pickNode(sim, { cru: 1 });
    await sim.setNodeStatus(nodeId, 'down');
    expect((await gridError(sim.deployVms(alice, vmDeployment('d', [vmSpec('a', nodeId)])))).code).toBe('node_down');
    const noIp = (await sim.findNodes({ free: { cru: 1 } })).find((n) => n.publicIps.free === 0);
    if (!noIp) throw new Error('every farm has IPs');
    const err = await gridError(sim.deployVms(alice, vmDeployment('d', [vmSpec('a', noIp.nodeId, { publicIp: true })])));
    expect(err.code).toBe('no_public_ip');
    expect(err.message).toContain(`node ${noIp.nodeId}`);
  });

  it('reports the workloads of a node that goes down as errors', async () => {
    const sim = await funded();
    const nodeId = await pickNode(sim, { cru: 1 });
    await sim.deployVms(alice, vmDeployment('n', [vmSpec('a', nodeId)]));
    await sim.setNodeStatus(nodeId, 'down');
    expect(await sim.getVms(alice, 'vm/n', 'n')).toMatchObject([{ state: 'error', message: 'node is down' }]);
    await sim.setNodeStatus(nodeId, 'up');
    expect(await sim.getVms(alice, 'vm/n', 'n')).toMatchObject([{ state: 'ok' }]);
  });

  it('validates names like grid_client', async () => {
    const sim = await funded();
    const nodeId = await pickNode(sim, { cru: 1 });
    expect((await gridError(sim.deployVms(alice, vmDeployment('has-dash', [vmSpec('a', nodeId)])))).code).toBe('invalid');
    expect((await gridError(sim.deployVms(alice, vmDeployment('ok', [vmSpec('a', nodeId), vmSpec('a', nodeId)])))).code).toBe('invalid');
    expect((await gridError(sim.deployVms(alice, vmDeployment('ok', [])))).code).toBe('invalid');
  });
});

describe('deleteDeployment and cancelContract', () => {
  it('frees the resources so findNodes sees them again', async () => {
    const sim = await funded();
    const [node] = await sim.findNodes({ free: { cru: 4 }, publicIp: true, limit: 1 });
    if (!node) throw new Error('no node');
    const freeCru = node.total.cru - node.used.cru;
    const freeIps = node.publicIps.free;
    const filter = { nodeIds: [node.nodeId], free: { cru: freeCru } };
    await sim.deployVms(alice, vmDeployment('gone', [vmSpec('a', node.nodeId, { cpu: freeCru, publicIp: true })]));
    expect(await sim.findNodes(filter)).toEqual([]);
    expect((await sim.getNode(node.nodeId))?.publicIps.free).toBe(freeIps - 1);
    const ids = await sim.deleteDeployment(alice, 'vm/gone', 'gone');
    expect(ids).toHaveLength(1);
    expect((await sim.findNodes(filter)).map((n) => n.nodeId)).toEqual([node.nodeId]);
    expect((await sim.getNode(node.nodeId))?.publicIps.free).toBe(freeIps);
    expect(await sim.getVms(alice, 'vm/gone', 'gone')).toEqual([]);
    expect(await sim.deleteDeployment(alice, 'vm/gone', 'gone')).toEqual([]);
    expect(await sim.deleteDeployment(alice, 'vm/never', 'never')).toEqual([]);
  });

  it('cancels only the owner\'s contracts; cancelling twice is a no-op', async () => {
    const sim = await funded();
    const bob = who('bob-address');
    await sim.ensureTwin(bob);
    const nodeId = await pickNode(sim, { cru: 1 });
    const { contractIds } = await sim.deployVms(alice, vmDeployment('mine', [vmSpec('a', nodeId)]));
    const id = contractIds[0] as number;
    expect((await gridError(sim.cancelContract(bob, id))).code).toBe('not_found');
    expect((await gridError(sim.cancelContract(alice, 999_999_999))).code).toBe('not_found');
    await sim.cancelContract(alice, id);
    await sim.cancelContract(alice, id);
    expect(await sim.listContracts(alice)).toEqual([]);
    expect(await sim.listContracts(alice, { includeDeleted: true })).toMatchObject([
      { contractId: id, state: 'deleted', deletedCause: 'canceled' },
    ]);
  });

  it('lists contracts by project prefix', async () => {
    const sim = await funded();
    const nodeId = await pickNode(sim, { cru: 2 });
    await sim.deployVms(alice, vmDeployment('one', [vmSpec('a', nodeId)], 'u1/one'));
    await sim.deployVms(alice, vmDeployment('two', [vmSpec('a', nodeId)], 'u2/two'));
    expect((await sim.listContracts(alice, { projectPrefix: 'u1/' })).map((c) => c.deploymentName)).toEqual(['one']);
    expect(await sim.listContracts(alice)).toHaveLength(2);
    expect(await sim.listContracts(who('nobody'))).toEqual([]);
  });
});

describe('deployZdbs', () => {
  it('creates zdb contracts on HRU with namespace, IPs and port', async () => {
    const sim = await funded();
    const twinId = await sim.ensureTwin(alice);
    const nodeId = await pickNode(sim, { hruGb: 500 });
    const before = await sim.getNode(nodeId);
    const { contractIds } = await sim.deployZdbs(alice, zdbDeployment('store', nodeId, 200));
    const [z] = await sim.getZdbs(alice, 'zdb/store', 'store');
    expect(z).toMatchObject({ name: 'store0', nodeId, state: 'ok', port: 9900, sizeGb: 200, mode: 'seq' });
    expect(z?.namespace).toBe(`${twinId}-${contractIds[0]}-store0`);
    expect(z?.ips).toHaveLength(2);
    expect((await sim.getNode(nodeId))?.used.hruGb).toBe((before?.used.hruGb ?? 0) + 200);
    const [c] = await sim.listContracts(alice);
    expect(c).toMatchObject({ type: 'zdb', hourlyCost: await sim.hourlyCost({ cru: 0, mruMb: 0, sruGb: 0, hruGb: 200, publicIps: 0, certified: before?.certified ?? false }) });
    const noHdd = (await sim.findNodes({})).find((n) => n.total.hruGb === 0);
    if (!noHdd) throw new Error('every node has HDD');
    const err = await gridError(sim.deployZdbs(alice, zdbDeployment('nohdd', noHdd.nodeId, 10)));
    expect(err.code).toBe('no_capacity');
    expect(err.message).toContain('HDD');
  });
});

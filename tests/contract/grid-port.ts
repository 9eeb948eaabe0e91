/**
 * The contract of the Grid and Chain ports (src/grid/port.ts): what every adapter must do, the
 * simulated grid and the real ThreeFold Grid alike, because the product relies on it.
 *
 * Each assertion names what relies on it. The suite runs against one fixture (built once, in
 * beforeAll); tests do not depend on each other: each deploys under its own name (a random suffix)
 * and every deployment is tracked and deleted in afterAll, then everything left under this run's
 * project names is cancelled, so a live run leaves no contract behind (a run killed midway is swept
 * by the next one: contracts of this namespace older than STALE_MS are cancelled at start).
 *
 * Not itself a test file: tests/contract/*.test.ts call gridPortContract with their fixture.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import { createIdentity } from '../../src/chain/identity.js';
import { HOUR_MS, UNITS_PER_TFT, type Units } from '../../src/domain/money.js';
import {
  GridError,
  type Chain,
  type ContractInfo,
  type Faucet,
  type Grid,
  type GridErrorCode,
  type GridNode,
  type Identity,
  type NodeFilter,
  type Resources,
  type VmDeployment,
  type VmSpec,
  type ZdbDeployment,
} from '../../src/grid/port.js';

export interface Fixture {
  grid: Grid;
  chain: Chain;
  /** has (or may be given) a twin, and the balance to deploy a few small VMs and a small 0-db */
  funded: Identity;
  /** the sim's faucet; the deposit tests need it */
  faucet?: Faucet;
  /** moves the grid's clock (sim only); the billing test needs it */
  advance?: (ms: number) => Promise<void>;
  teardown(): Promise<void>;
}

/**
 * What the grid behind the fixture can do and how long it takes. Known when the suite is declared
 * (before the fixture is built), so that what cannot run shows as skipped.
 */
export interface ContractOptions {
  /** per test and per hook; a live deploy takes minutes. Default 30 s. */
  timeoutMs?: number;
  /** how long a change may take to show in reads (an indexer's lag); 0 (default): at once */
  consistencyMs?: number;
  /** how many nodes a deploy is tried on before the test fails (the product retries on another node); default 1 */
  deployAttempts?: number;
  /** the fixture has a faucet: the deposit tests run */
  faucet?: boolean;
  /** the fixture can advance the clock: the billing test runs */
  clock?: boolean;
  /** what the transfer test moves from `funded` to a fresh address; omitted: that test is skipped */
  transferAmount?: Units;
}

/** Every project of the suite starts with this; product projects are `jukebox/u<user>/d<deployment>`. */
export const CONTRACT_NAMESPACE = 'contract-test/';
/** Contracts of the namespace older than this are left over from a killed run and swept at start. */
const STALE_MS = 6 * HOUR_MS;

const FLIST = 'https://hub.grid.tf/tf-official-apps/base:latest.flist';
/** A small VM: what the contract deploys (sizes in the port's units: MB, GB). */
const SMALL_VM = { cpu: 1, memoryMb: 1024, rootfsGb: 2 } as const;
const SMALL_VM_FREE: Partial<Resources> = { cru: SMALL_VM.cpu, mruMb: SMALL_VM.memoryMb, sruGb: SMALL_VM.rootfsGb };
const SMALL_ZDB_GB = 1;
/** What deploy-node.ts and storage.ts retry on another node. */
const RETRYABLE = new Set<GridErrorCode>(['no_capacity', 'node_down', 'no_public_ip', 'workload_error', 'timeout']);
const CANNOT_FIT = ['no_capacity', 'node_down', 'no_public_ip'];
const NO_SUCH_NODE = 999_999_999;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fold = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase();
const rand = (): string => Math.random().toString(36).slice(2, 8).padEnd(6, '0');
const ids = (cs: { contractId: number }[]): number[] => cs.map((c) => c.contractId).sort((a, b) => a - b);
const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
const freeOf = (n: GridNode, k: keyof Resources): number => n.total[k] - n.used[k];

/** The GridError a call failed with (fails the test if it did not fail, or failed otherwise). */
async function gridError(p: Promise<unknown>): Promise<GridError> {
  let value: unknown;
  try {
    value = await p;
  } catch (e) {
    if (!(e instanceof GridError)) throw new Error(`expected a GridError, got ${String(e)}`, { cause: e });
    return e;
  }
  throw new Error(`expected a GridError, but the call succeeded with ${JSON.stringify(value)}`);
}

export function gridPortContract(name: string, setup: () => Promise<Fixture>, options: ContractOptions = {}): void {
  const T = options.timeoutMs ?? 30_000;
  const consistencyMs = options.consistencyMs ?? 0;
  const attempts = Math.max(1, options.deployAttempts ?? 1);
  const itIf = (run: boolean) => (run ? it : it.skip);

  // One user of the product is `u<digits>`; another user's number is a string prefix of ours, so a
  // prefix filter that forgot the trailing slash would mix them.
  const otherUser = String(100_000 + Math.floor(Math.random() * 900_000));
  const me = `${otherUser}1`;
  const userPrefix = (u: string) => `${CONTRACT_NAMESPACE}u${u}/`;
  let projects = 0;
  const project = (): string => `${userPrefix(me)}d${++projects}${rand()}`;

  let fx: Fixture;
  let twinId: number;
  const tracked: { project: string; name: string }[] = [];
  const track = (projectName: string, deployment: string) => {
    if (!tracked.some((t) => t.project === projectName && t.name === deployment)) tracked.push({ project: projectName, name: deployment });
  };

  /** Reads until `ok` holds or the grid's consistency window passed; returns the last read (assert on it). */
  async function within<V>(read: () => Promise<V>, ok: (v: V) => boolean): Promise<V> {
    const deadline = Date.now() + consistencyMs;
    for (;;) {
      const v = await read();
      if (ok(v) || Date.now() >= deadline) return v;
      await sleep(Math.min(5_000, Math.max(50, consistencyMs / 20)));
    }
  }

  const liveOf = (projectName: string, deployment?: string): Promise<ContractInfo[]> =>
    fx.grid
      .listContracts(fx.funded, { projectPrefix: projectName })
      .then((cs) => cs.filter((c) => c.projectName === projectName && (deployment === undefined || c.deploymentName === deployment)));

  function smallVm(vmName: string, nodeId: number, over: Partial<VmSpec> = {}): VmSpec {
    return {
      name: vmName,
      nodeId,
      ...SMALL_VM,
      disks: [],
      flist: FLIST,
      entrypoint: '/sbin/zinit init',
      env: {},
      publicIp: false,
      mycelium: true,
      ...over,
    };
  }

  /** Nodes that take a small VM (with a free public IPv4 when asked), `count` of them, distinct. */
  async function nodesForSmallVm(count: number, publicIp: boolean, avoid: number[]): Promise<GridNode[]> {
    const found = await fx.grid.findNodes({ free: SMALL_VM_FREE, ...(publicIp ? { publicIp: true } : {}), excludeNodeIds: avoid, limit: 30 });
    if (found.length < count) throw new Error(`the grid has only ${found.length} up nodes with room for a small VM${publicIp ? ' and a public IPv4' : ''}`);
    return found.slice(0, count);
  }

  /**
   * Deploys `count` small VMs under one name, one per node, on nodes findNodes offers. Like the
   * product, a node that fails (a retryable code) is replaced by another, up to `deployAttempts`.
   */
  async function deploySmall(
    projectName: string,
    deployment: string,
    o: { count?: number; publicIp?: boolean; env?: Record<string, string> } = {},
  ): Promise<{ d: VmDeployment; nodes: GridNode[]; contractIds: number[] }> {
    const count = o.count ?? 1;
    const avoid: number[] = [];
    for (let attempt = 1; ; attempt++) {
      const nodes = await nodesForSmallVm(count, o.publicIp ?? false, avoid);
      const d: VmDeployment = {
        projectName,
        name: deployment,
        machines: nodes.map((n, i) =>
          smallVm(count === 1 ? deployment : `${deployment}_${i}`, n.nodeId, { env: o.env ?? {}, publicIp: o.publicIp ?? false }),
        ),
      };
      track(projectName, deployment);
      try {
        const { contractIds } = await fx.grid.deployVms(fx.funded, d);
        return { d, nodes, contractIds };
      } catch (e) {
        if (attempt >= attempts || !(e instanceof GridError) || !RETRYABLE.has(e.code)) throw e;
        console.warn(`${name}: deploying ${deployment} on nodes ${nodes.map((n) => n.nodeId).join(', ')} failed (${e.code}: ${e.message}); trying other nodes`);
        avoid.push(...nodes.map((n) => n.nodeId));
      }
    }
  }

  async function deploySmallZdb(projectName: string, deployment: string): Promise<{ d: ZdbDeployment; node: GridNode; contractIds: number[] }> {
    const avoid: number[] = [];
    for (let attempt = 1; ; attempt++) {
      const [node] = await fx.grid.findNodes({ free: { hruGb: SMALL_ZDB_GB }, excludeNodeIds: avoid, limit: 10 });
      if (!node) throw new Error('no up node has room for a small 0-db');
      const d: ZdbDeployment = {
        projectName,
        name: deployment,
        zdbs: [{ name: deployment, nodeId: node.nodeId, mode: 'seq', diskGb: SMALL_ZDB_GB, password: `pw${rand()}${rand()}`, publicNamespace: false }],
      };
      track(projectName, deployment);
      try {
        const { contractIds } = await fx.grid.deployZdbs(fx.funded, d);
        return { d, node, contractIds };
      } catch (e) {
        if (attempt >= attempts || !(e instanceof GridError) || !RETRYABLE.has(e.code)) throw e;
        console.warn(`${name}: deploying 0-db ${deployment} on node ${node.nodeId} failed (${e.code}: ${e.message}); trying another node`);
        avoid.push(node.nodeId);
      }
    }
  }

  /** Deleted contracts as listContracts shows them with includeDeleted. */
  async function deletedOf(projectName: string, contractIds: number[]): Promise<ContractInfo[]> {
    const all = await fx.grid.listContracts(fx.funded, { projectPrefix: projectName, includeDeleted: true });
    return all.filter((c) => contractIds.includes(c.contractId));
  }

  function expectCanceled(list: ContractInfo[], contractIds: number[]): void {
    expect(ids(list)).toEqual(sorted(contractIds));
    for (const c of list) expect({ id: c.contractId, state: c.state, deletedCause: c.deletedCause }).toEqual({ id: c.contractId, state: 'deleted', deletedCause: 'canceled' });
  }

  describe(`Grid port contract: ${name}`, () => {
    beforeAll(async () => {
      fx = await setup();
      // provision.ts gives every user a twin before the first deploy
      twinId = await fx.grid.ensureTwin(fx.funded);
      // what a run killed midway left behind
      const stale = (await fx.grid.listContracts(fx.funded, { projectPrefix: CONTRACT_NAMESPACE })).filter((c) => c.createdAt < Date.now() - STALE_MS);
      for (const c of stale) await fx.grid.cancelContract(fx.funded, c.contractId).catch(() => undefined);
    }, T);

    afterAll(async () => {
      if (!fx) return;
      const problems: string[] = [];
      try {
        for (const t of tracked) {
          await fx.grid.deleteDeployment(fx.funded, t.project, t.name).catch((e: unknown) => problems.push(`delete ${t.project} ${t.name}: ${String(e)}`));
        }
        // anything else this run created (a deploy that failed midway, a name the test did not track)
        const left = await fx.grid.listContracts(fx.funded, { projectPrefix: userPrefix(me) }).catch((e: unknown) => {
          problems.push(`listing what is left: ${String(e)}`);
          return [];
        });
        for (const c of left) {
          await fx.grid.cancelContract(fx.funded, c.contractId).catch((e: unknown) => problems.push(`cancel ${c.contractId}: ${String(e)}`));
        }
      } finally {
        await fx.teardown();
      }
      if (problems.length > 0) throw new Error(`${name}: cleanup left work undone, check the grid by hand:\n${problems.join('\n')}`);
    }, 2 * T);

    describe('verification', () => {
      // no link is asked: on the real grid each one opens a KYC session, and a verified account gets none
      it('the funded identity is verified: the grid deploys only for verified accounts', async () => {
        expect(await fx.grid.verification(fx.funded)).toBe('verified');
      }, T);
    });

    describe('ensureTwin', () => {
      it('is idempotent: the same twin id every time', async () => {
        expect(Number.isSafeInteger(twinId) && twinId > 0).toBe(true);
        expect(await fx.grid.ensureTwin(fx.funded)).toBe(twinId);
        expect(await fx.grid.ensureTwin(fx.funded)).toBe(twinId);
      }, T);
    });

    describe('findNodes and getNode', () => {
      it('returns nodes that are up unless asked otherwise', async () => {
        const dflt = await fx.grid.findNodes({ limit: 30 });
        expect(dflt.length).toBeGreaterThan(0);
        expect(dflt.filter((n) => n.status !== 'up')).toEqual([]);
        for (const status of ['down', 'standby'] as const) {
          const other = await fx.grid.findNodes({ status, limit: 10 });
          expect(other.filter((n) => n.status !== status)).toEqual([]);
        }
      }, T);

      it('honours free resources (the planner asks for what one instance needs)', async () => {
        const want: Resources = { cru: 2, mruMb: 4096, sruGb: 50, hruGb: 100 };
        const fit = await fx.grid.findNodes({ free: want, limit: 30 });
        expect(fit.length).toBeGreaterThan(0);
        for (const n of fit) {
          const free = { cru: freeOf(n, 'cru'), mruMb: freeOf(n, 'mruMb'), sruGb: freeOf(n, 'sruGb'), hruGb: freeOf(n, 'hruGb') };
          expect({ node: n.nodeId, enough: (Object.keys(want) as (keyof Resources)[]).every((k) => free[k] >= want[k]), free }).toEqual({
            node: n.nodeId,
            enough: true,
            free,
          });
        }
        expect(await fx.grid.findNodes({ free: { cru: 100_000 }, limit: 5 })).toEqual([]);
        expect(await fx.grid.findNodes({ free: { mruMb: 1_000_000_000 }, limit: 5 })).toEqual([]);
      }, T);

      it('honours publicIp: only nodes whose farm has a free public IPv4', async () => {
        const withIp = await fx.grid.findNodes({ publicIp: true, limit: 30 });
        expect(withIp.length).toBeGreaterThan(0);
        expect(withIp.filter((n) => n.publicIps.free < 1)).toEqual([]);
      }, T);

      it('honours country, city and farm (names matched as the planner folds them)', async () => {
        const some = await fx.grid.findNodes({ limit: 30 });
        const n = some.find((x) => x.country.trim() !== '' && x.city.trim() !== '');
        if (!n) throw new Error('no up node has a country and a city');

        const inCountry = await fx.grid.findNodes({ country: n.country, limit: 30 });
        expect(inCountry.length).toBeGreaterThan(0);
        expect(inCountry.filter((x) => fold(x.country) !== fold(n.country))).toEqual([]);
        const shouted = await fx.grid.findNodes({ country: n.country.toUpperCase(), limit: 30 });
        expect(shouted.length).toBeGreaterThan(0);
        expect(shouted.filter((x) => fold(x.country) !== fold(n.country))).toEqual([]);

        const inCity = await fx.grid.findNodes({ country: n.country, city: n.city, limit: 30 });
        expect(inCity.length).toBeGreaterThan(0);
        expect(inCity.filter((x) => fold(x.country) !== fold(n.country) || fold(x.city) !== fold(n.city))).toEqual([]);

        const inFarm = await fx.grid.findNodes({ farmId: n.farmId, limit: 30 });
        expect(inFarm.length).toBeGreaterThan(0);
        expect(inFarm.filter((x) => x.farmId !== n.farmId)).toEqual([]);

        const exact: NodeFilter = { nodeIds: [n.nodeId], country: n.country, city: n.city, farmId: n.farmId };
        expect((await fx.grid.findNodes(exact)).map((x) => x.nodeId)).toEqual([n.nodeId]);
        expect(await fx.grid.findNodes({ nodeIds: [n.nodeId], country: 'Atlantis' })).toEqual([]);
        expect(await fx.grid.findNodes({ nodeIds: [n.nodeId], farmId: n.farmId + 1_000_000 })).toEqual([]);
        expect(await fx.grid.findNodes({ country: 'Atlantis', limit: 5 })).toEqual([]);
      }, T);

      it('honours excludeNodeIds (retries avoid the nodes already tried)', async () => {
        const first = await fx.grid.findNodes({ limit: 5 });
        expect(first).toHaveLength(5);
        const tried = first.map((n) => n.nodeId);
        const again = await fx.grid.findNodes({ excludeNodeIds: tried, limit: 5 });
        expect(again.length).toBeGreaterThan(0);
        expect(again.filter((n) => tried.includes(n.nodeId))).toEqual([]);
        const [a, b] = tried as [number, number];
        expect((await fx.grid.findNodes({ nodeIds: [a, b], excludeNodeIds: [a] })).map((n) => n.nodeId)).toEqual([b]);
      }, T);

      it('honours limit', async () => {
        expect(await fx.grid.findNodes({ limit: 3 })).toHaveLength(3);
        expect(await fx.grid.findNodes({ limit: 1 })).toHaveLength(1);
      }, T);

      it('getNode of a found node is that node; an unknown node is undefined', async () => {
        const found = await fx.grid.findNodes({ limit: 3 });
        expect(found.length).toBeGreaterThan(0);
        for (const n of found) {
          const got = await fx.grid.getNode(n.nodeId);
          const stable = (x: GridNode | undefined) =>
            x && { nodeId: x.nodeId, farmId: x.farmId, farmName: x.farmName, country: x.country, city: x.city, certified: x.certified, total: x.total };
          expect(stable(got)).toEqual(stable(n));
          expect(got?.status).toBe('up');
          expect(got && Number.isFinite(got.uptimeSec) && got.uptimeSec >= 0).toBe(true);
        }
        expect(await fx.grid.getNode(NO_SUCH_NODE)).toBeUndefined();
      }, T);
    });

    describe('hourlyCost', () => {
      const base = { cru: 1, mruMb: 1024, sruGb: 10, hruGb: 0, publicIps: 0, certified: false };

      it('is a positive whole number of units', async () => {
        const cost = await fx.grid.hourlyCost(base);
        expect(Number.isSafeInteger(cost)).toBe(true);
        expect(cost).toBeGreaterThan(0);
      }, T);

      it('costs more for more resources, and more with a public IPv4', async () => {
        const cost = await fx.grid.hourlyCost(base);
        const more = {
          cru: await fx.grid.hourlyCost({ ...base, cru: base.cru + 2 }),
          mruMb: await fx.grid.hourlyCost({ ...base, mruMb: base.mruMb + 4096 }),
          sruGb: await fx.grid.hourlyCost({ ...base, sruGb: base.sruGb + 200 }),
          hruGb: await fx.grid.hourlyCost({ ...base, hruGb: base.hruGb + 2000 }),
          publicIps: await fx.grid.hourlyCost({ ...base, publicIps: 1 }),
        };
        for (const [what, c] of Object.entries(more)) {
          expect({ what, integer: Number.isSafeInteger(c), more: c > cost }).toEqual({ what, integer: true, more: true });
        }
        expect(await fx.grid.hourlyCost({ ...base, certified: true })).toBeGreaterThanOrEqual(cost);
      }, T);
    });

    describe('a small VM (deployVms, getVms, listContracts)', () => {
      const projectName = project();
      const vmName = `ct_vm_${rand()}`;
      const env = { CONTRACT_MARK: rand(), HELLO: 'world' };
      let node: GridNode;
      let contractIds: number[];

      beforeAll(async () => {
        const r = await deploySmall(projectName, vmName, { env });
        node = r.nodes[0]!;
        contractIds = r.contractIds;
      }, T);

      it('deployVms returns its contract ids', () => {
        expect(contractIds.length).toBeGreaterThan(0);
        for (const id of contractIds) expect(Number.isSafeInteger(id) && id > 0).toBe(true);
        expect(new Set(contractIds).size).toBe(contractIds.length);
      });

      it('getVms shows it ok on its node, with its contract ids, its env, mycelium, and no public IPv4 it did not ask for', async () => {
        const vms = await fx.grid.getVms(fx.funded, projectName, vmName);
        expect(vms).toHaveLength(1);
        const vm = vms[0]!;
        expect({ name: vm.name, nodeId: vm.nodeId, state: vm.state }).toEqual({ name: vmName, nodeId: node.nodeId, state: 'ok' });
        expect(contractIds).toContain(vm.contractId);
        expect(vm.env).toEqual(expect.objectContaining(env));
        expect(typeof vm.mycelium === 'string' && vm.mycelium.length > 0).toBe(true);
        // instanceOf (deploy-node.ts) takes any truthy publicIp for the node's address
        expect(vm.publicIp || undefined).toBeUndefined();
      }, T);

      it('listContracts lists its contracts with their metadata', async () => {
        const mine = await within(
          () => liveOf(projectName, vmName),
          (cs) => cs.length === contractIds.length,
        );
        expect(ids(mine)).toEqual(sorted(contractIds));
        for (const c of mine) {
          expect({ projectName: c.projectName, deploymentName: c.deploymentName, type: c.type, state: c.state, nodeId: c.nodeId }).toEqual({
            projectName,
            deploymentName: vmName,
            type: 'vm',
            state: 'created',
            nodeId: node.nodeId,
          });
          expect(Number.isSafeInteger(c.hourlyCost) && c.hourlyCost >= 0).toBe(true);
          expect(Number.isFinite(c.createdAt) && c.createdAt > 0).toBe(true);
          expect(c.deletedCause).toBeUndefined();
        }
      }, T);

      it("listContracts by projectPrefix: the user's prefix lists it, another user's never does", async () => {
        // the watchdog lists a user's contracts by `jukebox/u<user>/`, teardown by the project name
        const byUser = await within(
          () => fx.grid.listContracts(fx.funded, { projectPrefix: userPrefix(me) }),
          (cs) => contractIds.every((id) => cs.some((c) => c.contractId === id)),
        );
        expect(ids(byUser.filter((c) => contractIds.includes(c.contractId)))).toEqual(sorted(contractIds));
        for (const c of byUser) expect(c.projectName.startsWith(userPrefix(me))).toBe(true);

        const other = await fx.grid.listContracts(fx.funded, { projectPrefix: userPrefix(otherUser) });
        expect(other.filter((c) => contractIds.includes(c.contractId))).toEqual([]);
        const otherProject = await fx.grid.listContracts(fx.funded, { projectPrefix: `${userPrefix(otherUser)}d1`, includeDeleted: true });
        expect(otherProject.filter((c) => contractIds.includes(c.contractId))).toEqual([]);
      }, T);

      it("deploying the same name again in the project fails with 'name_taken' and leaves the first intact", async () => {
        const err = await gridError(fx.grid.deployVms(fx.funded, { projectName, name: vmName, machines: [smallVm(vmName, node.nodeId)] }));
        expect(err.code).toBe('name_taken');
        const vms = await fx.grid.getVms(fx.funded, projectName, vmName);
        expect(vms.map((v) => ({ state: v.state, nodeId: v.nodeId }))).toEqual([{ state: 'ok', nodeId: node.nodeId }]);
        expect(contractIds).toContain(vms[0]!.contractId);
        expect(ids(await liveOf(projectName, vmName))).toEqual(sorted(contractIds));
      }, T);

      it('the same name in another project is another deployment (names are per project)', async () => {
        // a user may order a deployment under the name of one they deleted: same grid name, new project
        const otherProject = project();
        const second = await deploySmall(otherProject, vmName);
        expect(second.contractIds.filter((id) => contractIds.includes(id))).toEqual([]);
        const there = await fx.grid.getVms(fx.funded, otherProject, vmName);
        expect(ids(there)).toEqual(sorted(second.contractIds));
        expect(ids(await fx.grid.getVms(fx.funded, projectName, vmName))).toEqual(sorted(contractIds));

        expect(sorted(await fx.grid.deleteDeployment(fx.funded, otherProject, vmName))).toEqual(sorted(second.contractIds));
        const first = await fx.grid.getVms(fx.funded, projectName, vmName);
        expect(first.map((v) => ({ id: v.contractId, state: v.state }))).toEqual(contractIds.map((id) => ({ id, state: 'ok' })));
      }, T);
    });

    describe('a small VM with a public IPv4', () => {
      it('getVms reports the IPv4 it asked for, as grid_client does (address/prefix)', async () => {
        const projectName = project();
        const vmName = `ct_ip_${rand()}`;
        const { contractIds } = await deploySmall(projectName, vmName, { publicIp: true });
        const vms = await fx.grid.getVms(fx.funded, projectName, vmName);
        expect(vms).toHaveLength(1);
        expect(vms[0]!.state).toBe('ok');
        expect(contractIds).toContain(vms[0]!.contractId);
        expect(vms[0]!.publicIp).toMatch(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/);
        await fx.grid.deleteDeployment(fx.funded, projectName, vmName);
      }, T);
    });

    describe('a deployment that cannot be placed', () => {
      it('fails with a code the product retries on another node, leaves no live contract, and frees its name', async () => {
        const projectName = project();
        const vmName = `ct_big_${rand()}`;
        const [n] = await fx.grid.findNodes({ limit: 1 });
        if (!n) throw new Error('no up node');
        // more memory than the node has in all: it cannot fit, whoever else is there
        const tooBig = smallVm(vmName, n.nodeId, { memoryMb: Math.ceil(n.total.mruMb / 1024) * 1024 + 4096 });
        track(projectName, vmName);
        const err = await gridError(fx.grid.deployVms(fx.funded, { projectName, name: vmName, machines: [tooBig] }));
        expect(CANNOT_FIT).toContain(err.code);

        expect(await fx.grid.getVms(fx.funded, projectName, vmName)).toEqual([]);
        const live = await within(
          () => liveOf(projectName, vmName),
          (cs) => cs.length === 0,
        );
        expect(live).toEqual([]);
        if (err.rolledBack.length > 0) {
          const all = await fx.grid.listContracts(fx.funded, { projectPrefix: projectName });
          expect(all.filter((c) => err.rolledBack.includes(c.contractId))).toEqual([]);
        }

        // deploy-node.ts retries under the same grid name on another node
        const again = await deploySmall(projectName, vmName);
        expect(ids(await fx.grid.getVms(fx.funded, projectName, vmName))).toEqual(sorted(again.contractIds));
        await fx.grid.deleteDeployment(fx.funded, projectName, vmName);
      }, T);

      it('rolls back the machines that fit when another one does not', async () => {
        const projectName = project();
        const vmName = `ct_half_${rand()}`;
        const [fits, other] = await nodesForSmallVm(2, false, []);
        const tooBig = smallVm(`${vmName}_1`, other!.nodeId, { memoryMb: Math.ceil(other!.total.mruMb / 1024) * 1024 + 4096 });
        track(projectName, vmName);
        const err = await gridError(
          fx.grid.deployVms(fx.funded, { projectName, name: vmName, machines: [smallVm(`${vmName}_0`, fits!.nodeId), tooBig] }),
        );
        expect(CANNOT_FIT).toContain(err.code);
        expect(await fx.grid.getVms(fx.funded, projectName, vmName)).toEqual([]);
        const live = await within(
          () => liveOf(projectName, vmName),
          (cs) => cs.length === 0,
        );
        expect(live).toEqual([]);
      }, T);
    });

    describe('deleteDeployment', () => {
      it('cancels every contract of the name and returns their ids; again it returns []', async () => {
        const projectName = project();
        const vmName = `ct_del_${rand()}`;
        const { contractIds, nodes } = await deploySmall(projectName, vmName, { count: 2 });
        expect(new Set(nodes.map((n) => n.nodeId)).size).toBe(2);
        expect(contractIds.length).toBeGreaterThanOrEqual(2);
        expect(ids(await fx.grid.getVms(fx.funded, projectName, vmName))).toEqual(sorted(contractIds));

        expect(sorted(await fx.grid.deleteDeployment(fx.funded, projectName, vmName))).toEqual(sorted(contractIds));
        const vms = await within(
          () => fx.grid.getVms(fx.funded, projectName, vmName),
          (v) => v.length === 0,
        );
        expect(vms).toEqual([]);
        expect(await fx.grid.deleteDeployment(fx.funded, projectName, vmName)).toEqual([]);

        const live = await within(
          () => liveOf(projectName),
          (cs) => cs.length === 0,
        );
        expect(live.filter((c) => contractIds.includes(c.contractId))).toEqual([]);
        const deleted = await within(
          () => deletedOf(projectName, contractIds),
          (cs) => cs.length === contractIds.length && cs.every((c) => c.state === 'deleted'),
        );
        expectCanceled(deleted, contractIds);
      }, T);

      it('of a name that does not exist returns []', async () => {
        expect(await fx.grid.deleteDeployment(fx.funded, project(), `ct_none_${rand()}`)).toEqual([]);
      }, T);
    });

    describe('cancelContract', () => {
      it('cancels that one contract: the VM is gone and the contract is listed as deleted only with includeDeleted', async () => {
        const projectName = project();
        const vmName = `ct_cancel_${rand()}`;
        const { contractIds } = await deploySmall(projectName, vmName);
        const [id] = contractIds as [number];
        await fx.grid.cancelContract(fx.funded, id);

        const vms = await within(
          () => fx.grid.getVms(fx.funded, projectName, vmName),
          (v) => !v.some((x) => x.contractId === id),
        );
        expect(vms.filter((v) => v.contractId === id)).toEqual([]);
        const live = await within(
          () => liveOf(projectName),
          (cs) => !cs.some((c) => c.contractId === id),
        );
        expect(live.filter((c) => c.contractId === id)).toEqual([]);
        const deleted = await within(
          () => deletedOf(projectName, [id]),
          (cs) => cs.length === 1 && cs[0]!.state === 'deleted',
        );
        expectCanceled(deleted, [id]);

        // teardown and reconcile cancel what listContracts still shows; a contract just cancelled may be among it
        await fx.grid.cancelContract(fx.funded, id);
      }, T);
    });

    describe('a small 0-db (deployZdbs, getZdbs)', () => {
      it('getZdbs shows the namespace, port, addresses, size and mode; deleteDeployment removes it', async () => {
        const projectName = project();
        const zdbName = `ctzdb${rand()}`;
        const { node, contractIds } = await deploySmallZdb(projectName, zdbName);
        expect(contractIds.length).toBeGreaterThan(0);

        const zdbs = await fx.grid.getZdbs(fx.funded, projectName, zdbName);
        expect(zdbs).toHaveLength(1);
        const z = zdbs[0]!;
        expect({ name: z.name, nodeId: z.nodeId, state: z.state, sizeGb: z.sizeGb, mode: z.mode }).toEqual({
          name: zdbName,
          nodeId: node.nodeId,
          state: 'ok',
          sizeGb: SMALL_ZDB_GB,
          mode: 'seq',
        });
        expect(contractIds).toContain(z.contractId);
        expect(typeof z.namespace === 'string' && z.namespace.length > 0).toBe(true);
        expect(Number.isInteger(z.port) && z.port > 0 && z.port < 65536).toBe(true);
        expect(z.ips.length).toBeGreaterThan(0);
        for (const ip of z.ips) expect(typeof ip === 'string' && ip.length > 0).toBe(true);

        const listed = await within(
          () => liveOf(projectName, zdbName),
          (cs) => cs.length === contractIds.length,
        );
        expect(ids(listed)).toEqual(sorted(contractIds));
        for (const c of listed) expect({ type: c.type, state: c.state }).toEqual({ type: 'zdb', state: 'created' });

        expect(sorted(await fx.grid.deleteDeployment(fx.funded, projectName, zdbName))).toEqual(sorted(contractIds));
        const after = await within(
          () => fx.grid.getZdbs(fx.funded, projectName, zdbName),
          (v) => v.length === 0,
        );
        expect(after).toEqual([]);
      }, T);
    });

    describe('billing', () => {
      itIf(options.clock === true)('a live contract is paid from the free balance every hour', async () => {
        if (!fx.advance) throw new Error('the fixture has no clock to advance');
        const projectName = project();
        const vmName = `ct_bill_${rand()}`;
        const { contractIds } = await deploySmall(projectName, vmName);
        const cost = (await liveOf(projectName, vmName)).reduce((s, c) => s + c.hourlyCost, 0);
        const before = await fx.chain.balance(fx.funded.address);
        await fx.advance(HOUR_MS + 1000);
        const after = await fx.chain.balance(fx.funded.address);
        expect(before - after).toBeGreaterThanOrEqual(cost);
        const live = await liveOf(projectName, vmName);
        expect(live.map((c) => ({ id: c.contractId, state: c.state }))).toEqual(sorted(contractIds).map((id) => ({ id, state: 'created' })));
        await fx.grid.deleteDeployment(fx.funded, projectName, vmName);
      }, T);
    });

    describe('Chain', () => {
      it('balance is a whole number of units: the funded identity has some, a fresh address none', async () => {
        const b = await fx.chain.balance(fx.funded.address);
        expect(Number.isSafeInteger(b)).toBe(true);
        expect(b).toBeGreaterThan(0);
        const fresh = await createIdentity();
        expect(await fx.chain.balance(fresh.address)).toBe(0);
      }, T);

      it('isValidAddress accepts TFChain addresses and refuses the rest', async () => {
        const fresh = await createIdentity();
        expect(fx.chain.isValidAddress(fx.funded.address)).toBe(true);
        expect(fx.chain.isValidAddress(fresh.address)).toBe(true);
        const polkadot = encodeAddress(decodeAddress(fx.funded.address), 0);
        expect(polkadot).not.toBe(fx.funded.address);
        for (const bad of ['', 'garbage', 'not an address at all', polkadot, fx.funded.address.slice(0, -1), `${fx.funded.address}x`, `0x${'ab'.repeat(32)}`]) {
          expect({ bad, valid: fx.chain.isValidAddress(bad) }).toEqual({ bad, valid: false });
        }
      }, T);

      it('incomingTransfers of an address nobody paid is empty', async () => {
        const fresh = await createIdentity();
        expect(await fx.chain.incomingTransfers(fresh.address)).toEqual([]);
      }, T);

      itIf(options.faucet === true)('a deposit appears in incomingTransfers exactly once, oldest first, and `after` its id skips it', async () => {
        const faucet = fx.faucet;
        if (!faucet) throw new Error('the fixture has no faucet');
        const who = await createIdentity();
        const t1 = await faucet.fund(who.address, 3 * UNITS_PER_TFT);
        expect(typeof t1.id === 'string' && t1.id.length > 0).toBe(true);
        expect({ to: t1.to, amount: t1.amount }).toEqual({ to: who.address, amount: 3 * UNITS_PER_TFT });

        const seen = await fx.chain.incomingTransfers(who.address);
        expect(seen).toEqual([t1]);
        expect(await fx.chain.incomingTransfers(who.address, t1.id)).toEqual([]);

        const t2 = await faucet.fund(who.address, 2 * UNITS_PER_TFT);
        expect(t2.id).not.toBe(t1.id);
        expect(await fx.chain.incomingTransfers(who.address)).toEqual([t1, t2]);
        expect(await fx.chain.incomingTransfers(who.address, t1.id)).toEqual([t2]);
        expect(await fx.chain.incomingTransfers(who.address, t2.id)).toEqual([]);
        expect(await fx.chain.balance(who.address)).toBe(5 * UNITS_PER_TFT);
      }, T);

      itIf(options.transferAmount !== undefined)('transfer moves the amount to the other address, and the recipient sees it once', async () => {
        const amount = options.transferAmount!;
        const to = await createIdentity();
        const before = await fx.chain.balance(fx.funded.address);
        const t = await fx.chain.transfer(fx.funded, to.address, amount);
        expect({ from: t.from, to: t.to, amount: t.amount }).toEqual({ from: fx.funded.address, to: to.address, amount });
        expect(typeof t.id === 'string' && t.id.length > 0).toBe(true);

        const received = await within(
          () => fx.chain.balance(to.address),
          (b) => b === amount,
        );
        expect(received).toBe(amount);
        // on TFChain the sender pays a fee besides
        expect(await fx.chain.balance(fx.funded.address)).toBeLessThanOrEqual(before - amount);
        const incoming = await within(
          () => fx.chain.incomingTransfers(to.address),
          (ts) => ts.length > 0,
        );
        expect(incoming.map((x) => ({ id: x.id, from: x.from, to: x.to, amount: x.amount }))).toEqual([
          { id: t.id, from: fx.funded.address, to: to.address, amount },
        ]);
        expect(await fx.chain.incomingTransfers(to.address, t.id)).toEqual([]);
      }, T);

      it("transfer beyond the balance is refused with 'insufficient_funds' and moves nothing", async () => {
        // the withdrawal job tells the user "nothing was sent" on this code only
        const empty = await createIdentity();
        const err = await gridError(fx.chain.transfer(empty, fx.funded.address, UNITS_PER_TFT));
        expect(err.code).toBe('insufficient_funds');
        expect(await fx.chain.balance(empty.address)).toBe(0);
      }, T);
    });
  });
}

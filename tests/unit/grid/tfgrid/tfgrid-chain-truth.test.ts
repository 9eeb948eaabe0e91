/**
 * TfGrid when GraphQL and the chain disagree, and the grid_client behaviours that made it fail on
 * the real grid, faked at the seam as the 2.9.2 packages behave:
 * - GraphQL lags the chain: a contract cancelled (or rolled back) a moment ago is still listed live;
 * - `contracts.cancel` of a contract the chain no longer has throws a TypeError ("reading 'apply'");
 * - `batchCancelContracts` cancels all or none, leaving out contracts already gone;
 * - the module delete asks the KYC service first (here: any module call fails the test);
 * - `filterNodes` drops excluded nodes (and node 259 on devnet) after gridproxy made its page.
 */
import { beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import { GridError, type Identity, type VmDeployment } from '../../../../src/grid/port.js';
import type {
  ChainContractShape,
  DeploymentResultShape,
  FilterOptionsShape,
  GqlContractState,
  GridClientLike,
  MachinesShape,
  NodeInfoShape,
} from '../../../../src/grid/tfgrid/client-seam.js';
import { loadGridClientPackage } from '../../../../src/grid/tfgrid/client-seam.js';
import { kycFactory } from '../../../../src/grid/tfgrid/kyc.js';
import { networkNameOf } from '../../../../src/grid/tfgrid/models.js';
import type { ClientPool } from '../../../../src/grid/tfgrid/seams.js';
import { TfGrid } from '../../../../src/grid/tfgrid/tfgrid.js';
import type { Logger } from '../../../../src/log.js';
import { DEV_SETTINGS } from '../../../helpers/fake-grid-client.js';

const P = 'jukebox/u7/d3';
const TWIN = 55;
const ALICE: Identity = { mnemonic: 'alice words that must stay secret always', address: 'alice-addr' };
const OPERATOR: Identity = { mnemonic: 'operator words that must stay secret always', address: 'op-addr' };

const settings = DEV_SETTINGS;

interface Contract {
  id: number;
  twinId: number;
  nodeId: number;
  meta: { type: string; name: string; projectName: string };
  /** what TFChain holds */
  chain: 'created' | 'grace' | 'gone';
  /** what GraphQL lists (undefined: not indexed yet) */
  gql?: GqlContractState;
}

class World {
  contracts = new Map<number, Contract>();
  next = 900;
  nodes: NodeInfoShape[] = [];
  cancels: number[] = [];
  batches: number[][] = [];
  /** the next batch fails (batchAll: all or none) after this happened on chain */
  failBatch: (() => void) | undefined;
  moduleCalls: string[] = [];
  filterNodes: FilterOptionsShape[] = [];
  deploys: MachinesShape[] = [];
  /** what a deploy does on the chain, then how it fails (nothing: it succeeds) */
  onDeploy: (model: MachinesShape, rollback: (c: DeploymentResultShape) => Promise<void>) => Promise<DeploymentResultShape> = async () => ({ created: [], updated: [], deleted: [] });

  add(meta: Contract['meta'], nodeId: number, over: Partial<Contract> = {}): Contract {
    const c: Contract = { id: this.next++, twinId: TWIN, nodeId, meta, chain: 'created', gql: 'Created', ...over };
    this.contracts.set(c.id, c);
    return c;
  }

  shape(c: Contract): ChainContractShape {
    return {
      contractId: c.id,
      twinId: c.twinId,
      state: c.chain === 'grace' ? { gracePeriod: 5 } : { created: null },
      contractType: { nodeContract: { nodeId: c.nodeId, deploymentData: JSON.stringify({ version: 3, ...c.meta }), publicIps: 0 } },
    };
  }

  /** the chain cancels it; GraphQL does not know yet */
  end(c: Contract): void {
    c.chain = 'gone';
  }
}

const noModule = (w: World, what: string) => async () => {
  w.moduleCalls.push(what);
  throw new Error(`${what} must not be used (grid_client asks KYC first)`);
};

function client(w: World, twinId: number): GridClientLike {
  const alive = (id: number) => {
    const c = w.contracts.get(id);
    return c && c.chain !== 'gone' ? c : undefined;
  };
  const modules = (p: string) => {
    const handler = {
      rollback: async (r: DeploymentResultShape) => {
        for (const x of r.created) w.end(w.contracts.get(x.contractId)!);
      },
    };
    const machines = {
      twinDeploymentHandler: handler,
      deploy: async (model: MachinesShape) => {
        w.deploys.push(model);
        return { contracts: await w.onDeploy(model, (r) => handler.rollback(r)) };
      },
      list: noModule(w, `machines.list ${p}`),
      getObj: noModule(w, `machines.getObj ${p}`),
      delete: noModule(w, `machines.delete ${p}`),
      add_machine: noModule(w, 'add_machine'),
    };
    const zdbs = { ...machines, delete: noModule(w, `zdbs.delete ${p}`), add_zdb: noModule(w, 'add_zdb') };
    return { machines, zdbs } as unknown as ReturnType<GridClientLike['forProject']>;
  };
  const lastId = () => Math.max(0, ...w.contracts.keys());
  return {
    twinId,
    machines: modules('').machines,
    zdbs: modules('').zdbs,
    contracts: {
      get: async ({ id }) => {
        const c = alive(id);
        return c ? w.shape(c) : null;
      },
      listMyContracts: async (o) => ({
        nodeContracts: [...w.contracts.values()]
          .filter((c) => c.twinId === twinId && c.gql !== undefined && (o?.state ?? ['Created', 'GracePeriod']).includes(c.gql))
          .map((c) => ({ contractID: String(c.id), nodeID: c.nodeId, state: c.gql!, createdAt: '1767225600', deploymentData: JSON.stringify({ version: 3, ...c.meta }) })),
      }),
      getConsumption: async () => ({ amountBilled: 0.1 }),
      getDeletionTime: async () => 0,
      cancel: async ({ id }) => {
        const c = alive(id);
        // tfchain_client's cancel returns no extrinsic for a contract it cannot find
        if (!c) throw new TypeError("Cannot read properties of undefined (reading 'apply')");
        w.cancels.push(id);
        w.end(c);
        return id;
      },
      batchCancelContracts: async ({ ids }) => {
        const fail = w.failBatch;
        if (fail) {
          w.failBatch = undefined;
          fail();
          throw Object.assign(new Error("Module Error: Failed to apply 'batchAll' on section 'utility'"), { keyError: 'ContractNotExists' });
        }
        const batch = ids.filter((id) => alive(id));
        w.batches.push(batch);
        for (const id of batch) w.end(w.contracts.get(id)!);
        return ids;
      },
    },
    capacity: {
      // as grid_client: gridproxy pages, then exclusions (and devnet's node 259) are dropped
      filterNodes: async (o = {}) => {
        w.filterNodes.push({ ...o });
        const size = o.size ?? 50;
        const page = w.nodes.filter((n) => n.status === (o.status ?? 'up')).slice(((o.page ?? 1) - 1) * size, (o.page ?? 1) * size);
        const drop = [...(o.nodeExclude ?? []), 259];
        return page.filter((n) => !drop.includes(n.nodeId));
      },
      nodes: { getNode: async (id) => w.nodes.find((n) => n.nodeId === id) },
    },
    balance: { getMyBalance: async () => ({ free: 1, reserved: 0, frozen: 0 }), get: async () => ({ free: 1, reserved: 0, frozen: 0 }), transfer: async () => 0 },
    calculator: { calculate: async () => ({ sharedPrice: 7.2, dedicatedPrice: 0 }), tftPrice: async () => 0.01 },
    tfclient: {
      disconnect: async () => undefined,
      api: {
        query: {
          smartContractModule: {
            contractID: async () => ({ toPrimitive: () => lastId() }),
            activeNodeContracts: async (node: unknown) => ({
              toPrimitive: () => [...w.contracts.values()].filter((c) => c.nodeId === node && c.chain !== 'gone').map((c) => c.id),
            }),
          },
        },
        rpc: {},
        tx: {},
      },
    },
    forProject: (p) => modules(p),
    disconnect: async () => undefined,
  };
}

function node(nodeId: number): NodeInfoShape {
  const GB = 1024 ** 3;
  return {
    nodeId,
    farmId: 1,
    farmName: 'f',
    uptime: 100,
    status: 'up',
    certificationType: 'Diy',
    total_resources: { cru: 8, mru: 32 * GB, sru: 1000 * GB, hru: 0 },
    used_resources: { cru: 0, mru: 0, sru: 0, hru: 0 },
    location: { country: 'Belgium', city: 'Ghent' },
  };
}

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

let w: World;
let grid: TfGrid;
let lines: Line[];
let used: Array<[pool: string, address: string]>;

function build(opts: { operatorPool?: boolean } = {}): void {
  const c = client(w, TWIN);
  const op = client(w, 1);
  used = [];
  const pool = (name: string): ClientPool<GridClientLike> => ({
    size: 0,
    close: async () => undefined,
    use: async (id, fn) => (used.push([name, id.address]), fn(id.address === OPERATOR.address ? op : c)),
  });
  lines = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => lines.push({ level, obj, msg });
  const log = { warn: at('warn'), error: at('error'), debug: at('debug'), info: at('info'), child: () => log } as unknown as Logger;
  grid = new TfGrid({
    settings,
    pool: pool('users'),
    ...(opts.operatorPool ? { operatorPool: pool('operator') } : {}),
    registrar: { ensureTwin: async () => TWIN },
    operator: OPERATOR,
    log,
    kyc: () => ({ status: async () => 'VERIFIED', getToken: async () => 'token-123456' }),
  });
}

let deleted: { base: number[]; light: number[] };
beforeAll(() => {
  // so forgetContracts reaches grid_client's lists, as in production
  process.env.POLKADOTJS_DISABLE_ESM_CJS_WARNING = '1';
  const pkg = loadGridClientPackage();
  const req = createRequire(import.meta.url);
  const light = req(req.resolve('@threefold/grid_client').replace(/index\.js$/, 'primitives/networklight.js')) as { ZNetworkLight: { deletedContracts: number[] } };
  deleted = { base: pkg.BaseModule.deletedContracts, light: light.ZNetworkLight.deletedContracts };
});

beforeEach(() => {
  w = new World();
  build();
});

const vm = (name: string, projectName = P) => ({ type: 'vm', name, projectName });
const net = (name: string, projectName = P) => ({ type: 'network-light', name: networkNameOf(projectName, name), projectName });

function deployment(nodeId = 34): VmDeployment {
  return {
    projectName: P,
    name: 'dash_1',
    machines: [
      { name: 'dash_1', nodeId, cpu: 1, memoryMb: 1024, rootfsGb: 1, disks: [], flist: 'https://hub.grid.tf/x.flist', entrypoint: '/sbin/zinit init', env: {}, publicIp: false, mycelium: true },
    ],
  };
}

async function gridError(p: Promise<unknown>): Promise<GridError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(GridError);
    return e as GridError;
  }
  throw new Error('expected a GridError');
}

describe('deleteDeployment cancels by contract id', () => {
  it('cancels the VM and network contracts in one batch, without grid_client modules (no KYC)', async () => {
    const n = w.add(net('btc_0'), 42);
    const v = w.add(vm('btc_0'), 42);
    const other = w.add(vm('btc_1'), 42);
    const longer = w.add(vm('btc_0', `${P}1`), 42);
    await expect(grid.deleteDeployment(ALICE, P, 'btc_0')).resolves.toEqual([n.id, v.id]);
    expect(w.batches).toEqual([[v.id, n.id]]);
    expect(w.cancels).toEqual([]);
    expect(w.moduleCalls).toEqual([]);
    expect([other.chain, longer.chain]).toEqual(['created', 'created']);
  });

  it('skips what GraphQL lists but the chain no longer has, and returns [] for an unknown name', async () => {
    w.add(vm('btc_0'), 42, { chain: 'gone' });
    const n = w.add(net('btc_0'), 42);
    await expect(grid.deleteDeployment(ALICE, P, 'btc_0')).resolves.toEqual([n.id]);
    expect(w.cancels).toEqual([n.id]);
    await expect(grid.deleteDeployment(ALICE, P, 'nothing')).resolves.toEqual([]);
    expect(w.batches).toEqual([]);
  });

  it('cancels one by one when the batch fails, a contract gone meanwhile counting as cancelled', async () => {
    const v = w.add(vm('btc_0'), 42);
    const n = w.add(net('btc_0'), 42);
    // someone else's cancel of the VM lands first: the batch fails as a whole
    w.failBatch = () => w.end(v);
    await expect(grid.deleteDeployment(ALICE, P, 'btc_0')).resolves.toEqual([v.id, n.id]);
    expect(w.batches).toEqual([]);
    expect(w.cancels).toEqual([n.id]);
  });
});

describe('deleteDeployment right after this process deployed it', () => {
  it('cancels every contract the deploy made (VM and network) though GraphQL lists none yet, and nothing of another twin or project', async () => {
    w.onDeploy = async (model) => {
      const node = model.machines[0]!.node_id;
      // applyAllExtrinsics made the network contract, then the VM's; deploy returns the VM's only
      w.add(net('dash_1'), node, { gql: undefined });
      const v = w.add(vm('dash_1'), node, { gql: undefined });
      // made meanwhile on the same node: another twin's, and this twin's in a longer project
      w.add({ type: 'vm', name: 'dash_1', projectName: P }, node, { twinId: 77, gql: undefined });
      w.add(vm('dash_1', `${P}1`), node, { gql: undefined });
      w.add(net('dash_1', `${P}1`), node, { gql: undefined });
      return { created: [w.shape(v)], updated: [], deleted: [] };
    };
    await expect(grid.deployVms(ALICE, deployment())).resolves.toEqual({ contractIds: [901] });
    // the product's redeploy ("not swapped") or a half-made node's cleanup, seconds later
    await expect(grid.deleteDeployment(ALICE, P, 'dash_1')).resolves.toEqual([900, 901]);
    expect(w.batches.map((b) => [...b].sort())).toEqual([[900, 901]]);
    expect([900, 901, 902, 903, 904].map((id) => w.contracts.get(id)!.chain)).toEqual(['gone', 'gone', 'created', 'created', 'created']);
    expect(w.moduleCalls).toEqual([]);
    // nothing left to cancel the second time
    await expect(grid.deleteDeployment(ALICE, P, 'dash_1')).resolves.toEqual([]);
  });

  it('finds the contracts a zdb deploy returned before GraphQL lists them', async () => {
    w.onDeploy = async () => {
      const z = w.add({ type: 'zdb', name: 'store1', projectName: P }, 34, { gql: undefined });
      return { created: [w.shape(z)], updated: [], deleted: [] };
    };
    const { contractIds } = await grid.deployZdbs(ALICE, {
      projectName: P,
      name: 'store1',
      zdbs: [{ name: 'store1', nodeId: 34, mode: 'user', diskGb: 10, password: 'zdb-secret-password', publicNamespace: false }],
    });
    expect(contractIds).toEqual([900]);
    await expect(grid.deleteDeployment(ALICE, P, 'store1')).resolves.toEqual([900]);
    expect(w.cancels).toEqual([900]);
  });
});

describe('a name whose contracts GraphQL still lists after the chain dropped them', () => {
  it('is free: the retry reaches grid_client, which is told the contracts are gone', async () => {
    const v = w.add(vm('dash_1'), 12, { chain: 'gone' });
    const n = w.add(net('dash_1'), 12, { chain: 'gone' });
    const out = await grid.deployVms(ALICE, deployment());
    expect(out).toEqual({ contractIds: [] });
    expect(w.deploys).toHaveLength(1);
    // grid_client's deploy checks the name again, and loads the network, from its GraphQL listing
    expect(deleted.base).toEqual(expect.arrayContaining([v.id, n.id]));
    expect(deleted.light).toEqual(expect.arrayContaining([v.id, n.id]));
  });

  it('is taken while a contract of it is alive on chain', async () => {
    w.add(vm('dash_1'), 12);
    const e = await gridError(grid.deployVms(ALICE, deployment()));
    expect(e.code).toBe('name_taken');
    expect(w.deploys).toHaveLength(0);
  });

  it("cancels a failed attempt's network left alive, before grid_client would load it from its node", async () => {
    const n = w.add(net('dash_1'), 12);
    await grid.deployVms(ALICE, deployment());
    expect(w.cancels).toEqual([n.id]);
    expect(w.deploys).toHaveLength(1);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['cancelled network contracts a failed deployment left']);
  });
});

describe('a failed deploy', () => {
  it('takes a contract the rollback already removed as rolled back, without cancelling it again', async () => {
    w.onDeploy = async (model, rollback) => {
      const n = w.add(net('dash_1'), model.machines[0]!.node_id, { gql: undefined });
      const v = w.add(vm('dash_1'), model.machines[0]!.node_id, { gql: undefined });
      await rollback({ created: [w.shape(n), w.shape(v)], updated: [], deleted: [] });
      throw new Error('Deployment failed to be ready after 10 minutes.');
    };
    const e = await gridError(grid.deployVms(ALICE, deployment()));
    expect(e.rolledBack).toEqual([900, 901]);
    expect(w.cancels).toEqual([]);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('finds on chain what a failure without rollback left on its nodes, before GraphQL lists it', async () => {
    const older = w.add(vm('dash_1', `${P}0`), 34);
    const theirs = w.add({ type: 'vm', name: 'x', projectName: 'other' }, 34, { twinId: 77 });
    w.onDeploy = async (model) => {
      // grid_client's applyAllExtrinsics made them, then lost the answer: no rollback
      w.add(net('dash_1'), model.machines[0]!.node_id, { gql: undefined });
      w.add(vm('dash_1'), model.machines[0]!.node_id, { gql: undefined });
      w.add({ type: 'vm', name: 'y', projectName: 'other' }, 34, { twinId: 77, gql: undefined });
      throw new Error('disconnected from wss://tfchain.dev.grid.tf/ws: 1006:: Abnormal Closure');
    };
    const e = await gridError(grid.deployVms(ALICE, deployment()));
    expect(e.rolledBack).toEqual([902, 903]);
    expect(w.batches).toEqual([[902, 903]]);
    expect([older.chain, theirs.chain, w.contracts.get(904)!.chain]).toEqual(['created', 'created', 'created']);
  });
});

describe('cancelContract', () => {
  it('takes a contract gone between its look and its cancel as cancelled', async () => {
    const v = w.add(vm('btc_0'), 42);
    const c = client(w, TWIN);
    const cancel = c.contracts.cancel;
    // someone else's cancel lands first: grid_client then fails reading 'apply'
    c.contracts.cancel = async (o) => (w.end(v), cancel(o));
    const pool: ClientPool<GridClientLike> = { size: 0, close: async () => undefined, use: async (_id, fn) => fn(c) };
    const g = new TfGrid({ settings, pool, registrar: { ensureTwin: async () => TWIN }, operator: OPERATOR, log: { warn() {}, debug() {}, error() {}, info() {} } as unknown as Logger });
    await expect(g.cancelContract(ALICE, v.id)).resolves.toBeUndefined();
  });
});

describe('listContracts', () => {
  it("shows the chain's state, not GraphQL's", async () => {
    const live = w.add(vm('a'), 42);
    const gone = w.add(vm('b'), 42, { chain: 'gone' });
    const grace = w.add(vm('c'), 42, { chain: 'grace' });
    expect((await grid.listContracts(ALICE)).map((c) => [c.contractId, c.state])).toEqual([
      [live.id, 'created'],
      [grace.id, 'grace'],
    ]);
    const all = await grid.listContracts(ALICE, { includeDeleted: true });
    expect(all.find((c) => c.contractId === gone.id)).toMatchObject({ state: 'deleted', deletedCause: 'canceled' });
  });
});

describe('findNodes', () => {
  it('pages without exclusions (grid_client drops them from full pages) and leaves them out itself', async () => {
    for (let i = 1; i <= 250; i++) w.nodes.push(node(i));
    const found = await grid.findNodes({ excludeNodeIds: [3, 150] });
    expect(found).toHaveLength(248);
    expect(found.some((n) => n.nodeId === 3 || n.nodeId === 150)).toBe(false);
    expect(w.filterNodes.map((o) => [o.page, o.nodeExclude])).toEqual([
      [1, undefined],
      [2, undefined],
      [3, undefined],
    ]);
  });

  it("reads past a devnet page grid_client shortened by its own exclusion (node 259)", async () => {
    for (let i = 201; i <= 450; i++) w.nodes.push(node(i));
    expect(await grid.findNodes({})).toHaveLength(249);
    expect(w.filterNodes.map((o) => o.page)).toEqual([1, 2, 3]);
  });

  it("runs on the operator's own client, never a slot of the users' pool", async () => {
    build({ operatorPool: true });
    w.nodes.push(node(1));
    await grid.findNodes({});
    await grid.getNode(1);
    await grid.hourlyCost({ cru: 1, mruMb: 1024, sruGb: 0, hruGb: 0, publicIps: 0, certified: false });
    expect(used).toEqual([
      ['operator', OPERATOR.address],
      ['operator', OPERATOR.address],
      ['operator', OPERATOR.address],
    ]);
  });
});

describe('KYC', () => {
  it('asks the service grid_client asks before deploying, whatever the settings say', () => {
    const kyc = kycFactory(settings)(ALICE) as unknown as { apiDomain: string };
    expect(kyc.apiDomain).toBe('kyc.dev.grid.tf');
  });
});

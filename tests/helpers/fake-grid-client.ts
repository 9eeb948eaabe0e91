/**
 * A fake @threefold/grid_client behind the GridClientLike seam (src/grid/tfgrid/client-seam.ts):
 * one `GridWorld` holds what the real packages would reach over the network (TFChain's contracts,
 * GraphQL's listing of them, the nodes' workloads over RMB, gridproxy's nodes, the calculator), and
 * `fakeGridClient(world, twinId)` is one twin's client onto it, with machines / zdbs modules per
 * project (`forProject`), contracts, capacity, calculator and balance.
 *
 * It behaves as grid_client 2.9 does where the adapter depends on it: modules match project names
 * by prefix, `deploy` creates a network contract per node next to the VM contracts (and returns only
 * the VM ones), a failed deploy after its contracts were created calls the module's rollback,
 * `getObj` and `delete` silently skip nodes that do not answer, `cancel` of a gone contract fails
 * with TFChain's ContractNotExists, and errors are the real classes of @threefold/types.
 *
 * Tests steer it: `failNextDeploys` (or `failure`, failing every deploy) with a grid_client-shaped
 * error, `setNodeStatus` to take a node down (proxy status and RMB), `cancelFromOutside` for a
 * contract cancelled by someone else, `kyc` for what the KYC service answers (a deploy of an account
 * it does not call verified is refused, as twinDeploymentHandler does), `liveContracts` to see what is
 * still billed, and `onContractChange` to hear every contract that leaves or enters grace (what
 * TFChain would emit).
 */
import { createRequire } from 'node:module';
import { defaultUrls, type TfGridSettings } from '../../src/grid/tfgrid/seams.js';
import type {
  BalanceLike,
  ChainContractShape,
  ContractsLike,
  DeploymentResultShape,
  FilterOptionsShape,
  GqlContractState,
  GridClientLike,
  LooseChainApi,
  MachinesShape,
  ModuleContractShape,
  NodeInfoShape,
  ZdbDataShape,
  ZdbsShape,
  ZmachineDataShape,
} from '../../src/grid/tfgrid/client-seam.js';
import { networkNameOf } from '../../src/grid/tfgrid/models.js';

/** Devnet settings for tests of the real-grid adapter (nothing is ever reached). */
export const DEV_SETTINGS: TfGridSettings = {
  network: 'dev',
  urls: defaultUrls('dev'),
  deploymentTimeoutMinutes: 10,
  poolSize: 4,
  poolIdleMs: 60_000,
  bridgeAddress: 'GDHJP6TF3UXYXTNEZ2P36J5FH7W4BJJQ4AYYAXC66I2Q2AH5B6O6BCFG',
};

type Ctor = new (m: string) => Error;
/** The real error classes grid_client throws (CJS build of @threefold/types). */
export const T = createRequire(import.meta.url)('@threefold/types') as Record<
  'TwinNotExistError' | 'TimeoutError' | 'ValidationError' | 'RequestError' | 'RMBError' | 'ConnectionError',
  Ctor
> & {
  GridClientErrors: { Nodes: Record<'InvalidResourcesError', Ctor>; Workloads: Record<'WorkloadDeployError', Ctor> };
};

export const GB = 1024 ** 3;

/** A TFChain module error as tfchain_client raises it. */
export function chainError(keyError: string): Error {
  return Object.assign(new Error(`Module Error: Failed to apply 'cancelContract' on section 'smartContractModule'`), { name: 'TFChainError', keyError });
}

/** A node contract: on chain (twinId, state) and as GraphQL lists it. */
export interface Row {
  contractID: number;
  nodeID: number;
  state: GqlContractState;
  createdAt: number;
  deploymentData: string;
  numberOfPublicIPs: number;
  twinId: number;
}

export const isLive = (r: Row): boolean => r.state === 'Created' || r.state === 'GracePeriod';
export const metaOf = (r: Row) => JSON.parse(r.deploymentData) as { type: string; name: string; projectName: string };

export interface Failure {
  error: Error;
  /** contracts are created on chain before the failure */
  afterCreate: boolean;
  /** grid_client calls its rollback */
  rollback: boolean;
  /** GraphQL has not indexed the contracts it made yet */
  unindexed?: boolean;
  /** the client's connection drops with it: every later call on that client fails as disconnected (a new client works) */
  dropsConnection?: boolean;
}

/** A client's connection: once lost, every call on the client fails (as a dropped websocket does). */
export interface Connection {
  lost: boolean;
}

export const connectionLost = (): Error => new T.ConnectionError('disconnected from wss://tfchain.dev.grid.tf/ws: 1006:: Abnormal Closure');
const check = (conn: Connection | undefined): void => {
  if (conn?.lost) throw connectionLost();
};

/** What TFChain would emit about a contract: it left (cancelled, by anyone), or its grace period started or ended. */
export interface ContractChange {
  kind: 'canceled' | 'grace_started' | 'grace_ended';
  row: Row;
  /** who ended it: the owner's cancel, grid_client's rollback or delete, or someone outside */
  by?: 'cancel' | 'rollback' | 'delete' | 'outside';
}

/** A grid_client KYC client onto the world's KYC service (for TfGridOptions.kyc). */
export function fakeKyc(world: GridWorld) {
  let sessions = 0;
  return (id: { address: string }) => ({
    status: async () => world.kycStatus(id.address),
    getToken: async () => `idenfy-session-${++sessions}`,
  });
}

/** A deploy failure as grid_client 2.9 reports a deployment that was not ready in time: contracts created, then rolled back. */
export const timeoutWithRollback = (contractHint = 'with contract_id'): Failure => ({
  error: new T.TimeoutError(`Deployment ${contractHint} failed to be ready after 10 minutes.`),
  afterCreate: true,
  rollback: true,
});

/** The chain, GraphQL, the nodes and the proxy, as one fake. */
export class GridWorld {
  rows: Row[] = [];
  nextId = 1000;
  consumption = new Map<number, number>();
  consumptionCalls = 0;
  deletionTime = new Map<number, number>();
  resources = new Map<number, { cru: number; mru: number; sru: number; hru: number }>();
  /** ids cancelled through contracts.cancel (the adapter), not by grid_client's rollback or delete */
  cancelled: number[] = [];
  cancelFails = new Set<number>();
  /** ids the rollback does not cancel */
  rollbackLeaves = new Set<number>();
  rollbacks = 0;
  zmachines = new Map<number, ZmachineDataShape>();
  zdbData = new Map<number, ZdbDataShape>();
  /** nodes that do not answer RMB: getObj and delete skip their deployments, a deploy on them fails */
  unreachable = new Set<number>();
  nodes: NodeInfoShape[] = [];
  /** contracts GraphQL does not list yet (it lags the chain) */
  unindexed = new Set<number>();
  /** fails every deploy while set */
  failure: Failure | undefined;
  /** fail the next deploys, one entry each, before `failure` is looked at */
  failQueue: Failure[] = [];
  deployed: Array<{ projectName: string; type: string; model: MachinesShape | ZdbsShape }> = [];
  moduleDeletes: Array<{ projectName: string; type: string; name: string }> = [];
  usdPerTft = 0.01;
  /** a deploy that succeeds brings its workloads up at once (zmachine / zdb data with state ok) */
  workloadsUp = true;
  /** free TFT of an account, as grid_client's balance module reads it */
  balanceOf: (address: string) => number = () => 0;
  /** the KYC service's answer per account (VERIFIED, PENDING, REJECTED, UNVERIFIED); VERIFIED when not set */
  kyc = new Map<string, string>();
  /** the accounts the KYC service was asked about, in order */
  kycAsked: string[] = [];
  /** listeners for what TFChain would emit about contracts */
  readonly onContractChange: Array<(c: ContractChange) => void> = [];

  add(twinId: number, meta: { type: string; name: string; projectName: string }, nodeID: number, over: Partial<Row> = {}): Row {
    const row: Row = {
      contractID: this.nextId++,
      nodeID,
      state: 'Created',
      createdAt: 1_767_225_600,
      deploymentData: JSON.stringify({ version: 3, ...meta }),
      numberOfPublicIPs: 0,
      twinId,
      ...over,
    };
    this.rows.push(row);
    return row;
  }

  row(id: number): Row | undefined {
    return this.rows.find((r) => r.contractID === id);
  }

  chainShape(r: Row): ChainContractShape {
    return {
      contractId: r.contractID,
      twinId: r.twinId,
      state: r.state === 'GracePeriod' ? { gracePeriod: 100 } : { created: null },
      contractType: { nodeContract: { nodeId: r.nodeID, deploymentData: r.deploymentData, publicIps: r.numberOfPublicIPs } },
    };
  }

  /** USD per month: a made-up linear table, like the calculator's */
  price(o: { cru: number; mru: number; sru: number; hru: number; ipv4u: boolean; certified?: boolean }): number {
    const base = o.cru * 1 + o.mru * 0.5 + o.sru * 0.01 + o.hru * 0.001 + (o.ipv4u ? 3 : 0);
    return o.certified ? base * 1.25 : base;
  }

  /** What the KYC service answers for an account, as grid_client's KYC client reads it. */
  kycStatus(address: string): string {
    this.kycAsked.push(address);
    return this.kyc.get(address) ?? 'VERIFIED';
  }

  // ---------------------------------------------------------------- steering and looking

  /** The next `count` deploys fail with this (a fresh copy of the failure each time). */
  failNextDeploys(count: number, failure: () => Failure): void {
    for (let i = 0; i < count; i++) this.failQueue.push(failure());
  }

  /** The failure for the deploy starting now, if any. */
  takeFailure(): Failure | undefined {
    return this.failQueue.shift() ?? this.failure;
  }

  /** A node goes down (gridproxy says so, RMB gets no answer) or comes back up. */
  setNodeStatus(nodeId: number, status: 'up' | 'down' | 'standby'): void {
    const n = this.nodes.find((x) => x.nodeId === nodeId);
    if (!n) throw new Error(`no node ${nodeId} in the world`);
    n.status = status;
    if (status === 'up') this.unreachable.delete(nodeId);
    else this.unreachable.add(nodeId);
  }

  /** A contract deleted on chain by someone other than its owner's client (the chain, a farmer, another tool). */
  cancelFromOutside(contractId: number): Row {
    const r = this.row(contractId);
    if (!r || !isLive(r)) throw new Error(`contract ${contractId} is not live`);
    this.end(r, 'outside');
    return r;
  }

  /** A contract's grace period starts (its twin ran out of funds) or ends. */
  setGrace(contractId: number, on: boolean, deletionTime?: number): Row {
    const r = this.row(contractId);
    if (!r || !isLive(r)) throw new Error(`contract ${contractId} is not live`);
    r.state = on ? 'GracePeriod' : 'Created';
    if (on && deletionTime !== undefined) this.deletionTime.set(contractId, deletionTime);
    if (!on) this.deletionTime.delete(contractId);
    this.emit({ kind: on ? 'grace_started' : 'grace_ended', row: r });
    return r;
  }

  /** The twin's contracts still live on chain (billed), in creation order. */
  liveContracts(twinId: number): Row[] {
    return this.rows.filter((r) => r.twinId === twinId && isLive(r));
  }

  /** Marks a live contract deleted and tells the listeners, as TFChain emits NodeContractCanceled. */
  end(r: Row, by: NonNullable<ContractChange['by']>): void {
    if (!isLive(r)) return;
    r.state = 'Deleted';
    this.emit({ kind: 'canceled', row: r, by });
  }

  private emit(c: ContractChange): void {
    for (const fn of this.onContractChange) fn(c);
  }

  /**
   * The workloads a successful deploy brings up: what getObj then reads from the node, and the
   * resources the node reports on chain for the contract (nodeContractResources, in bytes).
   */
  bringUp(row: Row, model: MachinesShape | ZdbsShape, workload: string): void {
    if (!this.workloadsUp) return;
    if ('machines' in model) {
      const m = model.machines.find((x) => x.name === workload);
      if (!m) return;
      const n = row.contractID;
      const ssd = m.rootfs_size + (m.disks ?? []).reduce((sum, d) => sum + d.size, 0);
      this.resources.set(n, { cru: m.cpu, mru: m.memory * 1024 ** 2, sru: ssd * GB, hru: 0 });
      this.zmachines.set(n, {
        contractId: n,
        nodeId: String(m.node_id),
        name: m.name,
        status: 'ok',
        message: '',
        flist: m.flist,
        publicIP: m.public_ip ? { ip: `185.69.166.${n % 250}/24`, ip6: '', gateway: '185.69.166.1' } : null,
        planetary: '',
        myceliumIP: m.mycelium ? `5a1:${n.toString(16)}::1` : '',
        interfaces: [{ network: model.network.name, ip: '10.20.2.2' }],
        capacity: { cpu: m.cpu, memory: m.memory },
        env: { ...m.env },
        entrypoint: m.entrypoint,
        rootfs_size: m.rootfs_size,
      });
    } else {
      const z = model.zdbs.find((x) => x.name === workload);
      if (!z) return;
      this.resources.set(row.contractID, { cru: 0, mru: 0, sru: 0, hru: z.disk_size * GB });
      this.zdbData.set(row.contractID, {
        contractId: row.contractID,
        nodeId: z.node_id,
        name: z.name,
        status: 'ok',
        message: '',
        size: z.disk_size,
        mode: z.mode,
        publicNamespace: z.publicNamespace,
        resData: { Namespace: `${row.twinId}-${row.contractID}-${z.name}`, IPs: [`2a02:1802:5e::${row.contractID.toString(16)}`], Port: 9900 },
      });
    }
  }
}

export class FakeModule {
  contracts?: ModuleContractShape[];
  twinDeploymentHandler: { rollback(c: DeploymentResultShape): Promise<void> };

  constructor(
    private readonly world: GridWorld,
    private readonly twinId: number,
    readonly projectName: string,
    private readonly type: 'vm' | 'zdb',
    /** the client's account: grid_client asks the KYC service about it before deploying (none: not asked) */
    private readonly address?: string,
    private readonly conn?: Connection,
  ) {
    this.twinDeploymentHandler = {
      rollback: async (c) => {
        check(conn);
        world.rollbacks++;
        for (const x of c.created) {
          const r = world.row(x.contractId);
          if (r && !world.rollbackLeaves.has(x.contractId)) world.end(r, 'rollback');
        }
      },
    };
  }

  /** as grid_client: live contracts of the module's type whose project starts with the module's */
  private mine(): Row[] {
    return this.world.rows.filter((r) => r.twinId === this.twinId && isLive(r) && metaOf(r).type === this.type && metaOf(r).projectName.startsWith(this.projectName));
  }

  async list(): Promise<string[]> {
    check(this.conn);
    const mine = this.mine();
    this.contracts = mine.map((r) => ({ contractID: String(r.contractID), nodeID: r.nodeID, state: r.state, parsedDeploymentData: metaOf(r) }));
    return [...new Set(mine.map((r) => metaOf(r).name))];
  }

  async getObj(name: string): Promise<Array<ZmachineDataShape & ZdbDataShape>> {
    await this.list();
    const data = this.type === 'vm' ? this.world.zmachines : this.world.zdbData;
    return this.mine()
      .filter((r) => metaOf(r).name === name && !this.world.unreachable.has(r.nodeID))
      .map((r) => data.get(r.contractID) as ZmachineDataShape & ZdbDataShape)
      .filter((x) => x !== undefined);
  }

  async delete({ name }: { name: string }): Promise<DeploymentResultShape> {
    check(this.conn);
    this.world.moduleDeletes.push({ projectName: this.projectName, type: this.type, name });
    const deleted: { contractId: number }[] = [];
    for (const r of this.mine().filter((x) => metaOf(x).name === name && !this.world.unreachable.has(x.nodeID))) {
      this.world.end(r, 'delete');
      deleted.push({ contractId: r.contractID });
      const net = this.world.rows.find((n) => isLive(n) && n.nodeID === r.nodeID && metaOf(n).name === networkNameOf(metaOf(r).projectName, name));
      if (net) {
        this.world.end(net, 'delete');
        deleted.push({ contractId: net.contractID });
      }
    }
    return { created: [], updated: [], deleted };
  }

  async deploy(model: MachinesShape | ZdbsShape): Promise<{ contracts: DeploymentResultShape }> {
    check(this.conn);
    this.world.deployed.push({ projectName: this.projectName, type: this.type, model });
    // twinDeploymentHandler.handle asks KYC first, before anything is created
    if (this.address !== undefined && this.world.kycStatus(this.address) !== 'VERIFIED') {
      throw new T.ValidationError('Your account is not verified. Please sign into Threefold Dashboard or Connect mobile app to complete your KYC verification.');
    }
    let f = this.world.takeFailure();
    if (f && !f.afterCreate) throw f.error;
    const meta = { type: this.type, name: model.name, projectName: this.projectName };
    const created: Array<{ row: Row; workload: string }> = [];
    const all: Row[] = [];
    if ('machines' in model) {
      for (const nodeId of new Set(model.machines.map((m) => m.node_id))) {
        all.push(this.world.add(this.twinId, { type: 'network-light', name: model.network.name, projectName: this.projectName }, nodeId));
      }
      for (const m of model.machines) {
        created.push({ row: this.world.add(this.twinId, meta, m.node_id, { numberOfPublicIPs: m.public_ip ? 1 : 0 }), workload: m.name });
      }
    } else {
      for (const z of model.zdbs) created.push({ row: this.world.add(this.twinId, meta, z.node_id), workload: z.name });
    }
    all.push(...created.map((c) => c.row));
    // a node that does not answer never gets the deployment: the contracts are rolled back
    const silent = [...new Set(all.map((r) => r.nodeID))].find((n) => this.world.unreachable.has(n));
    if (!f && silent !== undefined) {
      f = {
        error: new T.RMBError(`Failed to deploy on node ${silent}: Failed to send request to twin due to: request timed out`),
        afterCreate: true,
        rollback: true,
      };
    }
    if (f?.unindexed) for (const r of all) this.world.unindexed.add(r.contractID);
    if (f?.dropsConnection && this.conn) this.conn.lost = true;
    if (f) {
      if (f.rollback) await this.twinDeploymentHandler.rollback({ created: all.map((r) => this.world.chainShape(r)), updated: [], deleted: [] });
      throw f.error;
    }
    for (const c of created) this.world.bringUp(c.row, model, c.workload);
    return { contracts: { created: created.map((c) => this.world.chainShape(c.row)), updated: [], deleted: [] } };
  }

  async add_machine(): Promise<never> {
    throw new Error('not used');
  }

  async add_zdb(): Promise<never> {
    throw new Error('not used');
  }
}

export interface Calls {
  projects: string[];
  filterNodes: FilterOptionsShape[];
  getNode: number[];
  calculate: Array<Record<string, unknown>>;
  cancelAttempts: number[];
}

export type FakeGridClient = GridClientLike & { calls: Calls; disconnected: number; connection: Connection };

export interface FakeGridClientOptions {
  /** the account the client signs with: its balance module reads that account */
  address?: string;
  /** the chain connection grid_client shares (`tfclient.api`); default a stub answering nodeContractResources */
  api?: LooseChainApi;
}

/** The query a TFChain api answers for a contract's reserved resources (`smartContractModule.nodeContractResources`). */
export function nodeContractResourcesOf(world: GridWorld) {
  return async (id: unknown) => ({ toPrimitive: () => ({ contractId: id, used: world.resources.get(Number(id)) }) });
}

export function fakeGridClient(world: GridWorld, twinId: number, opts: FakeGridClientOptions = {}): FakeGridClient {
  const calls: Calls = { projects: [], filterNodes: [], getNode: [], calculate: [], cancelAttempts: [] };
  const connection: Connection = { lost: false };
  const unused = async (): Promise<never> => {
    throw new Error('not used by the adapter');
  };
  const account = (address: string) => ({ free: world.balanceOf(address), reserved: 0, frozen: 0 });
  const balance: BalanceLike = {
    getMyBalance: async () => {
      if (opts.address === undefined) throw new Error('not used by the adapter');
      return account(opts.address);
    },
    get: async ({ address }) => account(address),
    transfer: unused,
  };
  /**
   * TFChain's contracts. Built apart from the client so it may carry members newer seams ask for
   * (batchCancelContracts) without an older ContractsLike refusing them.
   */
  const contracts: ContractsLike & { batchCancelContracts(o: { ids: number[] }): Promise<number[]> } = {
    get: async ({ id }) => {
      check(connection);
      const r = world.row(id);
      return r && isLive(r) ? world.chainShape(r) : null;
    },
    listMyContracts: async (o) => {
      check(connection);
      return {
        nodeContracts: world.rows
          .filter((r) => r.twinId === twinId && !world.unindexed.has(r.contractID) && (o?.state ?? ['Created', 'GracePeriod']).includes(r.state))
          .map(({ twinId: _t, ...g }) => ({ ...g, contractID: String(g.contractID), createdAt: String(g.createdAt) })),
        nameContracts: [],
        rentContracts: [],
      };
    },
    getConsumption: async ({ id }) => {
      check(connection);
      world.consumptionCalls++;
      return { amountBilled: world.consumption.get(id) ?? 0 };
    },
    getDeletionTime: async ({ id }) => {
      check(connection);
      return world.deletionTime.get(id) ?? 0;
    },
    cancel: async ({ id }) => {
      check(connection);
      calls.cancelAttempts.push(id);
      if (world.cancelFails.has(id)) throw new Error('extrinsic failed: priority too low');
      const r = world.row(id);
      if (!r || !isLive(r)) throw chainError('ContractNotExists');
      if (r.twinId !== twinId) throw chainError('TwinNotAuthorizedToCancelContract');
      world.end(r, 'cancel');
      world.cancelled.push(id);
      return id;
    },
    /** utility.batchAll of cancels: all or none; contracts the chain no longer has are left out */
    batchCancelContracts: async ({ ids }) => {
      check(connection);
      calls.cancelAttempts.push(...ids);
      if (ids.some((id) => world.cancelFails.has(id))) throw new Error('extrinsic failed: priority too low');
      const rows = ids.map((id) => world.row(id)).filter((r): r is Row => r !== undefined && isLive(r));
      if (rows.some((r) => r.twinId !== twinId)) throw chainError('TwinNotAuthorizedToCancelContract');
      for (const r of rows) {
        world.end(r, 'cancel');
        world.cancelled.push(r.contractID);
      }
      return ids;
    },
  };
  const client: FakeGridClient = {
    calls,
    disconnected: 0,
    connection,
    twinId,
    machines: new FakeModule(world, twinId, '', 'vm', opts.address, connection) as unknown as GridClientLike['machines'],
    zdbs: new FakeModule(world, twinId, '', 'zdb', opts.address, connection) as unknown as GridClientLike['zdbs'],
    contracts,
    capacity: {
      filterNodes: async (o = {}) => {
        check(connection);
        calls.filterNodes.push({ ...o });
        const page = o.page ?? 1;
        const size = o.size ?? 50;
        return world.nodes.filter((n) => n.status === (o.status ?? 'up')).slice((page - 1) * size, page * size);
      },
      nodes: {
        getNode: async (id) => {
          check(connection);
          calls.getNode.push(id);
          return world.nodes.find((n) => n.nodeId === id);
        },
      },
    },
    balance,
    calculator: {
      calculate: async (o) => {
        check(connection);
        calls.calculate.push({ ...o });
        const p = world.price(o);
        return { sharedPrice: p, dedicatedPrice: p / 2 };
      },
      tftPrice: async () => world.usdPerTft,
    },
    tfclient: {
      disconnect: async () => undefined,
      api: opts.api ?? {
        query: { smartContractModule: { nodeContractResources: nodeContractResourcesOf(world) } },
        rpc: {},
        tx: {},
      },
    },
    forProject: (p) => {
      calls.projects.push(p);
      return {
        machines: new FakeModule(world, twinId, p, 'vm', opts.address, connection) as unknown as GridClientLike['machines'],
        zdbs: new FakeModule(world, twinId, p, 'zdb', opts.address, connection) as unknown as GridClientLike['zdbs'],
      };
    },
    disconnect: async () => {
      client.disconnected++;
    },
  };
  return client;
}

/** A gridproxy node: 16 vCPUs, 64 GB, 2 TB SSD, 8 TB HDD, 12 of it used, up, in Ghent, farm 1. */
export function gridNode(nodeId: number, over: Partial<NodeInfoShape> = {}): NodeInfoShape {
  return {
    nodeId,
    farmId: 1,
    farmName: 'farm1',
    uptime: 1000,
    status: 'up',
    certificationType: 'Diy',
    total_resources: { cru: 16, mru: 64 * GB, sru: 2000 * GB, hru: 8000 * GB },
    used_resources: { cru: 4, mru: 8 * GB, sru: 100 * GB, hru: 0 },
    location: { country: 'Belgium', city: 'Ghent' },
    publicIps: { total: 2, used: 0, free: 2 },
    rented: false,
    rentedByTwinId: 0,
    dedicated: false,
    inDedicatedFarm: false,
    ...over,
  };
}

/**
 * The embedded grid: a generated but realistic ThreeFold Grid behind the Grid, Chain and Faucet
 * ports, deterministic from a seed, driven by an injectable clock, its dynamic state persisted in
 * `${dataDir}/grid-sim.json` so a restart (even kill -9) continues where it was.
 *
 * What it mirrors (see the port and the grid research notes):
 * - grid_client: one node contract per machine / zdb with metadata {type, projectName, name};
 *   deploy checks the twin, a free balance of at least 0.001 TFT, that the deployment name is
 *   free, node status, capacity and public IPs; it waits for the workloads and rolls back the
 *   contracts it created when one fails.
 * - TFChain: every live contract is billed its hourly cost for each whole hour since creation;
 *   when the owner cannot pay a bill the contract enters the grace period (workloads
 *   unreachable) and accumulates what it owes; it returns to `created` as soon as the balance
 *   covers the overdue amount, and is deleted (out of funds) after 14 days of grace.
 *
 * Simplifications (documented on purpose):
 * - Billing is lazy: `settle()` runs before every read or write of balances or contracts and
 *   processes every hour that elapsed, in time order, so a clock jump of weeks gives the same
 *   result as stepping hour by hour. A bill is paid in full or not at all (no partial payment).
 * - Cancelling a contract does not bill the partial hour since the last whole hour, and the
 *   overdue of a contract in grace is forgiven when it is cancelled or deleted.
 * - Workload state is derived from the clock (`init` until `readyAt`, then `ok` or `error`), so
 *   it is right after a restart too.
 * - Node usage is not stored: it is the generated usage of other tenants plus the resources of
 *   the live contracts, so it can never drift from the contracts.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { checkAddress, encodeAddress } from '@polkadot/util-crypto';
import { systemClock, type Clock } from '../../clock.js';
import { DAY_MS, HOUR_MS, formatTft, type Units } from '../../domain/money.js';
import {
  GridError,
  type Chain,
  type ContractInfo,
  type ContractState,
  type DeletedCause,
  type Faucet,
  type Grid,
  type GridNode,
  type Identity,
  type NodeFilter,
  type NodeStatus,
  type Resources,
  type Transfer,
  type VmDeployment,
  type VmInfo,
  type WorkloadState,
  type ZdbDeployment,
  type ZdbInfo,
} from '../port.js';
import {
  DEFAULT_FARMS,
  DEFAULT_NODES,
  Rng,
  generateGrid,
  mixSeed,
  type GeneratedGrid,
  type SimFarm,
  type SimNode,
} from './generate.js';
import { hourlyCostOf, type PricedResources } from './prices.js';

export const STATE_FILE = 'grid-sim.json';
const STATE_FORMAT = 'jukebox-grid-sim';
const STATE_VERSION = 1;

/** TFChain's GracePeriod: 14 days. */
export const GRACE_PERIOD_MS = 14 * DAY_MS;
/** grid_client's @checkBalance: 0.001 TFT free to deploy anything. */
export const MIN_DEPLOY_BALANCE: Units = 10_000;
export const ZDB_PORT = 9900;
export const GRACE_MESSAGE = 'contract is in grace period: workloads are unreachable until funds return';
export const NODE_DOWN_MESSAGE = 'node is down';

/** Where faucet money comes from: a fixed, valid ss58 address (prefix 42). */
export const FAUCET_ADDRESS = encodeAddress(new Uint8Array(32).fill(0xfa), 42);

const FIRST_TWIN_ID = 7001;
const FIRST_CONTRACT_ID = 150_001;

/** What zos reports when a workload fails (for the seeded failure rate). */
const FAILURE_MESSAGES = [
  'failed to download flist: connection reset by peer',
  'failed to start vm: cloud-hypervisor exited with code 1',
  'failed to allocate disk: no space left on device',
  'failed to setup network: timeout waiting for mycelium',
];
const ZDB_FAILURE_MESSAGES = ['failed to create namespace: no space left on device', 'zdb container exited unexpectedly'];

export interface SimGridOptions {
  /** the state file is `${dataDir}/grid-sim.json`, written atomically */
  dataDir: string;
  /** default 42 */
  seed?: number;
  /** default systemClock */
  clock?: Clock;
  /** how long a workload takes to become ready; default 3000 */
  deployMs?: number;
  /** how deploy waits; default setTimeout-based. Tests pass a fake. */
  sleep?: (ms: number) => Promise<void>;
  /** 0..1, seeded per contract; default 0 */
  workloadFailureRate?: number;
  /** default 400 */
  nodes?: number;
  /** default 40 */
  farms?: number;
  /** settle bills on a timer every this many ms (off by default: settling is lazy anyway) */
  settleEveryMs?: number;
}

interface VmDetails {
  flist: string;
  entrypoint: string;
  privateIp: string;
  mycelium?: string;
  publicIp6?: string;
}

interface ZdbDetails {
  mode: 'seq' | 'user';
  sizeGb: number;
  namespace: string;
  ips: string[];
  port: number;
  publicNamespace: boolean;
}

/** A node contract as the sim keeps it (persisted). */
export interface SimContract {
  contractId: number;
  twinId: number;
  owner: string;
  nodeId: number;
  farmId: number;
  type: 'vm' | 'zdb';
  projectName: string;
  deploymentName: string;
  workloadName: string;
  resources: Resources;
  /** "185.69.166.12/24" when the contract reserves a public IPv4 */
  publicIp?: string;
  hourlyCost: Units;
  createdAt: number;
  state: ContractState;
  deletedCause?: DeletedCause;
  deletedAt?: number;
  graceStartedAt?: number;
  /** bills are settled up to here: createdAt + k hours */
  billedUntil: number;
  /** what the contract owes while in grace */
  overdue: Units;
  /** index in the owner's billing history of the current run of hourly payments */
  runIdx?: number;
  /** the workload is `init` before this time */
  readyAt: number;
  /** the workload is destined to fail once ready (seeded rate or failNextDeploy) */
  failMessage?: string;
  /** forced error (failWorkload): the workload reports it at once */
  errorMessage?: string;
  vm?: VmDetails;
  zdb?: ZdbDetails;
}

/** One run of bills: consecutive hourly payments of a contract, or an overdue payment ending grace. */
export interface BillingEntry {
  contractId: number;
  amount: Units;
  /** time of the last hour billed by this entry (for an overdue payment: when it was paid) */
  at: number;
  hours: number;
  kind: 'hourly' | 'overdue';
}

interface NodeStatusOverride {
  status: NodeStatus;
  at: number;
}

interface SimState {
  format: typeof STATE_FORMAT;
  version: number;
  seed: number;
  nodes: number;
  farms: number;
  createdAt: number;
  nextTwinId: number;
  nextContractId: number;
  nextTransferSeq: number;
  twins: Record<string, number>;
  balances: Record<string, Units>;
  transfers: Transfer[];
  contracts: SimContract[];
  nodeStatus: Record<string, NodeStatusOverride>;
  billing: Record<string, BillingEntry[]>;
}

export interface SimStats {
  seed: number;
  nodes: { total: number; up: number; down: number; standby: number };
  farms: number;
  countries: number;
  publicIps: { total: number; free: number };
  twins: number;
  accounts: number;
  transfers: number;
  contracts: { created: number; grace: number; deleted: number };
}

interface Usage {
  byNode: Map<number, Resources>;
  ipsByFarm: Map<number, Set<string>>;
}

interface Placement {
  label: string;
  nodeId: number;
  res: Resources;
  publicIp: boolean;
}

const RESOURCE_KEYS = ['cru', 'mruMb', 'sruGb', 'hruGb'] as const;
const RESOURCE_WORDS: Record<(typeof RESOURCE_KEYS)[number], [string, string]> = {
  cru: ['vCPU', 'vCPU'],
  mruMb: ['memory', 'MB'],
  sruGb: ['SSD', 'GB'],
  hruGb: ['HDD', 'GB'],
};
const MACHINE_NAME = /^[A-Za-z0-9_]{1,35}$/;
const ALNUM_NAME = /^[A-Za-z0-9]{1,35}$/;
const EPS = 1e-9;

const zero = (): Resources => ({ cru: 0, mruMb: 0, sruGb: 0, hruGb: 0 });
const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;
function addRes(a: Resources, b: Resources): Resources {
  return {
    cru: round6(a.cru + b.cru),
    mruMb: round6(a.mruMb + b.mruMb),
    sruGb: round6(a.sruGb + b.sruGb),
    hruGb: round6(a.hruGb + b.hruGb),
  };
}
function subRes(a: Resources, b: Resources): Resources {
  return {
    cru: round6(a.cru - b.cru),
    mruMb: round6(a.mruMb - b.mruMb),
    sruGb: round6(a.sruGb - b.sruGb),
    hruGb: round6(a.hruGb - b.hruGb),
  };
}
const fold = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase();

function invalid(message: string): never {
  throw new GridError('invalid', message);
}

function freshState(seed: number, nodes: number, farms: number, now: number): SimState {
  return {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    seed,
    nodes,
    farms,
    createdAt: now,
    nextTwinId: FIRST_TWIN_ID,
    nextContractId: FIRST_CONTRACT_ID,
    nextTransferSeq: 1,
    twins: {},
    balances: {},
    transfers: [],
    contracts: [],
    nodeStatus: {},
    billing: {},
  };
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class SimGrid implements Grid, Chain, Faucet {
  readonly kind = 'sim' as const;
  readonly faucetAddress = FAUCET_ADDRESS;
  /** the static, generated grid (farms, nodes, locations) */
  readonly grid: GeneratedGrid;
  readonly file: string;

  private readonly nodeById = new Map<number, SimNode>();
  private readonly farmById = new Map<number, SimFarm>();
  private readonly byId = new Map<number, SimContract>();
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly deployMs: number;
  private readonly failureRate: number;
  private pendingFailure: { reason: string; remaining: number } | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly db: Low<SimState>,
    private readonly state: SimState,
    grid: GeneratedGrid,
    file: string,
    opts: SimGridOptions,
  ) {
    this.grid = grid;
    this.file = file;
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? defaultSleep;
    this.deployMs = opts.deployMs ?? 3000;
    this.failureRate = opts.workloadFailureRate ?? 0;
    for (const n of grid.nodes) this.nodeById.set(n.nodeId, n);
    for (const f of grid.farms) this.farmById.set(f.farmId, f);
    for (const c of state.contracts) this.byId.set(c.contractId, c);
  }

  /** Loads the state under `dataDir`, or starts a fresh grid there. */
  static async open(opts: SimGridOptions): Promise<SimGrid> {
    const seed = opts.seed ?? 42;
    const nodes = opts.nodes ?? DEFAULT_NODES;
    const farms = opts.farms ?? DEFAULT_FARMS;
    if (!Number.isSafeInteger(seed)) throw new RangeError(`grid sim: seed must be an integer, got ${seed}`);
    const deployMs = opts.deployMs ?? 3000;
    if (!Number.isFinite(deployMs) || deployMs < 0) throw new RangeError(`grid sim: deployMs must be ≥ 0, got ${deployMs}`);
    const rate = opts.workloadFailureRate ?? 0;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`grid sim: workloadFailureRate must be in 0..1, got ${rate}`);
    const grid = generateGrid({ seed, nodes, farms });
    const clock = opts.clock ?? systemClock;

    await mkdir(opts.dataDir, { recursive: true });
    const file = path.join(opts.dataDir, STATE_FILE);
    // Not JSONFilePreset: under NODE_ENV=test it silently keeps the data in memory.
    const db = new Low<SimState>(new JSONFile<SimState>(file), freshState(seed, nodes, farms, clock.now()));
    try {
      await db.read();
    } catch (e) {
      throw new Error(`grid sim: cannot read its state file ${file}: ${(e as Error).message}`);
    }
    const st = db.data;
    if (st.format !== STATE_FORMAT || st.version !== STATE_VERSION) {
      throw new Error(`grid sim: ${file} is not a grid sim state file of version ${STATE_VERSION}`);
    }
    if (st.seed !== seed || st.nodes !== nodes || st.farms !== farms) {
      throw new Error(
        `grid sim: ${file} belongs to a grid generated with seed ${st.seed} (${st.nodes} nodes, ${st.farms} farms), ` +
          `but this process asked for seed ${seed} (${nodes} nodes, ${farms} farms). ` +
          'Use the same seed and sizes, or another data directory.',
      );
    }
    const sim = new SimGrid(db, st, grid, file, opts);
    await db.write();
    if (opts.settleEveryMs !== undefined && opts.settleEveryMs > 0) {
      sim.timer = setInterval(() => {
        if (!sim.closed && sim.settle()) void sim.persist().catch(() => undefined);
      }, opts.settleEveryMs);
      sim.timer.unref();
    }
    return sim;
  }

  /** Stops the settle timer and flushes the state file. Later calls fail with 'unavailable'. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.db.write();
  }

  // ---------------------------------------------------------------- Grid

  async ensureTwin(id: Identity): Promise<number> {
    this.assertOpen();
    const address = this.addressOf(id);
    const existing = this.state.twins[address];
    if (existing !== undefined) return existing;
    const twinId = this.state.nextTwinId++;
    this.state.twins[address] = twinId;
    await this.persist();
    return twinId;
  }

  async findNodes(filter: NodeFilter): Promise<GridNode[]> {
    await this.settleAndPersist();
    if (filter.limit !== undefined && (!Number.isSafeInteger(filter.limit) || filter.limit < 0)) {
      invalid(`limit must be a non-negative integer, got ${filter.limit}`);
    }
    const usage = this.usage();
    const wantStatus = filter.status ?? 'up';
    const only = filter.nodeIds ? new Set(filter.nodeIds) : undefined;
    const exclude = new Set(filter.excludeNodeIds ?? []);
    const country = filter.country !== undefined ? fold(filter.country) : undefined;
    const city = filter.city !== undefined ? fold(filter.city) : undefined;
    const out: GridNode[] = [];
    for (const n of this.grid.nodes) {
      if (only && !only.has(n.nodeId)) continue;
      if (exclude.has(n.nodeId)) continue;
      if (filter.farmId !== undefined && n.farmId !== filter.farmId) continue;
      if (country !== undefined && fold(n.country) !== country) continue;
      if (city !== undefined && fold(n.city) !== city) continue;
      const node = this.toGridNode(n, usage);
      if (wantStatus !== 'any' && node.status !== wantStatus) continue;
      if (filter.publicIp && node.publicIps.free < 1) continue;
      if (filter.free) {
        const free = subRes(node.total, node.used);
        const want = filter.free;
        if (RESOURCE_KEYS.some((k) => (want[k] ?? 0) > free[k] + EPS)) continue;
      }
      out.push(node);
    }
    out.sort((a, b) => b.total.cru - b.used.cru - (a.total.cru - a.used.cru) || a.nodeId - b.nodeId);
    return filter.limit !== undefined ? out.slice(0, filter.limit) : out;
  }

  async getNode(nodeId: number): Promise<GridNode | undefined> {
    await this.settleAndPersist();
    const n = this.nodeById.get(nodeId);
    return n ? this.toGridNode(n, this.usage()) : undefined;
  }

  async deployVms(id: Identity, d: VmDeployment): Promise<{ contractIds: number[] }> {
    const twinId = this.admit(id, d, () => validateVmDeployment(d));
    const ips = this.checkPlacement(
      d.machines.map((m) => ({ label: `vm "${m.name}"`, nodeId: m.nodeId, res: vmResources(m), publicIp: m.publicIp })),
    );

    // Private network: one /24 per node of the deployment, hosts from .2 (as grid_client assigns).
    const subnets = new Map<number, { net: number; next: number }>();
    const now = this.clock.now();
    const created = d.machines.map((m, i) => {
      const node = this.nodeById.get(m.nodeId) as SimNode;
      let sub = subnets.get(m.nodeId);
      if (!sub) {
        sub = { net: 2 + subnets.size, next: 2 };
        subnets.set(m.nodeId, sub);
      }
      const privateIp = `10.20.${sub.net}.${sub.next++}`;
      const publicIp = ips[i];
      return this.createContract({
        twinId,
        owner: id.address,
        node,
        type: 'vm',
        projectName: d.projectName,
        deploymentName: d.name,
        workloadName: m.name,
        res: vmResources(m),
        publicIp,
        now,
        forceFail: i === 0 ? this.takePendingFailure() : undefined,
        failureMessages: FAILURE_MESSAGES,
        details: (rnd) => {
          const vm: VmDetails = { flist: m.flist, entrypoint: m.entrypoint, privateIp };
          if (m.mycelium) vm.mycelium = `${node.myceliumPrefix}:ff0f:${rnd.hextet()}:${rnd.hextet()}:${rnd.hextet()}`;
          if (m.publicIp) vm.publicIp6 = `${node.ipv6Prefix}:${rnd.hextet()}:${rnd.hextet()}:${rnd.hextet()}:${rnd.hextet()}/64`;
          return { vm };
        },
      });
    });
    return this.awaitReady(d.name, created);
  }

  async deployZdbs(id: Identity, d: ZdbDeployment): Promise<{ contractIds: number[] }> {
    const twinId = this.admit(id, d, () => validateZdbDeployment(d));
    this.checkPlacement(
      d.zdbs.map((z) => ({ label: `zdb "${z.name}"`, nodeId: z.nodeId, res: zdbResources(z), publicIp: false })),
    );
    const now = this.clock.now();
    const created = d.zdbs.map((z, i) => {
      const node = this.nodeById.get(z.nodeId) as SimNode;
      return this.createContract({
        twinId,
        owner: id.address,
        node,
        type: 'zdb',
        projectName: d.projectName,
        deploymentName: d.name,
        workloadName: z.name,
        res: zdbResources(z),
        publicIp: undefined,
        now,
        forceFail: i === 0 ? this.takePendingFailure() : undefined,
        failureMessages: ZDB_FAILURE_MESSAGES,
        details: (rnd, contractId) => ({
          zdb: {
            mode: z.mode,
            sizeGb: z.diskGb,
            namespace: `${twinId}-${contractId}-${z.name}`,
            ips: [
              `${node.ipv6Prefix}:${rnd.hextet()}:${rnd.hextet()}:${rnd.hextet()}:${rnd.hextet()}`,
              `${node.myceliumPrefix}:ff0f:${rnd.hextet()}:${rnd.hextet()}:${rnd.hextet()}`,
            ],
            port: ZDB_PORT,
            publicNamespace: z.publicNamespace,
          },
        }),
      });
    });
    return this.awaitReady(d.name, created);
  }

  async getVms(id: Identity, projectName: string, name: string): Promise<VmInfo[]> {
    await this.settleAndPersist();
    const now = this.clock.now();
    return this.liveOfDeployment(id, projectName, name, 'vm').map((c) => {
      const ws = this.workloadState(c, now);
      const info: VmInfo = { name: c.workloadName, nodeId: c.nodeId, contractId: c.contractId, state: ws.state };
      if (ws.message !== undefined) info.message = ws.message;
      if (c.publicIp !== undefined) info.publicIp = c.publicIp;
      if (c.vm?.publicIp6 !== undefined) info.publicIp6 = c.vm.publicIp6;
      if (c.vm?.mycelium !== undefined) info.mycelium = c.vm.mycelium;
      if (c.vm) info.privateIp = c.vm.privateIp;
      return info;
    });
  }

  async getZdbs(id: Identity, projectName: string, name: string): Promise<ZdbInfo[]> {
    await this.settleAndPersist();
    const now = this.clock.now();
    return this.liveOfDeployment(id, projectName, name, 'zdb').map((c) => {
      const ws = this.workloadState(c, now);
      const z = c.zdb as ZdbDetails;
      const info: ZdbInfo = {
        name: c.workloadName,
        nodeId: c.nodeId,
        contractId: c.contractId,
        state: ws.state,
        namespace: z.namespace,
        ips: [...z.ips],
        port: z.port,
        sizeGb: z.sizeGb,
        mode: z.mode,
      };
      if (ws.message !== undefined) info.message = ws.message;
      return info;
    });
  }

  async deleteDeployment(id: Identity, projectName: string, name: string): Promise<number[]> {
    this.assertOpen();
    this.settle();
    const live = this.liveOfDeployment(id, projectName, name);
    const now = this.clock.now();
    for (const c of live) this.endContract(c, 'canceled', now);
    await this.persist();
    return live.map((c) => c.contractId);
  }

  async listContracts(id: Identity, opts: { projectPrefix?: string; includeDeleted?: boolean } = {}): Promise<ContractInfo[]> {
    await this.settleAndPersist();
    const twinId = this.state.twins[this.addressOf(id)];
    if (twinId === undefined) return [];
    const prefix = opts.projectPrefix ?? '';
    return this.state.contracts
      .filter((c) => c.twinId === twinId && (opts.includeDeleted || c.state !== 'deleted') && c.projectName.startsWith(prefix))
      .map(toContractInfo);
  }

  async cancelContract(id: Identity, contractId: number): Promise<void> {
    this.assertOpen();
    this.settle();
    const twinId = this.state.twins[this.addressOf(id)];
    const c = this.byId.get(contractId);
    if (!c || twinId === undefined || c.twinId !== twinId) {
      await this.persist();
      throw new GridError('not_found', `contract ${contractId} not found among your contracts`);
    }
    if (c.state !== 'deleted') this.endContract(c, 'canceled', this.clock.now());
    await this.persist();
  }

  async hourlyCost(r: PricedResources): Promise<Units> {
    try {
      return hourlyCostOf(r);
    } catch (e) {
      throw new GridError('invalid', (e as Error).message);
    }
  }

  // ---------------------------------------------------------------- Chain + Faucet

  async balance(address: string): Promise<Units> {
    await this.settleAndPersist();
    return this.bal(address);
  }

  async incomingTransfers(address: string, after?: string): Promise<Transfer[]> {
    this.assertOpen();
    let from = 0;
    if (after !== undefined) {
      const seq = transferSeq(after);
      if (seq === undefined) invalid(`not a sim transfer id: ${after}`);
      from = seq;
    }
    return this.state.transfers
      .filter((t) => t.to === address && (transferSeq(t.id) ?? 0) > from)
      .map((t) => ({ ...t }));
  }

  async transfer(from: Identity, to: string, amount: Units): Promise<Transfer> {
    this.assertOpen();
    const sender = this.addressOf(from);
    checkAmount(amount);
    if (typeof to !== 'string' || to.trim() === '') invalid('transfer needs a destination address');
    this.settle();
    const have = this.bal(sender);
    if (have < amount) {
      await this.persist();
      throw new GridError(
        'insufficient_funds',
        `cannot transfer ${formatTft(amount)}: the free balance is ${formatTft(have)}`,
      );
    }
    this.state.balances[sender] = have - amount;
    return this.credit(sender, to, amount);
  }

  isValidAddress(address: string): boolean {
    if (typeof address !== 'string' || address.length === 0) return false;
    try {
      return checkAddress(address, 42)[0];
    } catch {
      return false;
    }
  }

  async fund(address: string, amount: Units): Promise<Transfer> {
    this.assertOpen();
    if (typeof address !== 'string' || address.trim() === '') invalid('fund needs an address');
    checkAmount(amount);
    this.settle();
    return this.credit(FAUCET_ADDRESS, address, amount);
  }

  // ---------------------------------------------------------------- sim-only controls

  /** The bills paid by an address, oldest first (consecutive hours of a contract form one entry). */
  async billingHistory(address: string): Promise<BillingEntry[]> {
    await this.settleAndPersist();
    return (this.state.billing[address] ?? []).map((e) => ({ ...e }));
  }

  /** Every contract of an address, deleted ones included. */
  async contractsOf(address: string): Promise<ContractInfo[]> {
    await this.settleAndPersist();
    return this.state.contracts.filter((c) => c.owner === address).map(toContractInfo);
  }

  /** Overrides a node's status (persisted); workloads on a node that is not up report 'node is down'. */
  async setNodeStatus(nodeId: number, status: NodeStatus): Promise<void> {
    this.assertOpen();
    if (!this.nodeById.has(nodeId)) throw new GridError('not_found', `node ${nodeId} does not exist`);
    this.state.nodeStatus[String(nodeId)] = { status, at: this.clock.now() };
    await this.persist();
  }

  /**
   * The next `times` deployVms/deployZdbs calls (that pass validation) each have their first
   * workload fail, so they roll back. In memory only.
   */
  failNextDeploy(reason?: string, times = 1): void {
    if (!Number.isSafeInteger(times) || times < 0) throw new RangeError(`times must be a whole number ≥ 0, got ${times}`);
    this.pendingFailure = times > 0 ? { reason: reason ?? 'workload failed to start', remaining: times } : undefined;
  }

  /** Puts a workload in error at once (persisted); a deploy still waiting on it rolls back. */
  async failWorkload(contractId: number, message: string): Promise<void> {
    this.assertOpen();
    const c = this.byId.get(contractId);
    if (!c) throw new GridError('not_found', `contract ${contractId} does not exist`);
    c.errorMessage = message;
    await this.persist();
  }

  async stats(): Promise<SimStats> {
    await this.settleAndPersist();
    const usage = this.usage();
    const nodes = { total: this.grid.nodes.length, up: 0, down: 0, standby: 0 };
    for (const n of this.grid.nodes) nodes[this.statusOf(n)]++;
    let ipTotal = 0;
    let ipFree = 0;
    for (const f of this.grid.farms) {
      ipTotal += f.publicIps.length;
      ipFree += this.freeIpsOf(f, usage).length;
    }
    const contracts = { created: 0, grace: 0, deleted: 0 };
    for (const c of this.state.contracts) contracts[c.state]++;
    return {
      seed: this.state.seed,
      nodes,
      farms: this.grid.farms.length,
      countries: this.grid.countries.length,
      publicIps: { total: ipTotal, free: ipFree },
      twins: Object.keys(this.state.twins).length,
      accounts: Object.keys(this.state.balances).length,
      transfers: this.state.transfers.length,
      contracts,
    };
  }

  /** Settles bills up to clock.now() and persists; what the optional timer does. */
  async settleNow(): Promise<void> {
    await this.settleAndPersist();
  }

  // ---------------------------------------------------------------- internals: accounts

  /** What every deploy checks first, in grid_client's order: a twin, a valid request, the balance, a free name. Returns the twin id. */
  private admit(id: Identity, d: { projectName: string; name: string }, validate: () => void): number {
    this.assertOpen();
    const twinId = this.requireTwin(id);
    validate();
    this.settle();
    this.requireDeployFunds(id.address);
    this.requireNameFree(twinId, d.projectName, d.name);
    return twinId;
  }

  private assertOpen(): void {
    if (this.closed) throw new GridError('unavailable', 'the simulated grid is closed');
  }

  private addressOf(id: Identity): string {
    if (!id || typeof id.address !== 'string' || id.address.trim() === '') invalid('identity has no address');
    return id.address;
  }

  private requireTwin(id: Identity): number {
    const twinId = this.state.twins[this.addressOf(id)];
    if (twinId === undefined) {
      throw new GridError('no_twin', `no twin for ${id.address}: create it (ensureTwin) before deploying`);
    }
    return twinId;
  }

  private bal(address: string): Units {
    return this.state.balances[address] ?? 0;
  }

  private requireDeployFunds(address: string): void {
    const have = this.bal(address);
    if (have < MIN_DEPLOY_BALANCE) {
      throw new GridError(
        'insufficient_funds',
        `deploying needs a free balance of at least ${formatTft(MIN_DEPLOY_BALANCE)}, the balance is ${formatTft(have)}`,
      );
    }
  }

  private async credit(from: string, to: string, amount: Units): Promise<Transfer> {
    const now = this.clock.now();
    this.state.balances[to] = this.bal(to) + amount;
    const t: Transfer = { id: `sim-${this.state.nextTransferSeq++}`, from, to, amount, at: now };
    this.state.transfers.push(t);
    this.restoreFromGrace(to, now);
    await this.persist();
    return { ...t };
  }

  private async persist(): Promise<void> {
    await this.db.write();
  }

  private async settleAndPersist(): Promise<void> {
    this.assertOpen();
    if (this.settle()) await this.persist();
  }

  // ---------------------------------------------------------------- internals: nodes

  private statusOf(n: SimNode): NodeStatus {
    return this.state.nodeStatus[String(n.nodeId)]?.status ?? n.status;
  }

  private nodeIsUp(nodeId: number): boolean {
    const n = this.nodeById.get(nodeId);
    return n !== undefined && this.statusOf(n) === 'up';
  }

  /** Resources and public IPs held by live contracts (grace included: TFChain keeps them reserved). */
  private usage(): Usage {
    const byNode = new Map<number, Resources>();
    const ipsByFarm = new Map<number, Set<string>>();
    for (const c of this.state.contracts) {
      if (c.state === 'deleted') continue;
      byNode.set(c.nodeId, addRes(byNode.get(c.nodeId) ?? zero(), c.resources));
      if (c.publicIp !== undefined) {
        let set = ipsByFarm.get(c.farmId);
        if (!set) ipsByFarm.set(c.farmId, (set = new Set()));
        set.add(c.publicIp);
      }
    }
    return { byNode, ipsByFarm };
  }

  private freeIpsOf(f: SimFarm, usage: Usage, alsoTaken?: Set<string>): string[] {
    const taken = usage.ipsByFarm.get(f.farmId);
    return f.publicIps.filter((p) => !p.usedByOther && !taken?.has(p.ip) && !alsoTaken?.has(p.ip)).map((p) => p.ip);
  }

  private toGridNode(n: SimNode, usage: Usage): GridNode {
    const farm = this.farmById.get(n.farmId) as SimFarm;
    const status = this.statusOf(n);
    const override = this.state.nodeStatus[String(n.nodeId)];
    let uptimeSec = 0;
    if (status === 'up') {
      const now = this.clock.now();
      uptimeSec = override
        ? Math.max(0, Math.floor((now - override.at) / 1000))
        : n.uptimeSec + Math.max(0, Math.floor((now - this.state.createdAt) / 1000));
    }
    return {
      nodeId: n.nodeId,
      farmId: n.farmId,
      farmName: farm.name,
      country: n.country,
      city: n.city,
      status,
      certified: n.certified,
      uptimeSec,
      total: { ...n.total },
      used: addRes(n.used, usage.byNode.get(n.nodeId) ?? zero()),
      publicIps: { total: farm.publicIps.length, free: this.freeIpsOf(farm, usage).length },
    };
  }

  /** Checks every workload's node (cumulatively within the deployment); returns the public IP each gets. */
  private checkPlacement(items: Placement[]): (string | undefined)[] {
    const usage = this.usage();
    const extra = new Map<number, Resources>();
    const extraIps = new Map<number, Set<string>>();
    return items.map((it) => {
      const n = this.nodeById.get(it.nodeId);
      if (!n) throw new GridError('node_down', `node ${it.nodeId} does not exist on this grid`);
      const status = this.statusOf(n);
      if (status !== 'up') throw new GridError('node_down', `node ${it.nodeId} is ${status}`);
      const already = addRes(addRes(n.used, usage.byNode.get(n.nodeId) ?? zero()), extra.get(n.nodeId) ?? zero());
      const free = subRes(n.total, already);
      for (const k of RESOURCE_KEYS) {
        if (it.res[k] > free[k] + EPS) {
          const [word, unit] = RESOURCE_WORDS[k];
          throw new GridError(
            'no_capacity',
            `node ${n.nodeId} does not have enough free ${word} for ${it.label}: needs ${it.res[k]} ${unit}, ${Math.max(0, free[k])} ${unit} free`,
          );
        }
      }
      extra.set(n.nodeId, addRes(extra.get(n.nodeId) ?? zero(), it.res));
      if (!it.publicIp) return undefined;
      const farm = this.farmById.get(n.farmId) as SimFarm;
      let mine = extraIps.get(farm.farmId);
      if (!mine) extraIps.set(farm.farmId, (mine = new Set()));
      const ip = this.freeIpsOf(farm, usage, mine)[0];
      if (ip === undefined) {
        throw new GridError(
          'no_public_ip',
          `farm ${farm.name} (${farm.farmId}) of node ${n.nodeId} has no free public IPv4 for ${it.label}`,
        );
      }
      mine.add(ip);
      return ip;
    });
  }

  // ---------------------------------------------------------------- internals: contracts

  private requireNameFree(twinId: number, projectName: string, name: string): void {
    const taken = this.state.contracts.some(
      (c) => c.twinId === twinId && c.state !== 'deleted' && c.projectName === projectName && c.deploymentName === name,
    );
    if (taken) throw new GridError('name_taken', `a deployment named "${name}" already exists in project "${projectName}"`);
  }

  private takePendingFailure(): string | undefined {
    const f = this.pendingFailure;
    if (!f) return undefined;
    if (--f.remaining <= 0) this.pendingFailure = undefined;
    return f.reason;
  }

  private createContract(a: {
    twinId: number;
    owner: string;
    node: SimNode;
    type: 'vm' | 'zdb';
    projectName: string;
    deploymentName: string;
    workloadName: string;
    res: Resources;
    publicIp: string | undefined;
    now: number;
    forceFail: string | undefined;
    failureMessages: readonly string[];
    details: (rnd: Rng, contractId: number) => { vm?: VmDetails; zdb?: ZdbDetails };
  }): SimContract {
    const contractId = this.state.nextContractId++;
    const rnd = new Rng(mixSeed(this.state.seed, contractId));
    const fate = new Rng(mixSeed(this.state.seed, contractId, 0xfa11));
    let failMessage = a.forceFail;
    if (failMessage === undefined && this.failureRate > 0 && fate.float() < this.failureRate) {
      failMessage = fate.pick(a.failureMessages);
    }
    const c: SimContract = {
      contractId,
      twinId: a.twinId,
      owner: a.owner,
      nodeId: a.node.nodeId,
      farmId: a.node.farmId,
      type: a.type,
      projectName: a.projectName,
      deploymentName: a.deploymentName,
      workloadName: a.workloadName,
      resources: { ...a.res },
      hourlyCost: hourlyCostOf({ ...a.res, publicIps: a.publicIp ? 1 : 0, certified: a.node.certified }),
      createdAt: a.now,
      state: 'created',
      billedUntil: a.now,
      overdue: 0,
      readyAt: a.now + this.deployMs,
      ...a.details(rnd, contractId),
    };
    if (a.publicIp !== undefined) c.publicIp = a.publicIp;
    if (failMessage !== undefined) c.failMessage = failMessage;
    this.state.contracts.push(c);
    this.byId.set(contractId, c);
    return c;
  }

  /** Persists the new contracts, waits deployMs, then checks the workloads: success, or roll back. */
  private async awaitReady(deploymentName: string, created: SimContract[]): Promise<{ contractIds: number[] }> {
    const ids = created.map((c) => c.contractId);
    // Crash safety: the contracts are on disk before the wait, as they are on chain.
    await this.persist();
    let sleepError: unknown;
    try {
      await this.sleep(this.deployMs);
    } catch (e) {
      sleepError = e;
    }
    // Closed meanwhile: behave like a crash, leave the contracts as they are.
    if (this.closed) throw new GridError('unavailable', 'the simulated grid was closed during the deployment');
    this.settle();
    const now = this.clock.now();
    const failures: string[] = [];
    for (const c of created) {
      const label = `${c.type} "${c.workloadName}" on node ${c.nodeId} (contract ${c.contractId})`;
      if (c.state === 'deleted') failures.push(`${label}: contract was deleted during the deployment`);
      else if (c.state === 'grace') failures.push(`${label}: ${GRACE_MESSAGE}`);
      else if (!this.nodeIsUp(c.nodeId)) failures.push(`${label}: ${NODE_DOWN_MESSAGE}`);
      else if (c.errorMessage !== undefined) failures.push(`${label}: ${c.errorMessage}`);
      else if (c.failMessage !== undefined) failures.push(`${label}: ${c.failMessage}`);
    }
    if (sleepError !== undefined && failures.length === 0) {
      failures.push(`waiting for the workloads failed: ${(sleepError as Error)?.message ?? String(sleepError)}`);
    }
    if (failures.length > 0) {
      const rolledBack: number[] = [];
      for (const c of created) {
        if (c.state === 'deleted') continue;
        this.endContract(c, 'canceled', now);
        rolledBack.push(c.contractId);
      }
      await this.persist();
      throw new GridError(
        'workload_error',
        `deployment "${deploymentName}" failed: ${failures.join('; ')}; rolled back contracts ${rolledBack.join(', ') || 'none'}`,
        rolledBack,
      );
    }
    // The wait is over and every workload answered: ready now even if the clock did not move.
    for (const c of created) if (c.readyAt > now) c.readyAt = now;
    await this.persist();
    return { contractIds: ids };
  }

  private liveOfDeployment(id: Identity, projectName: string, name: string, type?: 'vm' | 'zdb'): SimContract[] {
    const twinId = this.state.twins[this.addressOf(id)];
    if (twinId === undefined) return [];
    return this.state.contracts.filter(
      (c) =>
        c.twinId === twinId &&
        c.state !== 'deleted' &&
        c.projectName === projectName &&
        c.deploymentName === name &&
        (type === undefined || c.type === type),
    );
  }

  private endContract(c: SimContract, cause: DeletedCause, at: number): void {
    c.state = 'deleted';
    c.deletedCause = cause;
    c.deletedAt = at;
    c.overdue = 0;
    delete c.runIdx;
  }

  private workloadState(c: SimContract, now: number): { state: WorkloadState; message?: string } {
    if (c.state === 'deleted') {
      return { state: 'deleted', message: c.deletedCause === 'out_of_funds' ? 'contract deleted: out of funds' : 'contract canceled' };
    }
    if (c.state === 'grace') return { state: 'error', message: GRACE_MESSAGE };
    if (!this.nodeIsUp(c.nodeId)) return { state: 'error', message: NODE_DOWN_MESSAGE };
    if (c.errorMessage !== undefined) return { state: 'error', message: c.errorMessage };
    if (now < c.readyAt) return { state: 'init' };
    if (c.failMessage !== undefined) return { state: 'error', message: c.failMessage };
    return { state: 'ok' };
  }

  // ---------------------------------------------------------------- internals: billing

  /**
   * Bills every live contract for every whole hour elapsed up to clock.now(), in time order per
   * owner (ties by contract id), so the result does not depend on how often it runs.
   * Returns whether anything changed.
   */
  private settle(): boolean {
    const now = this.clock.now();
    const byOwner = new Map<string, SimContract[]>();
    for (const c of this.state.contracts) {
      if (c.state === 'deleted') continue;
      let list = byOwner.get(c.owner);
      if (!list) byOwner.set(c.owner, (list = []));
      list.push(c);
    }
    let changed = false;
    for (const [owner, live] of byOwner) {
      if (this.settleOwner(owner, live, now)) changed = true;
    }
    return changed;
  }

  private settleOwner(owner: string, live: SimContract[], now: number): boolean {
    let changed = false;
    for (;;) {
      let next: SimContract | undefined;
      let graceCount = 0;
      for (const c of live) {
        if (c.state === 'deleted') continue;
        if (c.state === 'grace') graceCount++;
        if (c.billedUntil + HOUR_MS > now) continue;
        if (!next || c.billedUntil < next.billedUntil || (c.billedUntil === next.billedUntil && c.contractId < next.contractId)) {
          next = c;
        }
      }
      if (!next) return changed;
      changed = true;
      // Fast path: nothing in grace and the balance covers every bill due, so stepping hour by
      // hour would pay them all; pay them at once.
      if (graceCount === 0) {
        const due = live.filter((c) => c.state === 'created' && c.billedUntil + HOUR_MS <= now);
        const total = due.reduce((s, c) => s + Math.floor((now - c.billedUntil) / HOUR_MS) * c.hourlyCost, 0);
        if (this.bal(owner) >= total) {
          due.sort((a, b) => a.billedUntil - b.billedUntil || a.contractId - b.contractId);
          for (const c of due) {
            const hours = Math.floor((now - c.billedUntil) / HOUR_MS);
            this.state.balances[owner] = this.bal(owner) - hours * c.hourlyCost;
            c.billedUntil += hours * HOUR_MS;
            this.recordHourly(c, hours);
          }
          return changed;
        }
      }
      this.billHour(next);
    }
  }

  /** One hourly bill of one contract, at billedUntil + 1 h. */
  private billHour(c: SimContract): void {
    const t = c.billedUntil + HOUR_MS;
    c.billedUntil = t;
    const have = this.bal(c.owner);
    if (c.state === 'created') {
      if (have >= c.hourlyCost) {
        this.state.balances[c.owner] = have - c.hourlyCost;
        this.recordHourly(c, 1);
      } else {
        c.state = 'grace';
        c.graceStartedAt = t;
        c.overdue = c.hourlyCost;
      }
      return;
    }
    // grace
    c.overdue += c.hourlyCost;
    if (have >= c.overdue) this.payOverdue(c, t);
    else if (t - (c.graceStartedAt ?? t) >= GRACE_PERIOD_MS) this.endContract(c, 'out_of_funds', t);
  }

  /** Adds `hours` paid hours ending at c.billedUntil to the contract's current run (or starts one). */
  private recordHourly(c: SimContract, hours: number): void {
    const entries = (this.state.billing[c.owner] ??= []);
    const run = c.runIdx !== undefined ? entries[c.runIdx] : undefined;
    const amount = hours * c.hourlyCost;
    if (run && run.kind === 'hourly' && run.contractId === c.contractId && run.at === c.billedUntil - hours * HOUR_MS) {
      run.amount += amount;
      run.hours += hours;
      run.at = c.billedUntil;
      return;
    }
    entries.push({ contractId: c.contractId, amount, at: c.billedUntil, hours, kind: 'hourly' });
    c.runIdx = entries.length - 1;
  }

  private payOverdue(c: SimContract, at: number): void {
    this.state.balances[c.owner] = this.bal(c.owner) - c.overdue;
    const entries = (this.state.billing[c.owner] ??= []);
    entries.push({ contractId: c.contractId, amount: c.overdue, at, hours: Math.round(c.overdue / c.hourlyCost), kind: 'overdue' });
    c.state = 'created';
    c.overdue = 0;
    delete c.graceStartedAt;
  }

  /** Funds arrived: contracts in grace whose overdue the balance covers return to created (oldest grace first). */
  private restoreFromGrace(owner: string, at: number): void {
    const grace = this.state.contracts
      .filter((c) => c.owner === owner && c.state === 'grace')
      .sort((a, b) => (a.graceStartedAt ?? 0) - (b.graceStartedAt ?? 0) || a.contractId - b.contractId);
    for (const c of grace) if (this.bal(owner) >= c.overdue) this.payOverdue(c, at);
  }
}

// ------------------------------------------------------------------ helpers

function toContractInfo(c: SimContract): ContractInfo {
  const info: ContractInfo = {
    contractId: c.contractId,
    nodeId: c.nodeId,
    state: c.state,
    createdAt: c.createdAt,
    projectName: c.projectName,
    deploymentName: c.deploymentName,
    type: c.type,
    hourlyCost: c.hourlyCost,
  };
  if (c.deletedCause !== undefined) info.deletedCause = c.deletedCause;
  if (c.graceStartedAt !== undefined) info.graceStartedAt = c.graceStartedAt;
  return info;
}

function transferSeq(id: string): number | undefined {
  const m = /^sim-(\d+)$/.exec(id);
  return m ? Number(m[1]) : undefined;
}

function checkAmount(amount: Units): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) invalid(`amount must be a positive whole number of units, got ${amount}`);
}

function vmResources(m: VmDeployment['machines'][number]): Resources {
  return {
    cru: m.cpu,
    mruMb: m.memoryMb,
    sruGb: round6(m.rootfsGb + m.disks.reduce((s, d) => s + d.sizeGb, 0)),
    hruGb: 0,
  };
}

function zdbResources(z: ZdbDeployment['zdbs'][number]): Resources {
  return { cru: 0, mruMb: 0, sruGb: 0, hruGb: z.diskGb };
}

const isNum = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

function validateVmDeployment(d: VmDeployment): void {
  if (typeof d.projectName !== 'string') invalid('projectName must be a string');
  if (!MACHINE_NAME.test(d.name)) invalid(`deployment name "${d.name}" must be 1–35 letters, digits or underscores`);
  if (!Array.isArray(d.machines) || d.machines.length === 0) invalid('a deployment needs at least one machine');
  const names = new Set<string>();
  for (const m of d.machines) {
    if (!MACHINE_NAME.test(m.name)) invalid(`machine name "${m.name}" must be 1–35 letters, digits or underscores`);
    if (names.has(m.name)) invalid(`machine name "${m.name}" is used twice`);
    names.add(m.name);
    if (!Number.isSafeInteger(m.nodeId)) invalid(`machine "${m.name}": nodeId must be an integer`);
    if (!Number.isSafeInteger(m.cpu) || m.cpu < 1) invalid(`machine "${m.name}": cpu must be a whole number ≥ 1`);
    if (!isNum(m.memoryMb) || m.memoryMb < 256) invalid(`machine "${m.name}": memory must be at least 256 MB`);
    if (!isNum(m.rootfsGb) || m.rootfsGb < 0) invalid(`machine "${m.name}": rootfs size must be ≥ 0 GB`);
    if (typeof m.flist !== 'string' || m.flist.trim() === '') invalid(`machine "${m.name}": flist is required`);
    const disks = new Set<string>();
    for (const disk of m.disks) {
      if (!ALNUM_NAME.test(disk.name)) invalid(`disk name "${disk.name}" must be 1–35 letters or digits`);
      if (disks.has(disk.name)) invalid(`machine "${m.name}": disk name "${disk.name}" is used twice`);
      disks.add(disk.name);
      if (!isNum(disk.sizeGb) || disk.sizeGb < 0.25) invalid(`disk "${disk.name}": size must be at least 0.25 GB`);
    }
  }
}

function validateZdbDeployment(d: ZdbDeployment): void {
  if (typeof d.projectName !== 'string') invalid('projectName must be a string');
  if (!ALNUM_NAME.test(d.name)) invalid(`zdb deployment name "${d.name}" must be 1–35 letters or digits`);
  if (!Array.isArray(d.zdbs) || d.zdbs.length === 0) invalid('a zdb deployment needs at least one zdb');
  const names = new Set<string>();
  for (const z of d.zdbs) {
    if (!ALNUM_NAME.test(z.name)) invalid(`zdb name "${z.name}" must be 1–35 letters or digits`);
    if (names.has(z.name)) invalid(`zdb name "${z.name}" is used twice`);
    names.add(z.name);
    if (!Number.isSafeInteger(z.nodeId)) invalid(`zdb "${z.name}": nodeId must be an integer`);
    if (!isNum(z.diskGb) || z.diskGb <= 0) invalid(`zdb "${z.name}": disk size must be more than 0 GB`);
    if (z.mode !== 'seq' && z.mode !== 'user') invalid(`zdb "${z.name}": mode must be seq or user`);
  }
}

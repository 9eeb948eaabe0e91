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
 * - Billing is lazy: bills are settled before every read or write of balances or contracts,
 *   processing every hour that elapsed, in time order, so a clock jump of weeks gives the same
 *   result as stepping hour by hour. A bill is paid in full or not at all (no partial payment).
 *   Each owner pays only their own contracts, so owners are settled independently: a call about
 *   one address (balance, getVms, listContracts, fund...) settles only that owner, and calls that
 *   see every contract (node usage, deploys, stats) settle every owner with a bill due.
 * - Cancelling a contract does not bill the partial hour since the last whole hour, and the
 *   overdue of a contract in grace is forgiven when it is cancelled or deleted.
 * - Workload state is derived from the clock (`init` until `readyAt`, then `ok` or `error`), so
 *   it is right after a restart too.
 * - Node usage is not stored: it is the generated usage of other tenants plus the resources of
 *   the live contracts, so it can never drift from the contracts.
 *
 * Scale (100,000 live contracts and more): the state file holds only the state above. In memory the
 * sim keeps indexes it rebuilds from the contracts at open: each twin's contracts and its live
 * contracts by deployment, the live contracts of each node (with a cached sum), the public IPs
 * taken per farm, the transfers per recipient, and a queue of when each twin next owes a bill. So
 * a call about one deployment or address costs what that twin has, not what the grid has, and
 * settling costs nothing while no bill is due.
 *
 * Persistence: every call that changes state (twins, money, contracts, node status) writes the
 * whole state file before it returns (atomic rename, not fsync'ed). Reads do not write, even when
 * they settled bills: billing is a function of the written state and the clock, so after a
 * restart the same bills are settled again, to the unit. Settled bills reach the file with the
 * next write, `settleNow()`, the settle timer, or `close()`. `batch()` defers the writes of a
 * bulk setup to one at its end.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { checkAddress, encodeAddress } from '@polkadot/util-crypto';
import { systemClock, type Clock } from '../../clock.js';
import { DAY_MS, HOUR_MS, UNITS_PER_TFT, formatTft, type Units } from '../../domain/money.js';
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
  type VerificationStatus,
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
import { DueQueue } from './due-queue.js';
import { hourlyCostOf, type PricedResources } from './prices.js';
import type { ProbeSpec } from '../../catalog/types.js';
import type { Prober, ProbeResult, ProbeTarget } from '../../probes/prober.js';

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
  /** settle every owner's bills and write them on a timer every this many ms (off by default: settling is lazy anyway) */
  settleEveryMs?: number;
  /** how long a simulated chain node takes to sync once its machine is up; default 6 h */
  syncMs?: number;
  /**
   * 0..1, default 0: grid calls fail at this rate (chaos testing): a timeout before or after the
   * work is done, the grid unreachable, or the node going down under a deploy. In memory only;
   * `faultSeed` (default 0) seeds which calls fail.
   */
  faultRate?: number;
  faultSeed?: number;
}

/** The message of every injected fault, so logs and tests can tell them from real failures. */
export const SIM_FAULT = 'simulated fault';

interface VmDetails {
  flist: string;
  entrypoint: string;
  /** as the grid keeps it in the deployment, readable by its owner (grid_client's getObj shows it) */
  env?: Record<string, string>;
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
  /** the chain on this machine stopped syncing at this time (stallSync) */
  syncFrozenAt?: number;
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

/**
 * One twin's contracts, indexed in memory (rebuilt at open, never persisted). A twin belongs to one
 * address for good (ensureTwin), so the twin's contracts are its owner's: the book is also the
 * unit of billing.
 */
interface TwinBook {
  twinId: number;
  /** the address that signs for the twin and pays its contracts */
  owner: string;
  /** every contract of the twin, deleted ones included, oldest first */
  all: SimContract[];
  /** the contracts not deleted (created or grace), oldest first: what billing walks */
  live: SimContract[];
  /** the live contracts by projectName, then deployment name, oldest first */
  deployments: Map<string, Map<string, SimContract[]>>;
  /** when the next bill falls due: min over `live` of billedUntil + 1 h; Infinity if none */
  dueAt: number;
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

/** A wait of 0 ms resolves without a timer: deployMs 0 must not cost a timer tick (~1 ms) per deploy. */
const defaultSleep = (ms: number): Promise<void> =>
  ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));

/** When the earliest of these live contracts next owes a bill; Infinity when there are none. */
function earliestDue(live: readonly SimContract[]): number {
  let at = Infinity;
  for (const c of live) at = Math.min(at, c.billedUntil + HOUR_MS);
  return at;
}

/** Removes one element, keeping the order of the others. */
function removeFrom<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

/** The height a simulated chain reaches when synced. */
const SIM_CHAIN_HEIGHT = 2_000_000;

export class SimGrid implements Grid, Chain, Faucet, Prober {
  readonly kind = 'sim' as const;
  readonly faucetAddress = FAUCET_ADDRESS;
  /** the static, generated grid (farms, nodes, locations) */
  readonly grid: GeneratedGrid;
  readonly file: string;

  private readonly nodeById = new Map<number, SimNode>();
  private readonly farmById = new Map<number, SimFarm>();
  private readonly byId = new Map<number, SimContract>();
  // In-memory indexes over the persisted state, rebuilt at open (see the header).
  private readonly books = new Map<number, TwinBook>();
  /** (dueAt, twinId) of every book with live contracts; may hold superseded entries */
  private readonly due = new DueQueue();
  /** live contracts per node, oldest first */
  private readonly liveOnNode = new Map<number, SimContract[]>();
  /** sum of the resources of `liveOnNode`, per node; dropped when a contract there starts or ends */
  private readonly nodeLoad = new Map<number, Resources>();
  /** public IPv4s held by live contracts, per farm */
  private readonly ipsTaken = new Map<number, Set<string>>();
  private readonly transfersTo = new Map<string, Transfer[]>();
  /** > 0 inside batch(): writes are deferred to its end */
  private batchDepth = 0;
  /** the memory holds changes the state file does not have yet */
  private dirty = false;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly deployMs: number;
  private readonly failureRate: number;
  private readonly syncMs: number;
  private pendingFailure: { reason: string; remaining: number } | undefined;
  private readonly faultRate: number;
  private readonly faultRng: Rng;
  /** nodes a fault took down, oldest first; a few at most, the oldest comes back up */
  private readonly faultDowned: number[] = [];
  /** faults injected since open, by kind */
  readonly faults = { before: 0, after: 0, nodeDown: 0 };
  /** addresses a test marked as not verified; everyone else is, so local mode never asks (in memory only) */
  private readonly unverified = new Map<string, VerificationStatus>();
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
    this.syncMs = opts.syncMs ?? 6 * HOUR_MS;
    this.faultRate = opts.faultRate ?? 0;
    this.faultRng = new Rng(mixSeed(state.seed, 0xc4a05, opts.faultSeed ?? 0));
    for (const n of grid.nodes) this.nodeById.set(n.nodeId, n);
    for (const f of grid.farms) this.farmById.set(f.farmId, f);
    for (const c of state.contracts) {
      this.byId.set(c.contractId, c);
      this.indexContract(c);
    }
    for (const t of state.transfers) this.indexTransfer(t);
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
    const faultRate = opts.faultRate ?? 0;
    if (!(faultRate >= 0 && faultRate <= 1)) throw new RangeError(`grid sim: faultRate must be in 0..1, got ${faultRate}`);
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
        if (!sim.closed) void sim.settleAndPersist().catch(() => undefined);
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
    this.dirty = false;
    await this.db.write();
  }

  /**
   * Runs `fn` with the state file written once, at the end (also when `fn` throws), instead of
   * after every call that changes state: for seeding a large grid and for benchmarks, where a
   * write per call would rewrite the whole file N times.
   *
   * This gives up crash safety inside the batch: if the process dies before the batch ends,
   * everything since it began is lost, including contracts a deploy already reported created
   * (the real chain would keep them). Every call made while a batch runs is in it, not only those
   * `fn` makes, so never use it in the bot. Batches may nest; the outermost one writes.
   */
  async batch<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    this.batchDepth++;
    try {
      return await fn();
    } finally {
      this.batchDepth--;
      if (this.batchDepth === 0 && this.dirty && !this.closed) await this.persist();
    }
  }

  // ---------------------------------------------------------------- Grid

  async ensureTwin(id: Identity): Promise<number> {
    this.assertOpen();
    this.faultBefore('ensureTwin');
    const address = this.addressOf(id);
    const existing = this.state.twins[address];
    if (existing !== undefined) return existing;
    const twinId = this.state.nextTwinId++;
    this.state.twins[address] = twinId;
    await this.persist();
    return twinId;
  }

  async findNodes(filter: NodeFilter): Promise<GridNode[]> {
    this.assertOpen();
    this.faultBefore('findNodes');
    this.settle(); // usage depends on every owner's contracts (out of funds frees capacity)
    if (filter.limit !== undefined && (!Number.isSafeInteger(filter.limit) || filter.limit < 0)) {
      invalid(`limit must be a non-negative integer, got ${filter.limit}`);
    }
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
      const node = this.toGridNode(n);
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
    this.assertOpen();
    this.settle();
    const n = this.nodeById.get(nodeId);
    return n ? this.toGridNode(n) : undefined;
  }

  async deployVms(id: Identity, d: VmDeployment): Promise<{ contractIds: number[] }> {
    this.assertOpen();
    this.faultBefore('deployVms');
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
          const vm: VmDetails = { flist: m.flist, entrypoint: m.entrypoint, privateIp, env: { ...m.env } };
          if (m.mycelium) vm.mycelium = `${node.myceliumPrefix}:ff0f:${rnd.hextet()}:${rnd.hextet()}:${rnd.hextet()}`;
          if (m.publicIp) vm.publicIp6 = `${node.ipv6Prefix}:${rnd.hextet()}:${rnd.hextet()}:${rnd.hextet()}:${rnd.hextet()}/64`;
          return { vm };
        },
      });
    });
    return this.awaitReady(d.name, created);
  }

  async deployZdbs(id: Identity, d: ZdbDeployment): Promise<{ contractIds: number[] }> {
    this.assertOpen();
    this.faultBefore('deployZdbs');
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
    this.assertOpen();
    this.faultBefore('getVms');
    this.settleAccount(this.addressOf(id));
    const now = this.clock.now();
    return this.liveOfDeployment(id, projectName, name, 'vm').map((c) => {
      const ws = this.workloadState(c, now);
      const info: VmInfo = { name: c.workloadName, nodeId: c.nodeId, contractId: c.contractId, state: ws.state };
      if (ws.message !== undefined) info.message = ws.message;
      if (c.publicIp !== undefined) info.publicIp = c.publicIp;
      if (c.vm?.publicIp6 !== undefined) info.publicIp6 = c.vm.publicIp6;
      if (c.vm?.mycelium !== undefined) info.mycelium = c.vm.mycelium;
      if (c.vm) info.privateIp = c.vm.privateIp;
      if (c.vm?.env) info.env = { ...c.vm.env };
      return info;
    });
  }

  async getZdbs(id: Identity, projectName: string, name: string): Promise<ZdbInfo[]> {
    this.assertOpen();
    this.faultBefore('getZdbs');
    this.settleAccount(this.addressOf(id));
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
    this.settleAccount(this.addressOf(id));
    const live = this.liveOfDeployment(id, projectName, name);
    const now = this.clock.now();
    this.faultBefore('deleteDeployment');
    for (const c of live) this.endContract(c, 'canceled', now);
    await this.persist();
    this.faultAfter('deleteDeployment');
    return live.map((c) => c.contractId);
  }

  async listContracts(id: Identity, opts: { projectPrefix?: string; includeDeleted?: boolean } = {}): Promise<ContractInfo[]> {
    this.assertOpen();
    const address = this.addressOf(id);
    this.settleAccount(address);
    this.faultBefore('listContracts');
    const prefix = opts.projectPrefix ?? '';
    return (this.bookOf(address)?.all ?? [])
      .filter((c) => (opts.includeDeleted || c.state !== 'deleted') && c.projectName.startsWith(prefix))
      .map(toContractInfo);
  }

  async cancelContract(id: Identity, contractId: number): Promise<void> {
    this.assertOpen();
    this.settleAccount(this.addressOf(id));
    const twinId = this.state.twins[this.addressOf(id)];
    const c = this.byId.get(contractId);
    if (!c || twinId === undefined || c.twinId !== twinId) {
      await this.persist();
      throw new GridError('not_found', `contract ${contractId} not found among your contracts`);
    }
    this.faultBefore('cancelContract');
    if (c.state !== 'deleted') this.endContract(c, 'canceled', this.clock.now());
    await this.persist();
    this.faultAfter('cancelContract');
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
    this.assertOpen();
    this.settleAccount(address);
    return this.bal(address);
  }

  /** The simulated chain charges no fee and keeps no minimum: the whole balance can go. */
  async maxWithdrawal(from: string): Promise<Units> {
    this.assertOpen();
    this.settle();
    return this.bal(from);
  }

  async incomingTransfers(address: string, after?: string): Promise<Transfer[]> {
    this.assertOpen();
    this.faultBefore('incomingTransfers');
    let from = 0;
    if (after !== undefined) {
      const seq = transferSeq(after);
      if (seq === undefined) invalid(`not a sim transfer id: ${after}`);
      from = seq;
    }
    return (this.transfersTo.get(address) ?? [])
      .filter((t) => (transferSeq(t.id) ?? 0) > from)
      .map((t) => ({ ...t }));
  }

  async transfer(from: Identity, to: string, amount: Units): Promise<Transfer> {
    this.assertOpen();
    const sender = this.addressOf(from);
    checkAmount(amount);
    if (typeof to !== 'string' || to.trim() === '') invalid('transfer needs a destination address');
    // the sender's balance must be current, and funds arriving may end the recipient's grace
    this.settleAccount(sender);
    this.settleAccount(to);
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
    this.settleAccount(address);
    return this.credit(FAUCET_ADDRESS, address, amount);
  }

  // ---------------------------------------------------------------- sim-only controls

  /** The bills paid by an address, oldest first (consecutive hours of a contract form one entry). */
  async billingHistory(address: string): Promise<BillingEntry[]> {
    this.assertOpen();
    this.settleAccount(address);
    return (this.state.billing[address] ?? []).map((e) => ({ ...e }));
  }

  /** Every contract of an address, deleted ones included. */
  async contractsOf(address: string): Promise<ContractInfo[]> {
    this.assertOpen();
    this.settleAccount(address);
    return (this.bookOf(address)?.all ?? []).map(toContractInfo);
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
  /** Marks an address's identity verification, as the grid's KYC service would answer it. */
  setVerification(address: string, status: VerificationStatus): void {
    if (status === 'verified') this.unverified.delete(address);
    else this.unverified.set(address, status);
  }

  async verification(id: Identity): Promise<VerificationStatus> {
    this.assertOpen();
    return this.unverified.get(this.addressOf(id)) ?? 'verified';
  }

  /** A link that goes nowhere: the simulated grid has no KYC service. Like the real one, it wants 1 TFT in the account first. */
  async verificationLink(id: Identity): Promise<string> {
    this.assertOpen();
    if (this.bal(this.addressOf(id)) < UNITS_PER_TFT) {
      throw new GridError('insufficient_funds', 'the verification service opens a session only for an account holding at least 1 TFT');
    }
    return `https://kyc.sim.invalid/verify?address=${encodeURIComponent(this.addressOf(id))}`;
  }

  failNextDeploy(reason?: string, times = 1): void {
    if (!Number.isSafeInteger(times) || times < 0) throw new RangeError(`times must be a whole number ≥ 0, got ${times}`);
    this.pendingFailure = times > 0 ? { reason: reason ?? 'workload failed to start', remaining: times } : undefined;
  }

  /**
   * The node's own answer, as the real prober would get it: a chain syncs linearly for `syncMs`
   * after its machine is up (unless stalled with stallSync); a 0-db answers PING while it runs.
   */
  async probe(spec: ProbeSpec, target: ProbeTarget): Promise<ProbeResult> {
    this.assertOpen();
    const c = this.byId.get(target.contractId);
    const now = this.clock.now();
    if (!c || spec.kind === 'none' || this.workloadState(c, now).state !== 'ok') return { state: 'unreachable' };
    if (spec.kind === 'zdb') return { state: 'synced' };
    const at = c.syncFrozenAt ?? now;
    const progress = this.syncMs > 0 ? Math.min(1, Math.max(0, at - c.readyAt) / this.syncMs) : 1;
    const height = Math.floor(progress * SIM_CHAIN_HEIGHT);
    return progress >= 1 ? { state: 'synced', progress: 1, height } : { state: 'syncing', progress, height };
  }

  /** The chain on this contract's machine stops syncing where it is (persisted). */
  async stallSync(contractId: number): Promise<void> {
    this.assertOpen();
    const c = this.byId.get(contractId);
    if (!c) throw new GridError('not_found', `contract ${contractId} does not exist`);
    c.syncFrozenAt = this.clock.now();
    await this.persist();
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
    this.assertOpen();
    this.settle();
    const nodes = { total: this.grid.nodes.length, up: 0, down: 0, standby: 0 };
    for (const n of this.grid.nodes) nodes[this.statusOf(n)]++;
    let ipTotal = 0;
    let ipFree = 0;
    for (const f of this.grid.farms) {
      ipTotal += f.publicIps.length;
      ipFree += this.freeIpsOf(f).length;
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

  /** Settles every owner's bills up to clock.now() and writes what is not written yet; what the optional timer does. */
  async settleNow(): Promise<void> {
    await this.settleAndPersist();
  }

  // ---------------------------------------------------------------- internals: accounts

  /** What every deploy checks first, in grid_client's order: a twin, a valid request, the balance, a free name. Returns the twin id. */
  private admit(id: Identity, d: { projectName: string; name: string }, validate: () => void): number {
    this.assertOpen();
    const twinId = this.requireTwin(id);
    if (this.unverified.has(id.address)) {
      throw new GridError('not_verified', 'Your account is not verified. Please complete your KYC verification.');
    }
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
    this.indexTransfer(t);
    this.restoreFromGrace(to, now);
    await this.persist();
    return { ...t };
  }

  // ---------------------------------------------------------------- internals: injected faults

  /** With faultRate: the call fails before it does anything (a timeout, or the grid unreachable). */
  private faultBefore(op: string): void {
    if (this.faultRate <= 0 || !this.faultRng.chance(this.faultRate)) return;
    this.faults.before++;
    if (this.faultRng.chance(0.5)) throw new GridError('timeout', `${SIM_FAULT}: ${op} timed out`);
    throw new GridError('unavailable', `${SIM_FAULT}: the grid did not answer ${op}`);
  }

  /** With faultRate: the call did its work, but its answer is lost (a timeout after the fact). */
  private faultAfter(op: string): void {
    if (this.faultRate <= 0 || !this.faultRng.chance(this.faultRate)) return;
    this.faults.after++;
    throw new GridError('timeout', `${SIM_FAULT}: ${op} timed out after the grid did it`);
  }

  /** A node goes down (persisted, like setNodeStatus); beyond 3 downed, the oldest comes back up. */
  private async faultNodeDown(nodeId: number): Promise<void> {
    this.faults.nodeDown++;
    const now = this.clock.now();
    this.state.nodeStatus[String(nodeId)] = { status: 'down', at: now };
    this.faultDowned.push(nodeId);
    if (this.faultDowned.length > 3) this.state.nodeStatus[String(this.faultDowned.shift()!)] = { status: 'up', at: now };
    await this.persist();
  }

  /** Writes the whole state file, or only marks it unwritten inside a batch. */
  private async persist(): Promise<void> {
    this.dirty = true;
    if (this.batchDepth > 0) return;
    this.dirty = false;
    await this.db.write();
  }

  private async settleAndPersist(): Promise<void> {
    this.assertOpen();
    this.settle();
    if (this.dirty) await this.persist();
  }

  /** The index of the twin of this address; undefined when it has no twin or no contract yet. */
  private bookOf(address: string): TwinBook | undefined {
    const twinId = this.state.twins[address];
    return twinId === undefined ? undefined : this.books.get(twinId);
  }

  private indexTransfer(t: Transfer): void {
    let list = this.transfersTo.get(t.to);
    if (!list) this.transfersTo.set(t.to, (list = []));
    list.push(t);
  }

  // ---------------------------------------------------------------- internals: nodes

  private statusOf(n: SimNode): NodeStatus {
    return this.state.nodeStatus[String(n.nodeId)]?.status ?? n.status;
  }

  private nodeIsUp(nodeId: number): boolean {
    const n = this.nodeById.get(nodeId);
    return n !== undefined && this.statusOf(n) === 'up';
  }

  /**
   * Resources held by the live contracts on a node (grace included: TFChain keeps them reserved).
   * Summed oldest first, exactly as a recount of every contract would, and cached until a
   * contract on the node starts or ends, so reading a node costs O(1).
   */
  private loadOf(nodeId: number): Resources {
    let load = this.nodeLoad.get(nodeId);
    if (load === undefined) {
      load = zero();
      for (const c of this.liveOnNode.get(nodeId) ?? []) load = addRes(load, c.resources);
      this.nodeLoad.set(nodeId, load);
    }
    return load;
  }

  private freeIpsOf(f: SimFarm, alsoTaken?: Set<string>): string[] {
    const taken = this.ipsTaken.get(f.farmId);
    return f.publicIps.filter((p) => !p.usedByOther && !taken?.has(p.ip) && !alsoTaken?.has(p.ip)).map((p) => p.ip);
  }

  private toGridNode(n: SimNode): GridNode {
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
      used: addRes(n.used, this.loadOf(n.nodeId)),
      publicIps: { total: farm.publicIps.length, free: this.freeIpsOf(farm).length },
    };
  }

  /** Checks every workload's node (cumulatively within the deployment); returns the public IP each gets. */
  private checkPlacement(items: Placement[]): (string | undefined)[] {
    const extra = new Map<number, Resources>();
    const extraIps = new Map<number, Set<string>>();
    return items.map((it) => {
      const n = this.nodeById.get(it.nodeId);
      if (!n) throw new GridError('node_down', `node ${it.nodeId} does not exist on this grid`);
      const status = this.statusOf(n);
      if (status !== 'up') throw new GridError('node_down', `node ${it.nodeId} is ${status}`);
      const already = addRes(addRes(n.used, this.loadOf(n.nodeId)), extra.get(n.nodeId) ?? zero());
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
      const ip = this.freeIpsOf(farm, mine)[0];
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
    const taken = (this.books.get(twinId)?.deployments.get(projectName)?.get(name)?.length ?? 0) > 0;
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
    this.indexContract(c);
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
    if (this.faultRate > 0 && this.faultRng.chance(this.faultRate / 2)) await this.faultNodeDown(created[0]!.nodeId);
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
    this.faultAfter(`deploy "${deploymentName}"`);
    return { contractIds: ids };
  }

  /** The live contracts of one named deployment, oldest first (a copy: ending them edits the index). */
  private liveOfDeployment(id: Identity, projectName: string, name: string, type?: 'vm' | 'zdb'): SimContract[] {
    const live = this.bookOf(this.addressOf(id))?.deployments.get(projectName)?.get(name) ?? [];
    return live.filter((c) => type === undefined || c.type === type);
  }

  private endContract(c: SimContract, cause: DeletedCause, at: number): void {
    if (c.state === 'deleted') return;
    c.state = 'deleted';
    c.deletedCause = cause;
    c.deletedAt = at;
    c.overdue = 0;
    delete c.runIdx;
    this.unindexLive(c);
  }

  // ---------------------------------------------------------------- internals: indexes

  /** Adds a contract (new, or read from the state file at open) to the in-memory indexes. */
  private indexContract(c: SimContract): void {
    let book = this.books.get(c.twinId);
    if (!book) {
      book = { twinId: c.twinId, owner: c.owner, all: [], live: [], deployments: new Map(), dueAt: Infinity };
      this.books.set(c.twinId, book);
    }
    book.all.push(c);
    if (c.state === 'deleted') return;

    book.live.push(c);
    let byName = book.deployments.get(c.projectName);
    if (!byName) book.deployments.set(c.projectName, (byName = new Map()));
    let named = byName.get(c.deploymentName);
    if (!named) byName.set(c.deploymentName, (named = []));
    named.push(c);

    let onNode = this.liveOnNode.get(c.nodeId);
    if (!onNode) this.liveOnNode.set(c.nodeId, (onNode = []));
    onNode.push(c);
    this.nodeLoad.delete(c.nodeId);
    if (c.publicIp !== undefined) {
      let ips = this.ipsTaken.get(c.farmId);
      if (!ips) this.ipsTaken.set(c.farmId, (ips = new Set()));
      ips.add(c.publicIp);
    }
    if (c.billedUntil + HOUR_MS < book.dueAt) this.setDue(book, c.billedUntil + HOUR_MS);
  }

  /** A contract was deleted: it no longer holds resources, an IP, its name, or bills. */
  private unindexLive(c: SimContract): void {
    const book = this.books.get(c.twinId);
    if (book) {
      removeFrom(book.live, c);
      const byName = book.deployments.get(c.projectName);
      const named = byName?.get(c.deploymentName);
      if (byName && named) {
        removeFrom(named, c);
        if (named.length === 0) byName.delete(c.deploymentName);
        if (byName.size === 0) book.deployments.delete(c.projectName);
      }
      this.setDue(book, earliestDue(book.live));
    }
    const onNode = this.liveOnNode.get(c.nodeId);
    if (onNode) {
      removeFrom(onNode, c);
      if (onNode.length === 0) this.liveOnNode.delete(c.nodeId);
    }
    this.nodeLoad.delete(c.nodeId);
    // A farm's live contracts never share an IP (checkPlacement hands out free ones only), so
    // deleting this one frees the IP.
    if (c.publicIp !== undefined) this.ipsTaken.get(c.farmId)?.delete(c.publicIp);
  }

  /**
   * Sets when the twin's next bill falls due and queues that time. The entry the twin had in the
   * queue stays there, superseded: settle() drops entries that no longer match the book.
   */
  private setDue(book: TwinBook, at: number): void {
    if (at === book.dueAt) return;
    book.dueAt = at;
    if (!Number.isFinite(at)) return;
    this.due.push(at, book.twinId);
    // Superseded entries pile up as times move (a few per twin per hour); rebuild now and then.
    if (this.due.size > 2 * this.books.size + 1024) {
      this.due.clear();
      for (const b of this.books.values()) if (Number.isFinite(b.dueAt)) this.due.push(b.dueAt, b.twinId);
    }
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
   * Only the owners with a bill due are visited, so this is O(1) while none is.
   * Returns whether anything changed (and then marks the state unwritten).
   */
  private settle(): boolean {
    const now = this.clock.now();
    let changed = false;
    while (this.due.peekTime() <= now) {
      const { time, key } = this.due.pop() as { time: number; key: number };
      const book = this.books.get(key);
      if (book === undefined || book.dueAt !== time) continue; // superseded entry
      if (this.settleBook(book, now)) changed = true;
    }
    return changed;
  }

  /**
   * Settles one owner only. Owners are independent: each pays only their own contracts from their
   * own balance, and nothing they do reads another owner's bills, so settling an owner now and
   * the others later gives the same state as settling everyone at once (as long as each owner is
   * settled before anything reads or changes what they own, which every public call does).
   */
  private settleAccount(address: string): boolean {
    const book = this.bookOf(address);
    return book !== undefined && this.settleBook(book, this.clock.now());
  }

  private settleBook(book: TwinBook, now: number): boolean {
    if (book.dueAt > now) return false;
    const changed = this.settleOwner(book.owner, book.live, now);
    if (changed) this.dirty = true;
    // settleOwner leaves no live contract with a bill due, so the time moves past `now` and is
    // queued again (settle() may just have popped the book's previous entry).
    this.setDue(book, earliestDue(book.live));
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

  /**
   * Funds arrived: contracts in grace whose overdue the balance covers return to created (oldest
   * grace first). Their bills stay where they were (billedUntil), so when the owner next owes a
   * bill does not change.
   */
  private restoreFromGrace(owner: string, at: number): void {
    const grace = (this.bookOf(owner)?.live ?? [])
      .filter((c) => c.state === 'grace')
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

/**
 * The Grid and Chain ports: what Jukebox needs from the ThreeFold Grid and TFChain.
 *
 * Shaped after @threefold/grid_client so the real adapter stays thin: sizes in the package's units
 * (memory MB, disks GB), one project name per user deployment (grid_client filters contract
 * metadata by it), `deploy` that waits for the workloads and rolls back its own contracts on
 * failure, and contract states as TFChain has them. Money is in integer chain units.
 */
import type { Units } from '../domain/money.js';

/** Who signs: a user's intermediate identity (or the operator's). The sim uses only the address. */
export interface Identity {
  mnemonic: string;
  address: string;
}

export interface Resources {
  cru: number; // vCPU
  mruMb: number; // memory, MB
  sruGb: number; // SSD, GB
  hruGb: number; // HDD, GB
}

export type NodeStatus = 'up' | 'down' | 'standby';

export interface GridNode {
  nodeId: number;
  farmId: number;
  farmName: string;
  country: string;
  city: string;
  status: NodeStatus;
  certified: boolean;
  /** seconds since the node last booted */
  uptimeSec: number;
  total: Resources;
  used: Resources;
  publicIps: { total: number; free: number };
}

/** What `capacity.filterNodes` takes: free resources in the units above, defaults to nodes that are up. */
export interface NodeFilter {
  free?: Partial<Resources>;
  publicIp?: boolean;
  country?: string;
  city?: string;
  farmId?: number;
  nodeIds?: number[];
  excludeNodeIds?: number[];
  status?: NodeStatus | 'any';
  limit?: number;
}

export interface VmDisk {
  name: string;
  sizeGb: number;
  mountpoint: string;
}

export interface VmSpec {
  name: string;
  nodeId: number;
  cpu: number;
  memoryMb: number;
  rootfsGb: number;
  disks: VmDisk[];
  flist: string;
  entrypoint: string;
  env: Record<string, string>;
  publicIp: boolean;
  mycelium: boolean;
}

/** grid_client's MachinesModel: one named deployment, possibly over several nodes. */
export interface VmDeployment {
  projectName: string;
  name: string;
  machines: VmSpec[];
}

export interface ZdbSpec {
  name: string;
  nodeId: number;
  mode: 'seq' | 'user';
  diskGb: number;
  password: string;
  publicNamespace: boolean;
}

export interface ZdbDeployment {
  projectName: string;
  name: string;
  zdbs: ZdbSpec[];
}

export type WorkloadState = 'init' | 'ok' | 'error' | 'deleted';

export interface VmInfo {
  name: string;
  nodeId: number;
  contractId: number;
  state: WorkloadState;
  message?: string;
  publicIp?: string; // "185.69.166.12/24" as grid_client reports it
  publicIp6?: string;
  mycelium?: string;
  privateIp?: string;
  /** the machine's environment, as grid_client's getObj returns it */
  env?: Record<string, string>;
}

export interface ZdbInfo {
  name: string;
  nodeId: number;
  contractId: number;
  state: WorkloadState;
  message?: string;
  namespace: string;
  ips: string[];
  port: number;
  sizeGb: number;
  mode: 'seq' | 'user';
}

export type ContractState = 'created' | 'grace' | 'deleted';
export type DeletedCause = 'canceled' | 'out_of_funds';

export interface ContractInfo {
  contractId: number;
  nodeId: number;
  state: ContractState;
  deletedCause?: DeletedCause;
  /** ms epoch when the grace period started; deletion follows 14 days later unless funds return */
  graceStartedAt?: number;
  createdAt: number;
  /** from the contract metadata, as grid_client writes it */
  projectName: string;
  deploymentName: string;
  type: 'vm' | 'zdb';
  hourlyCost: Units;
}

export type GridErrorCode =
  | 'no_twin'
  | 'insufficient_funds'
  | 'no_capacity'
  | 'node_down'
  | 'no_public_ip'
  | 'name_taken'
  | 'timeout'
  | 'workload_error'
  | 'not_verified'
  | 'not_found'
  | 'invalid'
  | 'unavailable';

/** A failure the grid reported, with a code the product maps to plain words. */
export class GridError extends Error {
  constructor(
    readonly code: GridErrorCode,
    message: string,
    /** contracts the failed call cancelled again (grid_client rolls back on failure) */
    readonly rolledBack: number[] = [],
  ) {
    super(message);
    this.name = 'GridError';
  }
}

/** Where an identity stands with the grid's identity verification (KYC), which deploying requires. */
export type VerificationStatus = 'verified' | 'pending' | 'unverified' | 'rejected';

export interface Grid {
  readonly kind: 'sim' | 'tfgrid';
  /** Creates the identity's twin (and activates the account) if it has none; idempotent. Returns the twin id. */
  ensureTwin(id: Identity): Promise<number>;
  findNodes(filter: NodeFilter): Promise<GridNode[]>;
  getNode(nodeId: number): Promise<GridNode | undefined>;
  /** Creates the contracts, waits for every workload to be ready; on failure cancels what it created and throws GridError. */
  deployVms(id: Identity, d: VmDeployment): Promise<{ contractIds: number[] }>;
  deployZdbs(id: Identity, d: ZdbDeployment): Promise<{ contractIds: number[] }>;
  getVms(id: Identity, projectName: string, name: string): Promise<VmInfo[]>;
  getZdbs(id: Identity, projectName: string, name: string): Promise<ZdbInfo[]>;
  /** Cancels every contract of that named deployment; returns their ids. Unknown names return []. */
  deleteDeployment(id: Identity, projectName: string, name: string): Promise<number[]>;
  /** The identity's contracts that are not deleted, optionally those whose project name starts with a prefix. */
  listContracts(id: Identity, opts?: { projectPrefix?: string; includeDeleted?: boolean }): Promise<ContractInfo[]>;
  cancelContract(id: Identity, contractId: number): Promise<void>;
  /** Whether the identity may deploy: the grid refuses deployments from accounts not verified (KYC). */
  verification(id: Identity): Promise<VerificationStatus>;
  /** A link where the person behind the identity verifies it in a browser (a new session each time). */
  verificationLink(id: Identity): Promise<string>;
  /** What the grid bills per hour for these resources, as the calculator computes it. */
  hourlyCost(r: Resources & { publicIps: number; certified: boolean }): Promise<Units>;
}

export interface Transfer {
  /** unique and stable: block number and event index on TFChain, "sim-<n>" on the sim */
  id: string;
  from: string;
  to: string;
  amount: Units;
  at: number;
}

export interface Chain {
  /**
   * Free balance: what can pay contracts or be transferred. On TFChain it is read where the deposit
   * watcher stands (so it agrees with incomingTransfers), seconds behind the chain; `latest` reads
   * the chain's newest block (what a transfer just made left).
   */
  balance(address: string, opts?: { latest?: boolean }): Promise<Units>;
  /** Transfers into the address, oldest first; `after` is the id of the last one already seen. */
  incomingTransfers(address: string, after?: string): Promise<Transfer[]>;
  transfer(from: Identity, to: string, amount: Units): Promise<Transfer>;
  /** The most a transfer from `from` to `to` can send now: the free balance less the fee and what the chain keeps in an account. */
  maxWithdrawal(from: string, to: string): Promise<Units>;
  /** ss58 address validation for withdrawals */
  isValidAddress(address: string): boolean;
}

/** Only the simulated grid has a faucet: it lets local mode "pay" without a wallet. */
export interface Faucet {
  fund(address: string, amount: Units): Promise<Transfer>;
}

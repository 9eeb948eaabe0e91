/**
 * The seam between the Grid adapter and @threefold/grid_client: the narrow structural type of the
 * members we call (field types from the package's .d.ts, 2.9.2), and the one place that loads the
 * package and opens a client.
 *
 * The package is never imported, not even for types: its ESM entry is broken (directory imports)
 * and its types do not resolve under NodeNext. It is loaded lazily through createRequire (its CJS
 * build, ~1 s), on the first real-grid client only, so the sim and the tests never pay for it.
 *
 * Project names. grid_client scopes deployments by a project name, read in two places: `deploy`
 * writes the contract metadata from the shared `client.config.projectName`, while list / getObj /
 * delete filter by the module's own `projectName`, copied from the config when the module was
 * built at connect. Switching the project of a connected client would take a mutex held for the
 * whole call (a deploy waits for its workloads for minutes), so two deployments of one user could
 * not even be read while one deploys. Instead `forProject(p)` builds fresh machines / zdbs modules
 * over a copy of the config with `projectName: p`: they share the client's chain and relay
 * connections (the config holds them) and cost a few object allocations, and concurrent calls of
 * different projects never see each other's name. grid_client does the same internally
 * (`new BaseModule(this.config)` in contracts.invalidateDeployment).
 */
import { createRequire } from 'node:module';
import { removeGridSignalHandlers } from './client-pool.js';
import type { TfGridSettings } from './seams.js';

// ---- what we send (modules/models.d.ts) ----

export interface DiskShape {
  name: string;
  /** GB */
  size: number;
  mountpoint: string;
}

export interface MachineShape {
  name: string;
  node_id: number;
  disks?: DiskShape[];
  public_ip: boolean;
  public_ip6?: boolean;
  planetary: boolean;
  mycelium: boolean;
  myceliumSeed?: string;
  cpu: number;
  /** MB */
  memory: number;
  /** GB */
  rootfs_size: number;
  flist: string;
  entrypoint: string;
  env: Record<string, unknown>;
  ip?: string;
  corex?: boolean;
  solutionProviderId?: number;
  zlogsOutput?: string;
  gpus?: string[];
}

export interface MachinesShape {
  name: string;
  network: { name: string; ip_range: string; addAccess?: boolean; accessNodeId?: number; myceliumSeeds?: { nodeId: number; seed?: string }[] };
  machines: MachineShape[];
  metadata?: string;
  description?: string;
}

export interface AddMachineShape extends MachineShape {
  deployment_name: string;
  myceliumNetworkSeed?: string;
}

export interface ZdbShape {
  name: string;
  node_id: number;
  mode: 'seq' | 'user';
  /** GB of HDD */
  disk_size: number;
  publicNamespace: boolean;
  password: string;
  solutionProviderId?: number;
}

export interface ZdbsShape {
  name: string;
  zdbs: ZdbShape[];
  metadata?: string;
  description?: string;
}

export interface AddZdbShape extends ZdbShape {
  deployment_name: string;
}

/** The FilterOptions fields we set; mru / sru / hru are free GB (filterNodes turns them into bytes). */
export interface FilterOptionsShape {
  cru?: number;
  mru?: number;
  sru?: number;
  hru?: number;
  publicIPs?: boolean;
  country?: string;
  city?: string;
  farmId?: number;
  nodeId?: number;
  nodeExclude?: number[];
  availableFor?: number;
  status?: 'up' | 'down' | 'standby';
  healthy?: boolean;
  page?: number;
  size?: number;
}

// ---- what we read ----

/** Bytes, as gridproxy reports them (cru is a count). */
export interface NodeResourcesShape {
  cru: number;
  mru: number;
  sru: number;
  hru: number;
  ipv4u?: number;
}

/** A gridproxy node (primitives/nodes.d.ts NodeInfo, plus fields the raw JSON carries). */
export interface NodeInfoShape {
  nodeId: number;
  farmId: number;
  farmName: string;
  twinId?: number;
  /** seconds */
  uptime: number;
  status: string;
  certificationType: string;
  total_resources: NodeResourcesShape;
  used_resources: NodeResourcesShape;
  location?: { country?: string; city?: string };
  country?: string;
  city?: string;
  /** the farm's public IPv4s */
  publicIps?: { total: number; used?: number; free: number };
  rented?: boolean;
  rentedByTwinId?: number;
  dedicated?: boolean;
  inDedicatedFarm?: boolean;
  healthy?: boolean;
}

/** helpers/types.d.ts ZmachineData (nodeId is declared string but holds the contract's number). */
export interface ZmachineDataShape {
  contractId: number;
  nodeId: number | string;
  name: string;
  status: string;
  message: string;
  flist?: string;
  publicIP?: { ip?: string; ip6?: string; gateway?: string } | null;
  planetary?: string;
  myceliumIP?: string;
  interfaces?: { network: string; ip: string }[];
  capacity?: { cpu: number; memory: number };
  env?: Record<string, unknown>;
  entrypoint?: string;
  rootfs_size?: number;
}

/** modules/zdb.d.ts ZdbData. */
export interface ZdbDataShape {
  contractId: number;
  nodeId: number | string;
  name: string;
  status: string;
  message: string;
  /** GB */
  size: number;
  mode: string;
  publicNamespace?: boolean;
  resData?: { Namespace?: string; IPs?: string[]; Port?: number } | null;
}

/** A contract as TFChain stores it (tfchain_client Contract, after toPrimitive). */
export interface ChainContractShape {
  contractId: number;
  twinId: number;
  state: { created?: null; gracePeriod?: number; deleted?: unknown };
  contractType: { nodeContract?: { nodeId: number; deploymentData: string; publicIps: number } | null; nameContract?: unknown; rentContract?: unknown };
}

export type GqlContractState = 'Created' | 'Deleted' | 'OutOfFunds' | 'GracePeriod';

/** A node contract as GraphQL lists it (createdAt is in seconds, as a string). */
export interface GqlNodeContractShape {
  contractID: string | number;
  nodeID: number;
  state: string;
  createdAt: string | number;
  deploymentData: string;
  numberOfPublicIPs?: number;
}

export interface DeploymentResultShape {
  created: ChainContractShape[];
  updated: ChainContractShape[];
  deleted: { contractId: number }[];
}

// ---- the members we call ----

interface DeploymentModuleLike<Model, Data> {
  deploy(o: Model): Promise<{ contracts: DeploymentResultShape }>;
  /** the workloads of one named deployment of this module's project (prefix match, see tfgrid.ts) */
  getObj(name: string): Promise<Data[]>;
  /** deployment names of this module's project */
  list(): Promise<string[]>;
  delete(o: { name: string }): Promise<DeploymentResultShape>;
  /** grid_client calls its rollback with the contracts it created when a deploy fails after creating them */
  twinDeploymentHandler: { rollback(contracts: DeploymentResultShape): Promise<void> };
  /** the module's last listing of its contracts (set by list / getObj); what tells prefix matches from exact ones */
  contracts?: ModuleContractShape[];
}

/** BaseModule.getMyContracts: GraphQL node contracts of the module's type, metadata parsed. */
export interface ModuleContractShape {
  contractID: string | number;
  nodeID: number;
  state?: string;
  parsedDeploymentData?: { name?: string; projectName?: string; type?: string };
}

export interface MachinesLike extends DeploymentModuleLike<MachinesShape, ZmachineDataShape> {
  add_machine(o: AddMachineShape): Promise<{ contracts: DeploymentResultShape }>;
}

export interface ZdbsLike extends DeploymentModuleLike<ZdbsShape, ZdbDataShape> {
  add_zdb(o: AddZdbShape): Promise<{ contracts: DeploymentResultShape }>;
}

export interface ContractsLike {
  /** null when the chain no longer has it (cancelled contracts are removed) */
  get(o: { id: number }): Promise<ChainContractShape | null>;
  listMyContracts(o?: { state: GqlContractState[] }): Promise<{ nodeContracts: GqlNodeContractShape[]; nameContracts?: unknown[]; rentContracts?: unknown[] }>;
  /** TFT per hour, from the last two bill reports; 0 before the first bill */
  getConsumption(o: { id: number }): Promise<{ amountBilled: number; discountReceived?: string }>;
  /** ms epoch: start of the grace period + 14 days; 0 when not in grace */
  getDeletionTime(o: { id: number }): Promise<number>;
  cancel(o: { id: number }): Promise<number>;
}

export interface CapacityLike {
  filterNodes(o?: FilterOptionsShape): Promise<NodeInfoShape[]>;
  /** primitives/nodes: gridproxy `/nodes?node_id=`, any status; undefined when unknown */
  nodes: { getNode(nodeId: number): Promise<NodeInfoShape | undefined> };
}

/** TFT amounts (planck ÷ 1e7). */
export interface BalanceLike {
  getMyBalance(): Promise<{ free: number; reserved: number; frozen: number }>;
  get(o: { address: string }): Promise<{ free: number; reserved: number; frozen: number }>;
  transfer(o: { address: string; amount: number }): Promise<number>;
}

export interface CalculatorLike {
  /** USD per month (24 × 30 hours) for these resources (GB), without discount when no balance is given */
  calculate(o: { cru: number; mru: number; sru: number; hru: number; ipv4u: boolean; certified?: boolean; balance?: number }): Promise<{
    sharedPrice: number;
    dedicatedPrice: number;
  }>;
  /** USD per TFT */
  tftPrice(): Promise<number>;
}

/** @polkadot's ApiPromise, typed loosely on purpose: callers cast what they read. */
export interface LooseChainApi {
  query: Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>>;
  rpc: Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>>;
  tx: Record<string, Record<string, (...args: unknown[]) => unknown>>;
}

/** The machines and zdbs modules of one project name (see the header). */
export interface ProjectModules {
  machines: MachinesLike;
  zdbs: ZdbsLike;
}

export interface GridClientLike {
  readonly twinId: number;
  machines: MachinesLike;
  zdbs: ZdbsLike;
  contracts: ContractsLike;
  capacity: CapacityLike;
  balance: BalanceLike;
  calculator: CalculatorLike;
  /** the chain connection, shared by every client of the process (tfchain_client keeps one per URL) */
  tfclient: { api: LooseChainApi; disconnect(): Promise<unknown> };
  /** this client's own relay (RMB) connection */
  rmbClient?: { disconnect(): Promise<unknown> };
  /** fresh machines / zdbs modules whose deploy, list, getObj and delete use this project name */
  forProject(projectName: string): ProjectModules;
  disconnect(): Promise<void>;
}

/** grid_client's KYC client: `status()` answers VERIFIED, PENDING, REJECTED or UNVERIFIED; `getToken()` opens an iDenfy session. */
export interface KycLike {
  status(): Promise<string>;
  getToken(): Promise<string>;
}

// ---- loading the package ----

type ModuleCtor<M> = new (config: object) => M;

export interface GridClientPackage {
  GridClient: new (options: Record<string, unknown>) => Omit<GridClientLike, 'forProject'> & { config: object; connect(): Promise<void> };
  machines: ModuleCtor<MachinesLike>;
  zdbs: ModuleCtor<ZdbsLike>;
  /** the grid's identity verification (KYC) client: domain, mnemonic, key type */
  KYC: new (apiDomain: string, mnemonic: string, keypairType: string) => KycLike;
  events: { listeners(event: string): ((...a: unknown[]) => void)[]; removeListener(event: string, fn: (...a: unknown[]) => void): void };
}

let loaded: GridClientPackage | undefined;

/** The CJS build of @threefold/grid_client, loaded once, on first use. */
export function loadGridClientPackage(): GridClientPackage {
  if (!loaded) {
    loaded = createRequire(import.meta.url)('@threefold/grid_client') as GridClientPackage;
    // Its default "logs" listener console.logs every step of every deployment to stdout.
    for (const l of loaded.events.listeners('logs')) {
      if (l.name === 'logsHandler') loaded.events.removeListener('logs', l);
    }
  }
  return loaded;
}

/**
 * Opens a GridClient for this mnemonic: every service URL from the settings (so grid_client does
 * not probe its own list), sr25519 keys as TFChain accounts use, the deployment timeout from the
 * settings. Throws grid_client's TwinNotExistError when the account has no twin.
 */
export async function createGridClient(mnemonic: string, settings: TfGridSettings, projectName = ''): Promise<GridClientLike> {
  const pkg = loadGridClientPackage();
  const client = new pkg.GridClient({
    mnemonic,
    network: settings.network,
    proxyURL: settings.urls.proxy,
    substrateURL: settings.urls.substrate,
    relayURL: settings.urls.relay,
    graphqlURL: settings.urls.graphql,
    activationURL: settings.urls.activation,
    KycURL: settings.urls.kyc,
    deploymentTimeoutMinutes: settings.deploymentTimeoutMinutes,
    keypairType: 'sr25519',
    projectName,
    // fs under Node: grid_client keeps only caches there now (deployments are listed from GraphQL)
    backendStorageType: 'auto',
  });
  try {
    await client.connect();
  } catch (err) {
    await client.disconnect().catch(() => undefined);
    throw err;
  } finally {
    removeGridSignalHandlers();
  }
  return Object.assign(client, {
    forProject(p: string): ProjectModules {
      const config = { ...client.config, projectName: p };
      return { machines: new pkg.machines(config), zdbs: new pkg.zdbs(config) };
    },
  });
}

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
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
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
  /**
   * Cancels one contract (balance checked, no KYC). A contract the chain no longer has makes it
   * throw a TypeError ("reading 'apply'"): tfchain_client returns no extrinsic for it.
   */
  cancel(o: { id: number }): Promise<number>;
  /**
   * Cancels several contracts in one utility.batchAll extrinsic (balance checked, no KYC): all or
   * none. Contracts the chain no longer has are left out of the batch; returns the ids given.
   */
  batchCancelContracts(o: { ids: number[] }): Promise<number[]>;
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
  /**
   * The chain connection, shared by every client of the process (tfchain_client keeps one per URL).
   * Its disconnect would close it for all of them, for good: guardGridPackages makes it a no-op,
   * and closeGridChain closes the socket once, at shutdown.
   */
  tfclient: { api: LooseChainApi; disconnect(): Promise<unknown> };
  /** the relay (RMB) connection: an rmb_direct_client Client, one per mnemonic in the process (see closeRelay) */
  rmbClient?: object;
  /** fresh machines / zdbs modules whose deploy, list, getObj and delete use this project name */
  forProject(projectName: string): ProjectModules;
  /** Lets go of this client's relay connection (closed when no other client holds it); never the chain's. */
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
  /** the hex seed of a mnemonic, as grid_client keys its clients (and rmb_direct_client its cache) */
  toHexSeed(mnemonic: string): string;
  /** modules/base: contracts its modules leave out of GraphQL's listing (grid_client adds the ones it deletes) */
  BaseModule: { deletedContracts: number[] };
  /** primitives/network: the same, for wireguard networks */
  Network: { deletedContracts: number[] };
  events: { listeners(event: string): ((...a: unknown[]) => void)[]; removeListener(event: string, fn: (...a: unknown[]) => void): void };
}

let loaded: GridClientPackage | undefined;
/** primitives/networklight (not exported by the package): mycelium networks' listing */
let networkLight: { deletedContracts: number[] } | undefined;
/** rmb_direct_client's Client, the copy grid_client uses: (chainUrl, relayUrl, hexSeed, session, keypairType, retries) */
let RelayClient: (new (chainUrl: string, relayUrl: string, seed: string, session: string, keypairType: string, retries: number) => object) | undefined;

/** Where grid_client is, and a require that resolves its dependencies as it does (the copies it uses). */
function gridRequire(): { main: string; require: NodeRequire } {
  const main = createRequire(import.meta.url).resolve('@threefold/grid_client');
  return { main, require: createRequire(main) };
}

let guarded = false;
const SIGNALS = new Set<string | symbol>(['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGUSR2']);
type ChainDisconnect = (this: unknown, url?: string) => Promise<void>;
/** tfchain_client's own QueryClient.disconnect, per copy of the package, for closeGridChain */
const chainDisconnects = new Map<{ prototype: object }, ChainDisconnect>();

/**
 * Once, before grid_client, tfchain_client or rmb_direct_client makes a client:
 *
 * - Their `disconnectAndExit` becomes a no-op on both classes' prototypes. tfchain_client
 *   (QueryClient.connect, on every new chain socket, reconnects included) and rmb_direct_client
 *   (Client.connect, on every relay connect and reconnect) add SIGTERM / SIGINT / SIGUSR1 /
 *   SIGUSR2 listeners that disconnect, then `process.removeAllListeners(); process.exit(0)`,
 *   cutting the application's own shutdown (main.ts owns it) short. rmb binds it in its
 *   constructor, tfchain_client at each connect: both bind the no-op, and such listeners are
 *   taken off as soon as they are added (removeGridSignalHandlers stays as a belt).
 * - tfchain_client's QueryClient.disconnect becomes a no-op. It closes the chain socket the
 *   whole process shares per URL (its provider then never reconnects), and the packages call it
 *   on their own: GridClient.disconnect, rmb_direct_client's disconnect (through its own tfchain
 *   client), which rmb_direct_client also calls when a relay reconnect fails. Only closeGridChain
 *   closes it, at shutdown, with the original.
 */
export function guardGridPackages(): void {
  if (guarded) return;
  guarded = true;
  const { require: fromGrid } = gridRequire();
  const fromRmb = createRequire(fromGrid.resolve('@threefold/rmb_direct_client'));
  type Patchable = { prototype: { disconnectAndExit?: unknown; disconnect?: unknown } };
  const chainClasses = new Set<Patchable>([
    (fromGrid('@threefold/tfchain_client') as { QueryClient: Patchable }).QueryClient,
    (fromRmb('@threefold/tfchain_client') as { QueryClient: Patchable }).QueryClient,
  ]);
  const relayClass = (fromGrid('@threefold/rmb_direct_client') as { Client: Patchable }).Client;
  for (const cls of [...chainClasses, relayClass]) {
    // named so: removeGridSignalHandlers finds its bound copies ("bound disconnectAndExit")
    cls.prototype.disconnectAndExit = function disconnectAndExit(): void {};
  }
  for (const cls of chainClasses) {
    chainDisconnects.set(cls, cls.prototype.disconnect as ChainDisconnect);
    cls.prototype.disconnect = async function disconnect(): Promise<void> {};
  }
  process.on('newListener', (event: string | symbol, listener: (...a: unknown[]) => void) => {
    // called before the listener is added: take it off right after
    if (SIGNALS.has(event) && /\bdisconnectAndExit$/.test(listener.name)) queueMicrotask(() => process.removeListener(event, listener));
  });
}

/** The CJS build of @threefold/grid_client, loaded once, on first use. */
export function loadGridClientPackage(): GridClientPackage {
  if (!loaded) {
    // the CJS build brings @polkadot's CJS copy next to the ESM one src/chain uses: expected
    process.env.POLKADOTJS_DISABLE_ESM_CJS_WARNING ??= '1';
    guardGridPackages();
    const { main, require } = gridRequire();
    loaded = require(main) as GridClientPackage;
    networkLight = (require(path.join(path.dirname(main), 'primitives', 'networklight.js')) as { ZNetworkLight: { deletedContracts: number[] } }).ZNetworkLight;
    RelayClient = (require('@threefold/rmb_direct_client') as { Client: NonNullable<typeof RelayClient> }).Client;
    // Its default "logs" listener console.logs every step of every deployment to stdout.
    for (const l of loaded.events.listeners('logs')) {
      if (l.name === 'logsHandler') loaded.events.removeListener('logs', l);
    }
  }
  return loaded;
}

/**
 * Tells grid_client these contracts are gone, as it tells itself after its own deletes: its
 * modules and networks read their contracts from GraphQL, which lags the chain, and leave out
 * those listed here. Without it, a deploy right after a rollback or a cancel refuses the name
 * ("Another machine deployment with the same name … already exists") and loads the network from a
 * contract that no longer exists (asking its node, which may be the dead one). Process-wide, as
 * grid_client's own lists; a no-op until the package is loaded (fakes, the sim).
 */
export function forgetContracts(ids: Iterable<number>): void {
  if (!loaded) return;
  const lists = [loaded.BaseModule.deletedContracts, loaded.Network.deletedContracts, ...(networkLight ? [networkLight.deletedContracts] : [])];
  for (const id of ids) {
    for (const list of lists) if (!list.includes(id)) list.push(id);
  }
}

// ---- the relay connection ----

/** rmb_direct_client's Client (dist/node/client.js, 2.9.2): what closeRelay touches. */
interface RelayInternals {
  con?: { readyState?: number; CLOSED?: number; CLOSING?: number; close(): void; removeAllListeners?(): void; on?(e: string, f: () => void): void; onmessage?: unknown };
  __pingPongTimeout?: ReturnType<typeof setTimeout>;
  responses?: Map<unknown, unknown>;
  reconnect?: () => void;
  createConnection?: () => void;
}

/** How many GridClients, open or connecting, hold each relay client (rmb_direct_client hands one instance per mnemonic to all). */
const relayHolders = new WeakMap<object, number>();

/**
 * Closes an rmb_direct_client Client's relay websocket, and only that: its own `disconnect` also
 * disconnects its tfchain_client, which closes the process-wide chain socket of that URL (the one
 * every GridClient and the twin registrar use, whose provider then never reconnects; see
 * guardGridPackages), and first waits up to two minutes for responses still due. The ping
 * timer stops, a ping still waiting can no longer reconnect it, its socket closes, and it leaves
 * rmb_direct_client's cache (`Client.connections`, keyed `${relayUrl}:${hexSeed}:${keypairType}`),
 * so the next client of that mnemonic gets a fresh one instead of this closed one.
 */
export function closeRelay(rmb: object): void {
  const r = rmb as RelayInternals;
  if (r.__pingPongTimeout) clearTimeout(r.__pingPongTimeout);
  r.reconnect = () => undefined;
  r.createConnection = () => undefined;
  // a read loop whose envelope is gone ends without calling back (no reconnect, no next ping)
  r.responses?.clear();
  const con = r.con;
  if (con) {
    con.removeAllListeners?.();
    con.onmessage = null;
    // ws emits 'error' when a socket still connecting is closed: with no listener, that would throw
    con.on?.('error', () => undefined);
    if (con.readyState !== con.CLOSED && con.readyState !== con.CLOSING) {
      try {
        con.close();
      } catch {
        // closed already
      }
    }
  }
  const cache = (rmb.constructor as { connections?: Map<unknown, unknown> }).connections;
  if (cache instanceof Map) {
    for (const [key, value] of cache) if (value === rmb) cache.delete(key);
  }
}

/** One more open client holds this relay client. */
export function holdRelay(rmb: object | undefined): void {
  if (rmb) relayHolders.set(rmb, (relayHolders.get(rmb) ?? 0) + 1);
}

/**
 * A client lets go of its relay client (`held`: it counted as a holder). The relay is closed when
 * no client, open or connecting, holds it any more.
 */
export function releaseRelay(rmb: object | undefined, held: boolean): void {
  if (!rmb) return;
  const left = (relayHolders.get(rmb) ?? 0) - (held ? 1 : 0);
  if (left > 0) {
    relayHolders.set(rmb, left);
    return;
  }
  relayHolders.delete(rmb);
  closeRelay(rmb);
}

/**
 * Closes tfchain_client's process-wide chain socket to this URL (every GridClient's, the twin
 * registrar's), with tfchain_client's own disconnect (guardGridPackages took it from the
 * packages): once, at shutdown, when nothing reads the chain through it any more. A no-op when
 * grid_client was never loaded.
 */
export async function closeGridChain(url: string): Promise<void> {
  if (!loaded) return;
  const { QueryClient } = gridRequire().require('@threefold/tfchain_client') as { QueryClient: new (url: string) => object };
  const original = chainDisconnects.get(QueryClient as unknown as { prototype: object });
  await original?.call(new QueryClient(url), url);
}

/**
 * Opens a GridClient for this mnemonic: every service URL from the settings (so grid_client does
 * not probe its own list), sr25519 keys as TFChain accounts use, the deployment timeout from the
 * settings. Throws grid_client's TwinNotExistError when the account has no twin.
 *
 * Its `disconnect` lets go of its relay only (see closeRelay); GridClient's own would close the
 * chain socket every client shares. A client that fails to connect closes its relay, unless
 * another client of the same mnemonic holds it, and never the chain socket.
 *
 * The relay client is held from before `connect`: rmb_direct_client's constructor hands a new
 * GridClient the instance an older client of the mnemonic holds (its cache, keyed by relay URL, hex
 * seed and key type; grid_client keeps the URLs it is given), and the pool opens the new client
 * while the old one, its connection lost, is still leased. Counted only once connected, the old
 * client's last release would close that instance under the connecting one (its connect then fails,
 * or it is left with a dead relay). So the instance connect will get is made (or taken from the
 * cache) and counted here first.
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
    // grid_client 2.9 takes no KYC URL (getDefaultUrls: https://kyc.<network>.grid.tf); see kyc.ts
    // its default secret, given: without one, connect opens a second GridClient per mnemonic to
    // re-encrypt kvstore keys of old clients (helpers/migration.js), which Jukebox never wrote
    storeSecret: pkg.toHexSeed(mnemonic),
    deploymentTimeoutMinutes: settings.deploymentTimeoutMinutes,
    keypairType: 'sr25519',
    projectName,
    // fs under Node: grid_client keeps only caches there now (deployments are listed from GraphQL)
    backendStorageType: 'auto',
  });
  const relay = new RelayClient!(settings.urls.substrate, settings.urls.relay, pkg.toHexSeed(mnemonic), randomBytes(5).toString('hex'), 'sr25519', 5);
  holdRelay(relay);
  try {
    await client.connect();
  } catch (err) {
    releaseRelay(relay, true);
    if (client.rmbClient !== relay) releaseRelay(client.rmbClient, false);
    throw err;
  } finally {
    removeGridSignalHandlers();
  }
  if (client.rmbClient !== relay) {
    // not the instance it was expected to get (never so in 2.9.2): hold its own instead
    holdRelay(client.rmbClient);
    releaseRelay(relay, true);
  }
  let released = false;
  return Object.assign(client, {
    forProject(p: string): ProjectModules {
      const config = { ...client.config, projectName: p };
      return { machines: new pkg.machines(config), zdbs: new pkg.zdbs(config) };
    },
    async disconnect(): Promise<void> {
      if (released) return;
      released = true;
      releaseRelay(client.rmbClient, true);
    },
  });
}

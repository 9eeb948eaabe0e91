/**
 * Pure translations between the Grid port and grid_client's shapes, and the checks grid_client
 * would otherwise make after it has already printed the whole model (env included) to stdout.
 * Units: the port and grid_client agree on memory MB and disks GB; gridproxy speaks bytes;
 * filterNodes takes free GB; the calculator prices GB per month of 24 × 30 hours.
 */
import { createHash } from 'node:crypto';
import { UNITS_PER_TFT, type Units } from '../../domain/money.js';
import {
  GridError,
  type ContractInfo,
  type DeletedCause,
  type ContractState,
  type GridNode,
  type NodeFilter,
  type NodeStatus,
  type Resources,
  type VmDeployment,
  type VmInfo,
  type WorkloadState,
  type ZdbDeployment,
  type ZdbInfo,
} from '../port.js';
import type {
  FilterOptionsShape,
  GqlNodeContractShape,
  MachinesShape,
  ModuleContractShape,
  NodeInfoShape,
  ZdbDataShape,
  ZdbsShape,
  ZmachineDataShape,
} from './client-seam.js';

/** grid_client's NameLength, and its name rules: machines, networks, deployments allow `_`; disks and zdbs do not. */
export const MAX_NAME = 35;
const NAME_UNDERSCORE = /^[A-Za-z0-9_]+$/;
const NAME_ALNUM = /^[A-Za-z0-9]+$/;
/** The same words as the simulated grid, so the product reads one message for a contract in grace. */
export const GRACE_MESSAGE = 'contract is in grace period: workloads are unreachable until funds return';
/** The calculator's month: pricing × 24 × 30. */
export const CALCULATOR_HOURS_PER_MONTH = 720;

const MB = 1024 ** 2;
const GB = 1024 ** 3;
const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;
const isNum = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

function invalid(message: string): never {
  throw new GridError('invalid', message);
}

/** Throws GridError('invalid') unless `name` is 1–35 letters and digits (and `_` when allowed). */
export function validateGridName(what: string, name: string, underscore: boolean): void {
  const rule = underscore ? NAME_UNDERSCORE : NAME_ALNUM;
  if (typeof name !== 'string' || name.length > MAX_NAME || !rule.test(name)) {
    invalid(`${what} "${name}" must be 1–${MAX_NAME} letters or digits${underscore ? ' or underscores' : ''}`);
  }
}

/**
 * A project name must be non-empty (grid_client falls back to "vm/<name>" and stops filtering its
 * recent-contracts cache by project) and free of quotes and backslashes (grid_client pastes it
 * into a GraphQL string).
 */
export function validateProjectName(projectName: string): void {
  if (typeof projectName !== 'string' || projectName.length === 0) invalid('projectName must be a non-empty string');
  if (/["\\\n]/.test(projectName)) invalid(`projectName "${projectName}" must not contain quotes, backslashes or newlines`);
}

function digest(projectName: string, name: string): Buffer {
  return createHash('sha256').update(`${projectName}\n${name}`).digest();
}

/**
 * The private network of one VM deployment. grid_client finds networks by name across the whole
 * twin (not per project), so two deployments of one user must never share one: the name carries a
 * hash of (project, deployment), then the deployment name for people reading the dashboard.
 */
export function networkNameOf(projectName: string, name: string): string {
  return `n${digest(projectName, name).toString('hex').slice(0, 10)}_${name}`.slice(0, MAX_NAME);
}

/** A private /16 for that network, 10.1.0.0 – 10.250.0.0, stable for the deployment. */
export function ipRangeOf(projectName: string, name: string): string {
  return `10.${1 + (digest(projectName, name)[11]! % 250)}.0.0/16`;
}

export function validateVmDeployment(d: VmDeployment): void {
  validateProjectName(d.projectName);
  validateGridName('deployment name', d.name, true);
  if (!Array.isArray(d.machines) || d.machines.length === 0) invalid('a deployment needs at least one machine');
  const names = new Set<string>();
  for (const m of d.machines) {
    validateGridName('machine name', m.name, true);
    if (names.has(m.name)) invalid(`machine name "${m.name}" is used twice`);
    names.add(m.name);
    if (!Number.isSafeInteger(m.nodeId) || m.nodeId < 1) invalid(`machine "${m.name}": nodeId must be a whole number ≥ 1`);
    if (!Number.isSafeInteger(m.cpu) || m.cpu < 1) invalid(`machine "${m.name}": cpu must be a whole number ≥ 1`);
    if (!isNum(m.memoryMb) || m.memoryMb < 256) invalid(`machine "${m.name}": memory must be at least 256 MB`);
    if (!isNum(m.rootfsGb) || m.rootfsGb < 0) invalid(`machine "${m.name}": rootfs size must be ≥ 0 GB`);
    if (typeof m.flist !== 'string' || m.flist.trim() === '') invalid(`machine "${m.name}": flist is required`);
    if (typeof m.entrypoint !== 'string') invalid(`machine "${m.name}": entrypoint must be a string`);
    const disks = new Set<string>();
    for (const disk of m.disks) {
      validateGridName('disk name', disk.name, false);
      if (disks.has(disk.name)) invalid(`machine "${m.name}": disk name "${disk.name}" is used twice`);
      disks.add(disk.name);
      if (!isNum(disk.sizeGb) || disk.sizeGb < 0.25) invalid(`disk "${disk.name}": size must be at least 0.25 GB`);
    }
  }
}

export function validateZdbDeployment(d: ZdbDeployment): void {
  validateProjectName(d.projectName);
  validateGridName('zdb deployment name', d.name, false);
  if (!Array.isArray(d.zdbs) || d.zdbs.length === 0) invalid('a zdb deployment needs at least one zdb');
  const names = new Set<string>();
  for (const z of d.zdbs) {
    validateGridName('zdb name', z.name, false);
    if (names.has(z.name)) invalid(`zdb name "${z.name}" is used twice`);
    names.add(z.name);
    if (!Number.isSafeInteger(z.nodeId) || z.nodeId < 1) invalid(`zdb "${z.name}": nodeId must be a whole number ≥ 1`);
    if (!isNum(z.diskGb) || z.diskGb < 0.25) invalid(`zdb "${z.name}": disk size must be at least 0.25 GB`);
    if (z.mode !== 'seq' && z.mode !== 'user') invalid(`zdb "${z.name}": mode must be seq or user`);
    if (typeof z.password !== 'string' || z.password === '') invalid(`zdb "${z.name}": a password is required`);
  }
}

/** VmDeployment → MachinesModel. No planetary (yggdrasil), no public IPv6, no solution provider. */
export function toMachinesModel(d: VmDeployment): MachinesShape {
  validateVmDeployment(d);
  return {
    name: d.name,
    network: { name: networkNameOf(d.projectName, d.name), ip_range: ipRangeOf(d.projectName, d.name), addAccess: false },
    machines: d.machines.map((m) => ({
      name: m.name,
      node_id: m.nodeId,
      cpu: m.cpu,
      memory: m.memoryMb,
      rootfs_size: m.rootfsGb,
      disks: m.disks.map((disk) => ({ name: disk.name, size: disk.sizeGb, mountpoint: disk.mountpoint })),
      flist: m.flist,
      entrypoint: m.entrypoint,
      env: { ...m.env },
      public_ip: m.publicIp,
      public_ip6: false,
      planetary: false,
      mycelium: m.mycelium,
    })),
    description: `jukebox ${d.projectName}`,
  };
}

export function toZdbsModel(d: ZdbDeployment): ZdbsShape {
  validateZdbDeployment(d);
  return {
    name: d.name,
    zdbs: d.zdbs.map((z) => ({
      name: z.name,
      node_id: z.nodeId,
      mode: z.mode,
      disk_size: z.diskGb,
      publicNamespace: z.publicNamespace,
      password: z.password,
    })),
    description: `jukebox ${d.projectName}`,
  };
}

/**
 * NodeFilter → one page of filterNodes. Free memory, SSD and HDD go as GB; cru goes too, which
 * filterNodes turns into total_cru (zos does not reserve CPUs): free vCPUs are checked on our side
 * (matchesFilter). `healthy` keeps nodes the proxy cannot reach out of deployment searches.
 */
export function toFilterOptions(
  filter: NodeFilter,
  o: { status: NodeStatus; availableFor: number; page: number; size: number },
): FilterOptionsShape {
  const out: FilterOptionsShape = { status: o.status, availableFor: o.availableFor, page: o.page, size: o.size };
  const free = filter.free ?? {};
  if ((free.cru ?? 0) > 0) out.cru = free.cru;
  if ((free.mruMb ?? 0) > 0) out.mru = round6((free.mruMb ?? 0) / 1024);
  if ((free.sruGb ?? 0) > 0) out.sru = free.sruGb;
  if ((free.hruGb ?? 0) > 0) out.hru = free.hruGb;
  if (filter.publicIp) out.publicIPs = true;
  if (filter.country !== undefined) out.country = filter.country;
  if (filter.city !== undefined) out.city = filter.city;
  if (filter.farmId !== undefined) out.farmId = filter.farmId;
  if (filter.excludeNodeIds?.length) out.nodeExclude = [...filter.excludeNodeIds];
  if (o.status === 'up') out.healthy = true;
  return out;
}

function resourcesOf(r: NodeInfoShape['total_resources'] | undefined): Resources {
  return { cru: r?.cru ?? 0, mruMb: round6((r?.mru ?? 0) / MB), sruGb: round6((r?.sru ?? 0) / GB), hruGb: round6((r?.hru ?? 0) / GB) };
}

function nodeStatusOf(s: string): NodeStatus {
  return s === 'up' || s === 'standby' ? s : 'down';
}

/** A gridproxy node → GridNode: bytes to MB / GB, uptime 0 unless up (as the simulated grid). */
export function toGridNode(n: NodeInfoShape): GridNode {
  const status = nodeStatusOf(n.status);
  return {
    nodeId: n.nodeId,
    farmId: n.farmId,
    farmName: n.farmName ?? '',
    country: n.country ?? n.location?.country ?? '',
    city: n.city ?? n.location?.city ?? '',
    status,
    certified: n.certificationType === 'Certified',
    uptimeSec: status === 'up' ? Math.max(0, Math.floor(n.uptime ?? 0)) : 0,
    total: resourcesOf(n.total_resources),
    used: resourcesOf(n.used_resources),
    publicIps: { total: n.publicIps?.total ?? 0, free: n.publicIps?.free ?? 0 },
  };
}

/** Whether anyone may deploy on it: a node rented by a twin, or in a dedicated farm, needs a rent contract we never make. */
export function isDeployable(n: NodeInfoShape): boolean {
  return !n.rented && !(n.rentedByTwinId ?? 0) && !n.dedicated && !n.inDedicatedFarm;
}

const fold = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase();
const RESOURCE_KEYS = ['cru', 'mruMb', 'sruGb', 'hruGb'] as const;

/** The simulated grid's findNodes rules, applied to what the proxy returned (it filters less, or differently). */
export function matchesFilter(node: GridNode, filter: NodeFilter): boolean {
  const wantStatus = filter.status ?? 'up';
  if (filter.nodeIds && !filter.nodeIds.includes(node.nodeId)) return false;
  if (filter.excludeNodeIds?.includes(node.nodeId)) return false;
  if (filter.farmId !== undefined && node.farmId !== filter.farmId) return false;
  if (filter.country !== undefined && fold(node.country) !== fold(filter.country)) return false;
  if (filter.city !== undefined && fold(node.city) !== fold(filter.city)) return false;
  if (wantStatus !== 'any' && node.status !== wantStatus) return false;
  if (filter.publicIp && node.publicIps.free < 1) return false;
  const want = filter.free;
  if (want) {
    for (const k of RESOURCE_KEYS) if ((want[k] ?? 0) > node.total[k] - node.used[k] + 1e-9) return false;
  }
  return true;
}

/** Most free vCPUs first, then by id: the simulated grid's order. */
export function byFreeCpu(a: GridNode, b: GridNode): number {
  return b.total.cru - b.used.cru - (a.total.cru - a.used.cru) || a.nodeId - b.nodeId;
}

/**
 * A zos workload state → WorkloadState. zos has init, ok, unchanged (an update was refused, the
 * workload runs as before), error, deleted and paused (its contract is in grace); a workload with
 * no result yet is init.
 */
export function workloadStateOf(status: string | undefined, message: string | undefined): { state: WorkloadState; message?: string } {
  const msg = message?.trim() ? message.trim() : undefined;
  const withMsg = (state: WorkloadState, fallback?: string) => {
    const m = msg ?? fallback;
    return m === undefined ? { state } : { state, message: m };
  };
  switch (status ?? '') {
    case 'ok':
    case 'unchanged':
      return withMsg('ok');
    case 'init':
    case '':
      return withMsg('init');
    case 'error':
      return withMsg('error', 'the workload failed');
    case 'deleted':
      return withMsg('deleted', 'the workload was deleted');
    case 'paused':
      return withMsg('error', GRACE_MESSAGE);
    default:
      return { state: 'error', message: `unknown workload state "${status}"${msg ? `: ${msg}` : ''}` };
  }
}

/** The contracts of exactly this project and deployment name among a module's listing (grid_client matches project prefixes). */
function exactContracts(listed: ModuleContractShape[] | undefined, projectName: string, name: string): ModuleContractShape[] | undefined {
  return listed?.filter((c) => c.parsedDeploymentData?.projectName === projectName && c.parsedDeploymentData?.name === name);
}

/**
 * Reconciles a module's getObj with its contract listing: workloads of other projects (prefix
 * matches) go, a contract in grace reads as error (its workloads are unreachable), and a live
 * contract whose node did not answer (getObj silently skips it) reads as error instead of vanishing.
 * Without a listing (`listed` undefined) the workloads are taken as they are.
 */
function reconcile<T extends { contractId: number }, I extends { state: WorkloadState; message?: string }>(
  data: T[],
  listed: ModuleContractShape[] | undefined,
  projectName: string,
  name: string,
  toInfo: (d: T) => I,
  missing: (c: ModuleContractShape) => I,
): I[] {
  const exact = exactContracts(listed, projectName, name);
  if (!exact) return data.map(toInfo);
  const byId = new Map(exact.map((c) => [Number(c.contractID), c]));
  const out: I[] = [];
  for (const d of data) {
    const c = byId.get(Number(d.contractId));
    if (!c) continue;
    const info = toInfo(d);
    if (c.state === 'GracePeriod') {
      info.state = 'error';
      info.message = GRACE_MESSAGE;
    }
    out.push(info);
  }
  const seen = new Set(data.map((d) => Number(d.contractId)));
  for (const c of exact) if (!seen.has(Number(c.contractID))) out.push(missing(c));
  return out;
}

const unanswered = (c: ModuleContractShape) => ({
  state: 'error' as const,
  message: `node ${c.nodeID} did not report the workloads of contract ${Number(c.contractID)} (node unreachable or workloads gone)`,
});

function stringEnv(env: Record<string, unknown> | undefined): Record<string, string> | undefined {
  if (!env) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== null) out[k] = String(v);
  return out;
}

export function toVmInfo(z: ZmachineDataShape): VmInfo {
  const info: VmInfo = { name: z.name, nodeId: Number(z.nodeId), contractId: Number(z.contractId), ...workloadStateOf(z.status, z.message) };
  if (z.publicIP?.ip) info.publicIp = z.publicIP.ip;
  if (z.publicIP?.ip6) info.publicIp6 = z.publicIP.ip6;
  if (z.myceliumIP) info.mycelium = z.myceliumIP;
  const privateIp = z.interfaces?.[0]?.ip;
  if (privateIp) info.privateIp = privateIp;
  const env = stringEnv(z.env);
  if (env) info.env = env;
  return info;
}

export function toVmInfos(data: ZmachineDataShape[], listed: ModuleContractShape[] | undefined, projectName: string, name: string): VmInfo[] {
  return reconcile<ZmachineDataShape, VmInfo>(data, listed, projectName, name, toVmInfo, (c) => ({
    name,
    nodeId: c.nodeID,
    contractId: Number(c.contractID),
    ...unanswered(c),
  }));
}

export function toZdbInfo(z: ZdbDataShape): ZdbInfo {
  return {
    name: z.name,
    nodeId: Number(z.nodeId),
    contractId: Number(z.contractId),
    ...workloadStateOf(z.status, z.message),
    namespace: z.resData?.Namespace ?? '',
    ips: [...(z.resData?.IPs ?? [])],
    port: z.resData?.Port ?? 0,
    sizeGb: z.size,
    mode: z.mode === 'user' ? 'user' : 'seq',
  };
}

export function toZdbInfos(data: ZdbDataShape[], listed: ModuleContractShape[] | undefined, projectName: string, name: string): ZdbInfo[] {
  return reconcile<ZdbDataShape, ZdbInfo>(data, listed, projectName, name, toZdbInfo, (c) => ({
    name,
    nodeId: c.nodeID,
    contractId: Number(c.contractID),
    ...unanswered(c),
    namespace: '',
    ips: [],
    port: 0,
    sizeGb: 0,
    mode: 'seq',
  }));
}

/** A node contract as GraphQL lists it, with its metadata parsed. */
export interface ParsedContract {
  contractId: number;
  nodeId: number;
  state: ContractState;
  deletedCause?: DeletedCause;
  /** ms epoch */
  createdAt: number;
  /** the metadata type: vm, zdb, network, network-light (or whatever another tool wrote) */
  kind: string;
  projectName: string;
  name: string;
  publicIps: number;
}

const STATE_OF: Record<string, { state: ContractState; deletedCause?: DeletedCause }> = {
  Created: { state: 'created' },
  GracePeriod: { state: 'grace' },
  Deleted: { state: 'deleted', deletedCause: 'canceled' },
  OutOfFunds: { state: 'deleted', deletedCause: 'out_of_funds' },
};

/** grid_client's contract metadata {version, type, name, projectName}; undefined when it is not that. */
export function parseMetadata(data: string | undefined): { type: string; name: string; projectName: string } | undefined {
  let meta: unknown;
  try {
    meta = JSON.parse(data ?? '');
  } catch {
    return undefined;
  }
  if (meta === null || typeof meta !== 'object') return undefined;
  const m = meta as { type?: unknown; name?: unknown; projectName?: unknown };
  if (typeof m.type !== 'string' || typeof m.name !== 'string') return undefined;
  return { type: m.type, name: m.name, projectName: typeof m.projectName === 'string' ? m.projectName : '' };
}

/** undefined for contracts without grid_client metadata (not ours to list). */
export function parseContract(g: GqlNodeContractShape): ParsedContract | undefined {
  const st = STATE_OF[g.state];
  const m = parseMetadata(g.deploymentData);
  if (!st || !m) return undefined;
  // GraphQL gives seconds; grid_client's own cache of fresh contracts too. Milliseconds pass through.
  const created = Number(g.createdAt);
  const p: ParsedContract = {
    contractId: Number(g.contractID),
    nodeId: Number(g.nodeID),
    state: st.state,
    createdAt: created > 1e12 ? created : created * 1000,
    kind: m.type,
    projectName: m.projectName,
    name: m.name,
    publicIps: Number(g.numberOfPublicIPs ?? 0),
  };
  if (st.deletedCause) p.deletedCause = st.deletedCause;
  return p;
}

const isNetwork = (c: ParsedContract): boolean => c.kind === 'network' || c.kind === 'network-light';

/**
 * What listContracts shows: vm and zdb contracts under the prefix, and network contracts only when
 * they are live and no live VM of their deployment remains on their node. grid_client gives every
 * VM deployment a network contract per node that it neither returns from deploy nor shows in
 * getObj; while its VM lives it is part of that VM (deleting the VM deletes it). Shown alone, it
 * is a leftover the sweeps and reconcile cancel, so no contract the bot made is orphaned for good.
 */
export function selectListed(all: ParsedContract[], prefix: string, includeDeleted: boolean): ParsedContract[] {
  const liveVms = new Set(
    all.filter((c) => c.kind === 'vm' && c.state !== 'deleted').map((c) => `${c.nodeId}\n${networkNameOf(c.projectName, c.name)}\n${c.projectName}`),
  );
  return all.filter((c) => {
    if (!c.projectName.startsWith(prefix)) return false;
    if (c.state === 'deleted' && !includeDeleted) return false;
    if (c.kind === 'vm' || c.kind === 'zdb') return true;
    return isNetwork(c) && c.state !== 'deleted' && !liveVms.has(`${c.nodeId}\n${c.name}\n${c.projectName}`);
  });
}

/** Network contracts that belong to this VM deployment of this project (on one node, or any). */
export function networksOf(all: ParsedContract[], projectName: string, name: string, nodeId?: number): ParsedContract[] {
  const net = networkNameOf(projectName, name);
  return all.filter((c) => isNetwork(c) && c.projectName === projectName && c.name === net && (nodeId === undefined || c.nodeId === nodeId));
}

export function toContractInfo(c: ParsedContract, hourlyCost: Units, graceStartedAt?: number): ContractInfo {
  const info: ContractInfo = {
    contractId: c.contractId,
    nodeId: c.nodeId,
    state: c.state,
    createdAt: c.createdAt,
    projectName: c.projectName,
    deploymentName: c.name,
    type: c.kind === 'zdb' ? 'zdb' : 'vm',
    hourlyCost,
  };
  if (c.deletedCause) info.deletedCause = c.deletedCause;
  if (graceStartedAt !== undefined) info.graceStartedAt = graceStartedAt;
  return info;
}

/** Ceil that ignores float noise (a product that should be 24500 comes out 24500.000000000004). */
function ceilUnits(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) < 1e-6 ? r : Math.ceil(x);
}

/**
 * The calculator's USD per month → integer chain units per hour. The calculator prices a month as
 * 24 × 30 hours, so the hourly price is exactly a 720th; the TFT price is USD per TFT; 1 TFT is
 * 1e7 units; rounded up so an estimate never comes out short.
 */
export function hourlyUnits(usdPerMonth: number, usdPerTft: number): Units {
  if (!isNum(usdPerMonth) || usdPerMonth < 0) throw new GridError('unavailable', `the calculator returned a bad price: ${usdPerMonth}`);
  if (!isNum(usdPerTft) || usdPerTft <= 0) throw new GridError('unavailable', `the chain returned a bad TFT price: ${usdPerTft}`);
  return ceilUnits(((usdPerMonth / CALCULATOR_HOURS_PER_MONTH) * UNITS_PER_TFT) / usdPerTft);
}

/** TFT per hour as getConsumption reports it → units. */
export function tftToUnits(tft: number): Units {
  return isNum(tft) && tft > 0 ? Math.round(tft * UNITS_PER_TFT) : 0;
}

/** Resources in bytes (TFChain's nodeContractResources) → the calculator's GB. */
export function calculatorResourcesOf(used: { cru?: number; mru?: number; sru?: number; hru?: number }): { cru: number; mru: number; sru: number; hru: number } {
  return { cru: used.cru ?? 0, mru: (used.mru ?? 0) / GB, sru: (used.sru ?? 0) / GB, hru: (used.hru ?? 0) / GB };
}

/**
 * How a storage order is laid out: from the usable size U and k data + m parity shards, k + m
 * seq-mode 0-dbs (zstor's data backends) of ceil(U / k) GB plus headroom each, on k + m distinct
 * nodes, and 4 user-mode 0-dbs of 1 GB for zstor's metadata on 4 distinct nodes. Any k of the data
 * backends rebuild every object, so m of them (on m different nodes) can be lost.
 *
 * Also: parsing the size a user types, the grid names of the backends, the secrets the bot makes
 * for an order, and where the planner puts the backends.
 */
import { randomBytes } from 'node:crypto';
import type { StorageSpec } from '../catalog/types.js';
import type { Deployment, NodeInstance, Placement } from '../domain/deployment.js';
import type { Units } from '../domain/money.js';
import type { Resources } from '../grid/port.js';
import type { Plan, PlannedNode } from '../services/planner.js';

/** zstor's metadata is encoded 2 + 2 over exactly 4 user-mode 0-dbs (writes need all 4, reads 2). */
export const META_BACKENDS = 4;
/** zstor: data shards must be below 256 */
const MAX_SHARDS = 255;
/** The most groups of data backends a storage deployment can have (the order's and those /extend adds). */
export const MAX_STORAGE_GROUPS = 4;

export interface Scheme {
  /** k: data shards, how many backends rebuild an object (zstor's minimal_shards) */
  data: number;
  /** m: parity shards, how many backends can be lost (expected_shards = k + m) */
  parity: number;
}

export interface StorageLayout extends Scheme {
  /** what the user asked for, GB */
  usableGb: number;
  /** each data backend, GB: its share of the usable size plus headroom */
  backendGb: number;
  /** each metadata backend, GB */
  metaGb: number;
  /** every backend's disk together: what the grid reserves (and bills) */
  rawGb: number;
}

export type BackendRole = 'data' | 'meta';

/** One 0-db of an order: its place among the deployment's nodes, its grid name, its size and mode. */
export interface BackendSlot {
  /** the NodeInstance index: data backends 1..k+m, then the metadata ones */
  index: number;
  role: BackendRole;
  /** 1-based within its role */
  ordinal: number;
  /** its grid deployment and zdb name (letters and digits only, as zos requires) */
  gridName: string;
  sizeGb: number;
  mode: 'seq' | 'user';
  /** a data backend's group: 1 for the order's, 2 and on for the groups /extend adds */
  group?: number;
  /** how many times this backend was replaced (its grid name carries it) */
  generation?: number;
}

/** What the planner places: one backend's resources (0-db disks are HDD, nothing else). */
export interface BackendSpec {
  title: string;
  resources: Resources;
  publicIpv4: boolean;
}

/** The planner's generic entry point (src/services/planner.ts): `count` distinct nodes that fit `spec`. */
export interface PlansFor {
  planFor(spec: BackendSpec, count: number, placement: Placement, exclude?: number[]): Promise<Plan>;
}

export type StoragePlan = { ok: true; data: PlannedNode[]; meta: PlannedNode[]; hourlyCost: Units } | { ok: false; reason: string };

export function schemeLabel(s: Scheme): string {
  return `${s.data} + ${s.parity}`;
}

/** "100 GB", "1 TB", "1.5 TB", "2,500 GB" (1 TB = 1000 GB, as the grid counts) */
export function formatGb(gb: number): string {
  if (gb >= 1000 && gb % 100 === 0) return `${gb / 1000} TB`;
  return `${gb.toLocaleString('en-US')} GB`;
}

/** The layout of an order; throws on a scheme or size the profile does not offer (the flow checks first). */
export function storageLayout(spec: StorageSpec, usableGb: number, scheme: Scheme): StorageLayout {
  if (!Number.isSafeInteger(usableGb) || usableGb < spec.minGb || usableGb > spec.maxGb) {
    throw new RangeError(`storage size must be a whole number of GB from ${spec.minGb} to ${spec.maxGb}, got ${usableGb}`);
  }
  if (!spec.schemes.some((s) => s.data === scheme.data && s.parity === scheme.parity)) {
    throw new RangeError(`redundancy ${schemeLabel(scheme)} is not offered`);
  }
  if (scheme.data + scheme.parity > MAX_SHARDS) throw new RangeError(`at most ${MAX_SHARDS} shards`);
  const backendGb = Math.ceil(Math.ceil(usableGb / scheme.data) * (1 + spec.headroom));
  return {
    usableGb,
    data: scheme.data,
    parity: scheme.parity,
    backendGb,
    metaGb: spec.metaGb,
    rawGb: backendGb * (scheme.data + scheme.parity) + spec.metaGb * META_BACKENDS,
  };
}

/** How many 0-dbs an order has: k + m data backends and the 4 metadata ones. */
export function backendCount(s: Scheme): number {
  return s.data + s.parity + META_BACKENDS;
}

/** A typed size: "250", "250 GB", "2 TB", "1.5tb". Whole GB only, within the profile's bounds. */
export function parseSizeGb(text: string, spec: StorageSpec): { ok: true; gb: number } | { ok: false; error: string } {
  const bounds = `from ${formatGb(spec.minGb)} to ${formatGb(spec.maxGb)}`;
  // "2,500 GB" groups thousands; "1,5 TB" is a decimal comma
  const m = /^\s*(\d{1,3}(?:,\d{3})+|\d{1,9}(?:[.,]\d{1,6})?)\s*(gb|g|tb|t)?\s*$/i.exec(text.slice(0, 100));
  if (!m) return { ok: false, error: `Please send a size such as <b>250 GB</b> or <b>2 TB</b> (${bounds}), or pick one of the buttons.` };
  const n = Number(/^\d{1,3}(,\d{3})+$/.test(m[1]!) ? m[1]!.replace(/,/g, '') : m[1]!.replace(',', '.'));
  const unit = (m[2] ?? 'gb').toLowerCase();
  const gb = unit.startsWith('t') ? n * 1000 : n;
  if (Math.abs(gb - Math.round(gb)) > 1e-9) return { ok: false, error: `Please give a whole number of GB (1 TB is 1000 GB), ${bounds}.` };
  const whole = Math.round(gb);
  if (whole < spec.minGb) return { ok: false, error: `${formatGb(whole)} is too small: I deploy storage ${bounds}.` };
  if (whole > spec.maxGb) return { ok: false, error: `${formatGb(whole)} is too large: I deploy storage ${bounds}.` };
  return { ok: true, gb: whole };
}

/** What a scheme tolerates, in words: for the redundancy question and the summary. */
export function schemeWords(l: Pick<StorageLayout, 'data' | 'parity'>): string {
  const n = l.data + l.parity;
  return `any ${l.data} of the ${n} data backends rebuild everything, so ${l.parity === 1 ? 'one' : `any ${l.parity}`} of the ${n} nodes can be lost`;
}

/** The grid names of an order's deployments are its name without underscores (zos allows letters and digits only). */
export function gridBase(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, '');
}

/** `<base>d3`, `<base>m2`; from its first replacement on, the generation too: `<base>d3g1`. */
export function backendGridName(name: string, role: BackendRole, ordinal: number, generation = 0): string {
  return `${gridBase(name)}${role === 'data' ? 'd' : 'm'}${ordinal}${generation > 0 ? `g${generation}` : ''}`;
}

/** Every backend of an order, data first (indexes 1..k+m), then the 4 metadata 0-dbs. */
export function backendSlots(name: string, l: StorageLayout): BackendSlot[] {
  const n = l.data + l.parity;
  const data = Array.from({ length: n }, (_, i): BackendSlot => ({
    index: i + 1,
    role: 'data',
    ordinal: i + 1,
    gridName: backendGridName(name, 'data', i + 1),
    sizeGb: l.backendGb,
    mode: 'seq',
    group: 1,
  }));
  const meta = Array.from({ length: META_BACKENDS }, (_, i): BackendSlot => ({
    index: n + i + 1,
    role: 'meta',
    ordinal: i + 1,
    gridName: backendGridName(name, 'meta', i + 1),
    sizeGb: l.metaGb,
    mode: 'user',
  }));
  return [...data, ...meta];
}

/** The ordinal a backend's grid name carries: `<base>d3` and `<base>d3g2` are data backend 3. */
export function backendOrdinal(gridName: string): number {
  const m = /[dm](\d+)(?:g\d+)?$/.exec(gridName);
  if (!m) throw new Error(`${gridName} is not a storage backend's grid name`);
  return Number(m[1]);
}

/** A data backend's group (a metadata backend, or one recorded before groups existed: 1). */
export const groupOf = (z: { group?: number | undefined }): number => z.group ?? 1;

/** How many groups of data backends a storage deployment has: the order's, and one per /extend. */
export function groupCount(nodes: readonly NodeInstance[]): number {
  return Math.max(1, ...nodes.filter((n) => n.state === 'ok' && n.zdb?.role === 'data').map((n) => groupOf(n.zdb!)));
}

/** A storage deployment's layout (one group's), from what its order recorded. */
export function layoutOf(d: Pick<Deployment, 'id' | 'storage'>): StorageLayout {
  const s = d.storage;
  if (!s) throw new Error(`deployment ${d.id} is not a storage deployment`);
  const n = s.data + s.parity;
  return { ...s, rawGb: s.backendGb * n + s.metaGb * META_BACKENDS };
}

/**
 * The k + m data backends of one more group: NodeInstance indexes from `firstIndex` (after every
 * backend the deployment has), data ordinals (grid names) from `firstOrdinal`.
 */
export function groupSlots(name: string, l: StorageLayout, group: number, firstIndex: number, firstOrdinal: number): BackendSlot[] {
  return Array.from({ length: l.data + l.parity }, (_, i): BackendSlot => ({
    index: firstIndex + i,
    role: 'data',
    ordinal: firstOrdinal + i,
    gridName: backendGridName(name, 'data', firstOrdinal + i),
    sizeGb: l.backendGb,
    mode: 'seq',
    group,
  }));
}

/**
 * Places one more group of data backends on k + m distinct nodes away from every node the
 * deployment already uses (`used`). There is no falling back onto those: zstor picks any k + m of
 * all the backends for an object, so two on one node would let one lost node take two shards.
 */
export function planGroup(planner: PlansFor, l: StorageLayout, placement: Placement, used: number[]): Promise<Plan> {
  return planner.planFor(backendSpec(l, 'data'), l.data + l.parity, placement, used);
}

/** What the planner looks for to host one backend of this role. */
export function backendSpec(l: StorageLayout, role: BackendRole): BackendSpec {
  const sizeGb = role === 'data' ? l.backendGb : l.metaGb;
  return {
    title: role === 'data' ? `storage backend (${formatGb(sizeGb)} HDD)` : `storage metadata backend (${formatGb(sizeGb)} HDD)`,
    resources: { cru: 0, mruMb: 0, sruGb: 0, hruGb: sizeGb },
    publicIpv4: false,
  };
}

/**
 * Places an order: the data backends on k + m distinct nodes (the planner spreads them over farms),
 * the metadata ones on 4 distinct nodes, away from the data backends when the grid has room for
 * that (a node lost then costs one shard or one metadata copy, not both), else anywhere that fits.
 */
export async function planStorage(planner: PlansFor, l: StorageLayout, placement: Placement, exclude: number[] = []): Promise<StoragePlan> {
  const data = await planner.planFor(backendSpec(l, 'data'), l.data + l.parity, placement, exclude);
  if (!data.ok) return data;
  const metaSpec = backendSpec(l, 'meta');
  let meta = await planner.planFor(metaSpec, META_BACKENDS, placement, [...exclude, ...data.nodes.map((n) => n.nodeId)]);
  if (!meta.ok) meta = await planner.planFor(metaSpec, META_BACKENDS, placement, exclude);
  if (!meta.ok) return meta;
  return { ok: true, data: data.nodes, meta: meta.nodes, hourlyCost: data.hourlyCost + meta.hourlyCost };
}

/** Names of the secrets the bot makes for a storage order, as kept (sealed) in `inputs._generated`. */
export const SECRET = {
  /** zstor's data encryption key: AES-256, 64 hex */
  key: 'zstorKey',
  /** the metadata's encryption key */
  metaKey: 'zstorMetaKey',
  /** the 0-db password of the backend with this NodeInstance index (a replacement keeps it) */
  password: (index: number) => `zdb:${index}`,
} as const;

/** The secrets of a new order: both encryption keys and a password per backend. */
export function storageSecrets(l: StorageLayout): Record<string, string> {
  const out: Record<string, string> = {
    [SECRET.key]: randomBytes(32).toString('hex'),
    [SECRET.metaKey]: randomBytes(32).toString('hex'),
  };
  for (let i = 1; i <= backendCount(l); i++) out[SECRET.password(i)] = newPassword();
  return out;
}

/** A 0-db password: 32 hex. */
export function newPassword(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Deterministic generation of the simulated grid: farms, nodes, locations, public IPs and capacity.
 *
 * Everything here is a pure function of the seed and the sizes, so the static grid is never
 * persisted: it is regenerated from the seed at every start. Only what changes (contracts, node
 * status overrides, balances...) lives in the sim's state file.
 */
import type { NodeStatus, Resources } from '../port.js';

export interface GenerateOptions {
  seed: number;
  /** default 400 */
  nodes?: number;
  /** default 40 (never more than `nodes`) */
  farms?: number;
}

export interface SimPublicIp {
  /** as grid_client reports it: "185.69.166.12/24" */
  ip: string;
  gateway: string;
  /** rented by another tenant of the grid when the grid was generated */
  usedByOther: boolean;
}

export interface SimFarm {
  farmId: number;
  name: string;
  country: string;
  /** the city most of its nodes are in */
  city: string;
  certified: boolean;
  publicIps: SimPublicIp[];
  /** the farm's IPv6 /48, three hextets: "2a02:1802:5e" */
  ipv6Prefix: string;
}

export interface SimNode {
  nodeId: number;
  farmId: number;
  country: string;
  city: string;
  certified: boolean;
  /** status at generation; the sim can override it at run time */
  status: NodeStatus;
  /** seconds since boot at generation (0 when not up) */
  uptimeSec: number;
  total: Resources;
  /** used by other tenants at generation */
  used: Resources;
  /** the node's public IPv6 /64, four hextets */
  ipv6Prefix: string;
  /** the node's mycelium /64, four hextets, first one in 400::/8 ("4xx") */
  myceliumPrefix: string;
}

export interface GeneratedGrid {
  seed: number;
  farms: SimFarm[];
  nodes: SimNode[];
  /** distinct countries that have at least one node, sorted */
  countries: string[];
}

export const DEFAULT_NODES = 400;
export const DEFAULT_FARMS = 40;

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes integers into one 32-bit seed (for values derived from e.g. (seed, contractId)). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h ^ Math.floor(p / 4294967296), 0x85ebca6b);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** integer in [min, max] */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }
  weighted<T>(items: readonly { value: T; weight: number }[]): T {
    const total = items.reduce((s, i) => s + i.weight, 0);
    let r = this.next() * total;
    for (const i of items) {
      r -= i.weight;
      if (r < 0) return i.value;
    }
    const last = items[items.length - 1];
    if (!last) throw new RangeError('weighted pick from an empty list');
    return last.value;
  }
  shuffle<T>(items: readonly T[]): T[] {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = a[i] as T;
      a[i] = a[j] as T;
      a[j] = t;
    }
    return a;
  }
  /** one IPv6 group as written (no leading zeros) */
  hextet(): string {
    return this.int(0, 0xffff).toString(16);
  }
  hex(digits: number): string {
    let s = '';
    for (let i = 0; i < digits; i++) s += Math.floor(this.next() * 16).toString(16);
    return s;
  }
}

type Region = 'europe' | 'africa' | 'asia' | 'namerica' | 'samerica' | 'oceania' | 'mideast';

interface CountryDef {
  country: string;
  cities: readonly string[];
  region: Region;
  /** how likely extra farms land here (the grid is densest in Belgium and around) */
  weight: number;
}

/** Countries and cities where the grid has nodes (names as gridproxy reports them). */
export const COUNTRIES: readonly CountryDef[] = [
  { country: 'Belgium', cities: ['Ghent', 'Brussels', 'Antwerp'], region: 'europe', weight: 8 },
  { country: 'Netherlands', cities: ['Amsterdam', 'Rotterdam'], region: 'europe', weight: 4 },
  { country: 'Germany', cities: ['Frankfurt', 'Berlin', 'Munich'], region: 'europe', weight: 4 },
  { country: 'Austria', cities: ['Vienna', 'Salzburg'], region: 'europe', weight: 3 },
  { country: 'Switzerland', cities: ['Zurich', 'Geneva'], region: 'europe', weight: 2 },
  { country: 'Finland', cities: ['Helsinki'], region: 'europe', weight: 1 },
  { country: 'France', cities: ['Paris', 'Lille'], region: 'europe', weight: 2 },
  { country: 'United Kingdom', cities: ['London', 'Manchester'], region: 'europe', weight: 2 },
  { country: 'Spain', cities: ['Madrid', 'Barcelona'], region: 'europe', weight: 1 },
  { country: 'Italy', cities: ['Milan', 'Rome'], region: 'europe', weight: 1 },
  { country: 'Norway', cities: ['Oslo'], region: 'europe', weight: 1 },
  { country: 'Czechia', cities: ['Prague', 'Brno'], region: 'europe', weight: 1 },
  { country: 'Portugal', cities: ['Lisbon', 'Porto'], region: 'europe', weight: 1 },
  { country: 'Egypt', cities: ['Cairo', 'Alexandria'], region: 'africa', weight: 2 },
  { country: 'Tanzania', cities: ['Dar es Salaam', 'Arusha', 'Zanzibar'], region: 'africa', weight: 2 },
  { country: 'Kenya', cities: ['Nairobi', 'Mombasa'], region: 'africa', weight: 1 },
  { country: 'Uganda', cities: ['Kampala'], region: 'africa', weight: 1 },
  { country: 'South Africa', cities: ['Johannesburg', 'Cape Town'], region: 'africa', weight: 1 },
  { country: 'United States', cities: ['New York', 'Dallas', 'San Jose'], region: 'namerica', weight: 3 },
  { country: 'Canada', cities: ['Toronto', 'Montreal'], region: 'namerica', weight: 1 },
  { country: 'Brazil', cities: ['São Paulo', 'Rio de Janeiro'], region: 'samerica', weight: 1 },
  { country: 'India', cities: ['Mumbai', 'Bangalore', 'Chennai'], region: 'asia', weight: 2 },
  { country: 'Japan', cities: ['Tokyo', 'Osaka'], region: 'asia', weight: 1 },
  { country: 'Singapore', cities: ['Singapore'], region: 'asia', weight: 1 },
  { country: 'United Arab Emirates', cities: ['Dubai', 'Abu Dhabi'], region: 'mideast', weight: 1 },
  { country: 'Australia', cities: ['Sydney', 'Melbourne'], region: 'oceania', weight: 1 },
];

/** First octets of public IPv4 space as the RIRs hand it out per region (for realistic /24s). */
const FIRST_OCTETS: Record<Region, readonly number[]> = {
  europe: [185, 193, 194, 195, 212, 213, 217, 62, 77, 78, 80, 81, 82, 83, 84, 85, 87, 88, 89, 91, 92, 94, 95],
  africa: [41, 102, 105, 154, 196, 197],
  asia: [1, 14, 27, 43, 49, 59, 101, 103, 110, 119, 122, 133, 175, 180, 202, 203, 210, 211],
  namerica: [23, 24, 45, 50, 64, 66, 67, 69, 71, 72, 96, 104, 107, 162, 173, 198, 199, 204, 206, 208, 216],
  samerica: [177, 179, 181, 186, 187, 189, 190, 191, 200, 201],
  oceania: [1, 27, 101, 103, 110, 203],
  mideast: [5, 31, 37, 46, 94, 185, 213],
};

const FARM_STEMS = [
  'greenedge', 'bluecloud', 'tfcloud', 'nodeforge', 'gridhub', 'solarnode', 'riverbit', 'alpinegrid',
  'kilimanjaro', 'nilenodes', 'sakuracloud', 'northstar', 'datagarden', 'coolcube', 'ecofarm', 'openfarm',
  'peerhaus', 'meshworks', 'cubefarm', 'bitmill', 'stackfarm', 'treefarm', 'edgefarm', 'fjordgrid',
  'sunrise', 'harbornode', 'terranode', 'lakeside', 'oasis', 'monsoon', 'threefold-hub', 'capacitor',
  'zerofarm', 'stoneridge', 'quietrack', 'humblebee', 'fairgrid', 'baobab', 'cedarnet', 'polarbit',
];

/** Hardware profiles seen on the grid (from a DIY desktop to a full rack server). */
const PROFILES: readonly {
  weight: number;
  cru: readonly number[];
  mruGb: readonly number[];
  sruGb: readonly number[];
  hruGb: readonly number[];
}[] = [
  { weight: 15, cru: [4], mruGb: [8, 16], sruGb: [250, 500], hruGb: [0, 0, 2000] },
  { weight: 25, cru: [8, 12], mruGb: [16, 32], sruGb: [500, 1000], hruGb: [0, 4000] },
  { weight: 20, cru: [8, 16], mruGb: [32, 64], sruGb: [1000], hruGb: [0] },
  { weight: 30, cru: [16, 24, 32], mruGb: [64, 128, 256], sruGb: [1000, 2000, 4000], hruGb: [0, 8000, 16000] },
  { weight: 10, cru: [48, 64], mruGb: [256, 384, 512], sruGb: [2000, 4000], hruGb: [16000, 24000, 40000] },
];

export function slug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function positiveInt(n: number | undefined, fallback: number, what: string): number {
  const v = n ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${v}`);
  return v;
}

/** Generates the static grid. Same options, same grid, on any machine. */
export function generateGrid(opts: GenerateOptions): GeneratedGrid {
  if (!Number.isSafeInteger(opts.seed)) throw new RangeError(`seed must be an integer, got ${opts.seed}`);
  const nodeCount = positiveInt(opts.nodes, DEFAULT_NODES, 'nodes');
  const farmCount = Math.min(positiveInt(opts.farms, DEFAULT_FARMS, 'farms'), nodeCount);
  const rng = new Rng(mixSeed(opts.seed, 0x6772_6964));

  // Countries: farm 1 is freefarm in Belgium; the next farms cover distinct countries, the rest
  // land where the grid is dense.
  const belgium = COUNTRIES[0] as CountryDef;
  const others = rng.shuffle(COUNTRIES.slice(1));
  const farmCountries: CountryDef[] = [belgium];
  for (let i = 1; i < farmCount; i++) {
    const distinct = others[i - 1];
    farmCountries.push(distinct ?? rng.weighted(COUNTRIES.map((c) => ({ value: c, weight: c.weight }))));
  }

  const stems = rng.shuffle(FARM_STEMS);
  const usedNames = new Set<string>();
  const usedSubnets = new Set<string>();
  const farms: SimFarm[] = farmCountries.map((c, i) => {
    const farmId = i + 1;
    const city = i === 0 ? 'Ghent' : rng.pick(c.cities);
    let name: string;
    if (i === 0) name = 'freefarm';
    else {
      const stem = stems[(i - 1) % stems.length] as string;
      const base = rng.chance(0.35) ? stem : `${stem}-${slug(city)}`;
      name = base;
      for (let n = 2; usedNames.has(name); n++) name = `${base}${n}`;
    }
    usedNames.add(name);

    let count = 0;
    if (i === 0) count = 24;
    else if (!rng.chance(0.4)) count = rng.int(2, 30);
    const publicIps: SimPublicIp[] = [];
    if (count > 0) {
      let subnet = i === 0 ? '185.69.166' : '';
      while (subnet === '' || usedSubnets.has(subnet)) {
        subnet = `${rng.pick(FIRST_OCTETS[c.region])}.${rng.int(1, 254)}.${rng.int(0, 255)}`;
      }
      usedSubnets.add(subnet);
      const start = rng.int(2, 254 - count);
      for (let k = 0; k < count; k++) {
        publicIps.push({ ip: `${subnet}.${start + k}/24`, gateway: `${subnet}.1`, usedByOther: rng.chance(0.3) });
      }
    }
    const ipv6Prefix = i === 0 ? '2a02:1802:5e' : `2a${rng.hex(2)}:${rng.int(0x1000, 0xffff).toString(16)}:${rng.int(1, 0xfff).toString(16)}`;
    return { farmId, name, country: c.country, city, certified: i === 0 ? true : rng.chance(0.25), publicIps, ipv6Prefix };
  });

  // Nodes per farm: at least one each, the rest spread with uneven weights (freefarm is big).
  const weights = farms.map((f, i) => ({ value: i, weight: i === 0 ? 12 : 0.5 + rng.float() * rng.float() * 6 }));
  const farmOfNode: number[] = farms.map((_, i) => i);
  for (let k = farms.length; k < nodeCount; k++) farmOfNode.push(rng.weighted(weights));
  const order = rng.shuffle(farmOfNode);

  const profilePick = PROFILES.map((p) => ({ value: p, weight: p.weight }));
  const nodes: SimNode[] = order.map((farmIndex, k) => {
    const farm = farms[farmIndex] as SimFarm;
    const def = COUNTRIES.find((c) => c.country === farm.country) as CountryDef;
    const city = rng.chance(0.7) ? farm.city : rng.pick(def.cities);
    const p = rng.weighted(profilePick);
    const total: Resources = {
      cru: rng.pick(p.cru),
      mruMb: rng.pick(p.mruGb) * 1024,
      sruGb: rng.pick(p.sruGb),
      hruGb: rng.pick(p.hruGb),
    };
    const used: Resources = { cru: 0, mruMb: 0, sruGb: 0, hruGb: 0 };
    if (rng.chance(0.35)) {
      used.cru = Math.floor(rng.float() * 0.7 * total.cru);
      used.mruMb = Math.floor(rng.float() * 0.7 * (total.mruMb / 1024)) * 1024;
      used.sruGb = Math.floor(rng.float() * 0.6 * total.sruGb);
      used.hruGb = Math.floor(rng.float() * 0.5 * total.hruGb);
    }
    const r = rng.float();
    const status: NodeStatus = r < 0.05 ? 'down' : r < 0.08 ? 'standby' : 'up';
    const uptimeSec = status === 'up' ? rng.int(3600, 400 * 86400) : 0;
    const nodeId = k + 1;
    return {
      nodeId,
      farmId: farm.farmId,
      country: farm.country,
      city,
      certified: farm.certified,
      status,
      uptimeSec,
      total,
      used,
      ipv6Prefix: `${farm.ipv6Prefix}:${nodeId.toString(16)}`,
      myceliumPrefix: `4${rng.hex(2)}:${rng.hextet()}:${rng.hextet()}:${rng.hextet()}`,
    };
  });

  const countries = [...new Set(nodes.map((n) => n.country))].sort();
  return { seed: opts.seed, farms, nodes, countries };
}

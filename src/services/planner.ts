/**
 * Node selection: which grid nodes can host a node spec, where, at what price, and, when nothing
 * fits, why not and where else it would.
 *
 * The rules:
 * - A candidate is up, has the spec's resources free with headroom (10 % more memory, SSD and HDD
 *   than asked, so a node is never filled to the last byte; CPU is shared, so none there), and a free
 *   public IPv4 when the spec needs one.
 * - Public IPv4s belong to farms, so a plan counts the IPs it takes itself: a farm with one free IP
 *   hosts at most one instance that needs one, however many of its nodes have room.
 * - Instances of one deployment go to distinct nodes, and to distinct farms where possible: farms
 *   take turns (round-robin) in score order, and a farm gets a second instance only once every farm
 *   with room has one. A farm outage then takes down as few instances as it can.
 * - Candidates are ranked by `scoreOf` (below).
 *
 * Grid calls are few on purpose: `findNodes` is grid_client's `capacity.filterNodes`, a query to the
 * grid proxy. A plan or a suggestion is one call with every requirement as a filter; only when it
 * cannot be made does the explanation ask again, more loosely, and filter in memory.
 */
import type { NodeProfile } from '../catalog/index.js';
import { resourcesOf } from '../catalog/index.js';
import { placementLabel, type Placement } from '../domain/deployment.js';
import type { Units } from '../domain/money.js';
import type { Grid, GridNode, NodeFilter, Resources } from '../grid/port.js';

/** What one instance needs from a node: a VM of a profile's size, or a 0-db backend's disk. */
export interface NodeSpec {
  /** what the user calls it, in reasons: "a Dash full node" */
  title: string;
  resources: Resources;
  publicIpv4: boolean;
  /** only certified nodes (the user chose "Certified only"; replacements keep to it) */
  certifiedOnly?: boolean;
}

/** The spec of a profile at one of its sizes (the default when absent or unknown). */
export function specOf(profile: NodeProfile, sizeId?: string): NodeSpec {
  return { title: profile.title, resources: resourcesOf(profile, sizeId), publicIpv4: profile.publicIpv4 };
}

export interface PlannedNode {
  nodeId: number;
  farmId: number;
  country: string;
  city: string;
  certified: boolean;
  hourlyCost: Units;
}

export type Plan = { ok: true; nodes: PlannedNode[]; hourlyCost: Units } | { ok: false; reason: string };

/** One of the plans `suggest` offers, with what the user chooses by. */
export type PlanOption = Extract<Plan, { ok: true }> & {
  /** "Recommended", "Cheapest" or "Certified only" */
  label: string;
  /** how many distinct farms the nodes are on */
  farms: number;
  /** the nodes' countries, sorted, once each */
  countries: string[];
};

/** A placement that could take the whole order instead, with how many instances it has room for. */
export interface Alternative {
  placement: Placement;
  label: string;
  nodes: number;
}

export type Suggestion = { ok: true; options: PlanOption[] } | { ok: false; reason: string; alternatives: Alternative[] };

export interface Explanation {
  reason: string;
  alternatives: Alternative[];
}

/** Where the "where" step can offer: each entry has room for the whole order. */
export interface Places {
  countries: { country: string; nodes: number }[];
  cities: { country: string; city: string; nodes: number }[];
  farms: { farmId: number; farmName: string; nodes: number; certified: boolean }[];
}

/** A spec, or a profile (with the size passed alongside). */
export type SpecOrProfile = NodeSpec | NodeProfile;

/** Headroom kept on a node's memory and disks so we don't fill it to the last byte. */
const HEADROOM = 1.1;
/** Alternatives offered when a placement cannot take an order. */
const MAX_ALTERNATIVES = 5;

// ---------------------------------------------------------------------------------------------
// Scoring

/**
 * How much each quality counts; every quality is first brought to 0..1.
 *
 *   score = 0.30 × uptime + 0.25 × price + 0.15 × certified + 0.20 × headroom + 0.10 × publicIps
 *
 * - uptime: uptimeSec / 30 days, capped at 1. A node up for a month has shown it stays up; beyond
 *   that, longer says little more, and a freshly rebooted node is the riskiest.
 * - price: cheapest candidate's hourly cost / this node's (1 for the cheapest). Certified nodes cost
 *   25 % more on the grid, which is 0.8 here: −0.05 against certified's +0.15, so with all else equal
 *   a certified node wins, but a month's more uptime or a lot more room outweighs it.
 * - certified: 1 or 0; certified hardware in a certified farm is the reliability the grid vouches for.
 * - headroom: the node's free share after placing, on the tightest resource the spec uses
 *   ((free − need) / total, the minimum over the resources it asks for). A roomy node is less likely
 *   to refuse the deployment because someone else filled it meanwhile, and leaves room to grow.
 * - publicIps: only when the spec needs one: the farm's free IPs / 5, capped at 1. A farm with a few
 *   spare IPs is less likely to run out between the plan and the deployment.
 * Ties go to the lower node id, so a plan is deterministic.
 */
export const SCORE_WEIGHTS = { uptime: 0.3, price: 0.25, certified: 0.15, headroom: 0.2, publicIps: 0.1 } as const;
/** Uptime counts up to this, then saturates. */
export const UPTIME_SATURATION_SEC = 30 * 86_400;
/** Free public IPs count up to this, then saturate. */
export const PUBLIC_IPS_SATURATION = 5;

const RESOURCE_KEYS = ['cru', 'mruMb', 'sruGb', 'hruGb'] as const;
type ResourceKey = (typeof RESOURCE_KEYS)[number];

/** Rounds up, ignoring float noise: 20 GB × 1.1 is 22.000000000000004, which is 22, not 23. */
const ceil = (x: number): number => Math.ceil(Math.round(x * 1e6) / 1e6);

/** What a node must have free for these resources: the resources plus headroom (none on CPU). */
function neededFree(r: Resources): Resources {
  return {
    cru: r.cru,
    mruMb: ceil(r.mruMb * HEADROOM),
    sruGb: ceil(r.sruGb * HEADROOM),
    hruGb: ceil(r.hruGb * HEADROOM),
  };
}

const freeOf = (n: GridNode, k: ResourceKey): number => n.total[k] - n.used[k];
/** Float noise in the grid's numbers (the sim rounds to 6 decimals) must not refuse an exact fit. */
const EPS = 1e-6;
const hasFree = (n: GridNode, k: ResourceKey, need: Resources): boolean => need[k] <= freeOf(n, k) + EPS;
const fits = (n: GridNode, need: Resources): boolean => RESOURCE_KEYS.every((k) => hasFree(n, k, need));

/** The node's free share after placing the spec, on the tightest resource the spec uses (1 if it uses none). */
function headroomAfter(n: GridNode, r: Resources): number {
  let share = 1;
  for (const k of RESOURCE_KEYS) {
    if (r[k] <= 0) continue;
    share = Math.min(share, n.total[k] > 0 ? Math.max(0, (freeOf(n, k) - r[k]) / n.total[k]) : 0);
  }
  return share;
}

/** A node's score for a spec (see SCORE_WEIGHTS): `cost` is its hourly cost, `cheapest` the lowest among the candidates. */
export function scoreOf(n: GridNode, spec: NodeSpec, cost: Units, cheapest: Units): number {
  const w = SCORE_WEIGHTS;
  const uptime = Math.min(Math.max(n.uptimeSec, 0) / UPTIME_SATURATION_SEC, 1);
  const price = cost > 0 ? cheapest / cost : 1;
  const certified = n.certified ? 1 : 0;
  const headroom = headroomAfter(n, spec.resources);
  const ips = spec.publicIpv4 ? Math.min(n.publicIps.free, PUBLIC_IPS_SATURATION) / PUBLIC_IPS_SATURATION : 0;
  return w.uptime * uptime + w.price * price + w.certified * certified + w.headroom * headroom + w.publicIps * ips;
}

interface Candidate {
  node: GridNode;
  cost: Units;
  score: number;
}

type Order = (a: Candidate, b: Candidate) => number;
const byScore: Order = (a, b) => b.score - a.score || a.node.nodeId - b.node.nodeId;
const byCost: Order = (a, b) => a.cost - b.cost || byScore(a, b);

// ---------------------------------------------------------------------------------------------
// Choosing nodes

/**
 * Up to `count` distinct nodes in `order`, spread over farms: each round gives every farm that still
 * has a node (and, when IPs are needed, a free IP) its next one, best first, so a farm repeats only
 * once all farms are used. Farm IPs taken by the plan itself are counted.
 */
function pick(cands: Candidate[], count: number, needsIp: boolean, order: Order): Candidate[] {
  const queues = groupBy([...cands].sort(order), (c) => c.node.farmId);
  const ipsLeft = farmIps(cands.map((c) => c.node));
  const chosen: Candidate[] = [];
  while (chosen.length < count) {
    const round: Candidate[] = [];
    for (const [farmId, queue] of queues) {
      if (needsIp && (ipsLeft.get(farmId) ?? 0) < 1) continue;
      const next = queue.shift();
      if (next) round.push(next);
    }
    if (round.length === 0) break;
    for (const c of round.sort(order)) {
      if (chosen.length >= count) break;
      chosen.push(c);
      if (needsIp) ipsLeft.set(c.node.farmId, (ipsLeft.get(c.node.farmId) ?? 0) - 1);
    }
  }
  return chosen;
}

/** Items by key, in their order, keys in order of first appearance. */
function groupBy<T, K>(items: Iterable<T>, key: (t: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = m.get(k);
    if (list) list.push(t);
    else m.set(k, [t]);
  }
  return m;
}

/** Free public IPs per farm (a node reports its farm's; the lowest report wins, to be safe). */
function farmIps(nodes: GridNode[]): Map<number, number> {
  const ips = new Map<number, number>();
  for (const n of nodes) ips.set(n.farmId, Math.min(ips.get(n.farmId) ?? Infinity, n.publicIps.free));
  return ips;
}

/** How many instances these nodes (all usable) can take: one per node, and per farm no more than its free IPs when needed. */
function capacityOf(nodes: GridNode[], needsIp: boolean): number {
  if (!needsIp) return nodes.length;
  const perFarm = new Map<number, number>();
  for (const n of nodes) perFarm.set(n.farmId, (perFarm.get(n.farmId) ?? 0) + 1);
  const ips = farmIps(nodes);
  let total = 0;
  for (const [farmId, count] of perFarm) total += Math.min(count, Math.max(0, ips.get(farmId) ?? 0));
  return total;
}

// ---------------------------------------------------------------------------------------------
// Placements

/** The grid's own matching of names: case, accents and surrounding spaces do not count. */
const fold = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase();

function placementFilter(p: Placement): NodeFilter {
  switch (p.kind) {
    case 'random':
      return {};
    case 'country':
      return { country: p.country };
    case 'city':
      return { country: p.country, city: p.city };
    case 'farm':
      return { farmId: p.farmId };
  }
}

function inPlacement(n: GridNode, p: Placement): boolean {
  switch (p.kind) {
    case 'random':
      return true;
    case 'country':
      return fold(n.country) === fold(p.country);
    case 'city':
      return fold(n.country) === fold(p.country) && fold(n.city) === fold(p.city);
    case 'farm':
      return n.farmId === p.farmId;
  }
}

/** "in Belgium", "in farm Freefarm (1)", "on the grid" */
const inWords = (p: Placement): string => (p.kind === 'random' ? 'on the grid' : `in ${placementLabel(p)}`);
/** "Belgium", "farm Freefarm (1)", "the grid" */
const subject = (p: Placement): string => (p.kind === 'random' ? 'the grid' : placementLabel(p));

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function memory(mb: number): string {
  if (mb < 1024) return `${mb} MB`;
  const gb = mb / 1024;
  return `${Number.isInteger(gb) ? gb : gb.toFixed(1)} GB`;
}

const disk = (gb: number): string => `${gb.toLocaleString('en-US')} GB`;

/** One resource of a spec in words, for "no node … has X": "4 free vCPUs", "8 GB of free memory". */
function freeInWords(k: ResourceKey, r: Resources): string {
  switch (k) {
    case 'cru':
      return plural(r.cru, 'free vCPU');
    case 'mruMb':
      return `${memory(r.mruMb)} of free memory`;
    case 'sruGb':
      return `${disk(r.sruGb)} of free SSD`;
    case 'hruGb':
      return `${disk(r.hruGb)} of free HDD`;
  }
}

/** The resources a spec asks for, in words: "4 vCPUs, 8 GB of memory and 100 GB of SSD". */
function resourcesInWords(r: Resources): string {
  const parts: string[] = [];
  if (r.cru > 0) parts.push(plural(r.cru, 'vCPU'));
  if (r.mruMb > 0) parts.push(`${memory(r.mruMb)} of memory`);
  if (r.sruGb > 0) parts.push(`${disk(r.sruGb)} of SSD`);
  if (r.hruGb > 0) parts.push(`${disk(r.hruGb)} of HDD`);
  return parts.length <= 1 ? (parts[0] ?? 'nothing') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

const article = (title: string): string => (/^[aeiou]/i.test(title) ? `an ${title}` : `a ${title}`);

/**
 * Why `count` instances of `spec` do not fit in `placement`, given every node there whatever its
 * state (`here`, without the excluded ones). One requirement at a time, in the order a user can act
 * on: is any node up, does any have the room, does any with room have a public IPv4, and are there
 * enough of them.
 */
function reasonFor(spec: NodeSpec, count: number, placement: Placement, others: boolean, here: GridNode[]): string {
  const where = inWords(placement);
  const node = others ? 'other node' : 'node';
  if (here.length === 0) {
    return placement.kind === 'random' ? `the grid has no ${node} available` : `the grid has no ${node} ${where}`;
  }
  const up = here.filter((n) => n.status === 'up');
  if (up.length === 0) return `no ${node} ${where} is up`;

  const need = neededFree(spec.resources);
  const roomy = up.filter((n) => fits(n, need));
  if (roomy.length === 0) {
    // name what no node has at all; if each is somewhere but never together, say so
    const lacking = RESOURCE_KEYS.filter((k) => spec.resources[k] > 0 && !up.some((n) => hasFree(n, k, need)));
    if (lacking.length > 0) return `no ${node} ${where} has ${lacking.map((k) => freeInWords(k, spec.resources)).join(' or ')}`;
    return `no ${node} ${where} has ${resourcesInWords(spec.resources)} free at once`;
  }

  let usable = roomy;
  if (spec.publicIpv4) {
    usable = roomy.filter((n) => n.publicIps.free >= 1);
    if (usable.length === 0) {
      return up.some((n) => n.publicIps.free >= 1)
        ? `no ${node} ${where} with room for ${article(spec.title)} has a free public IPv4`
        : `no ${node} ${where} has a free public IPv4`;
    }
  }
  return shortReason(spec, count, placement, others, usable);
}

/** Some nodes are usable, but not enough for the order. */
function shortReason(spec: NodeSpec, count: number, placement: Placement, others: boolean, usable: GridNode[]): string {
  const who = subject(placement);
  const other = others ? 'other ' : '';
  const fit = capacityOf(usable, spec.publicIpv4);
  if (spec.publicIpv4 && fit < usable.length) {
    // enough nodes, but their farms have too few free IPs between them
    return `${who} has room for only ${plural(fit, `${other}node`)} with a public IPv4 (a farm's free IPs are shared by its nodes), and you asked for ${count}`;
  }
  const what = spec.publicIpv4 ? 'with room and a free public IPv4' : 'with room';
  return `${who} has only ${plural(fit, `${other}node`)} ${what}, and you asked for ${count}`;
}

// ---------------------------------------------------------------------------------------------

export class Planner {
  constructor(private readonly grid: Grid) {}

  /** The filter asking the grid for every node that can take one instance of the spec. */
  private usableFilter(spec: NodeSpec, placement: Placement, exclude: number[]): NodeFilter {
    return {
      free: neededFree(spec.resources),
      ...(spec.publicIpv4 ? { publicIp: true } : {}),
      ...placementFilter(placement),
      status: 'up',
      excludeNodeIds: exclude,
    };
  }

  /** Nodes that can take one instance, in the placement; checked again here, so a loose grid filter cannot let a wrong one through. */
  private async usable(spec: NodeSpec, placement: Placement, exclude: number[]): Promise<GridNode[]> {
    const excluded = new Set(exclude);
    const need = neededFree(spec.resources);
    const nodes = await this.grid.findNodes(this.usableFilter(spec, placement, exclude));
    return nodes.filter(
      (n) =>
        !excluded.has(n.nodeId) &&
        inPlacement(n, placement) &&
        n.status === 'up' &&
        fits(n, need) &&
        (!spec.publicIpv4 || n.publicIps.free >= 1),
    );
  }

  /** Prices and scores the nodes: one hourlyCost call per certified flag present, not per node. */
  private async scored(spec: NodeSpec, nodes: GridNode[]): Promise<Candidate[]> {
    const costs = new Map<boolean, Units>();
    for (const certified of new Set(nodes.map((n) => n.certified))) {
      costs.set(certified, await this.grid.hourlyCost({ ...spec.resources, publicIps: spec.publicIpv4 ? 1 : 0, certified }));
    }
    const cheapest = Math.min(...costs.values());
    return nodes.map((node) => {
      const cost = costs.get(node.certified)!;
      return { node, cost, score: scoreOf(node, spec, cost, cheapest) };
    });
  }

  private async candidates(spec: NodeSpec, placement: Placement, exclude: number[]): Promise<Candidate[]> {
    return this.scored(spec, await this.usable(spec, placement, exclude));
  }

  /** Where `count` instances fit: countries and cities with room for all of them, and farms with room for all. */
  async places(what: SpecOrProfile, count: number, size?: string): Promise<Places> {
    const spec = toSpec(what, size);
    const nodes = await this.usable(spec, { kind: 'random' }, []);
    const group = <K>(key: (n: GridNode) => K): Map<K, GridNode[]> => groupBy(nodes, key);
    const fitting = <K>(m: Map<K, GridNode[]>) =>
      [...m.values()].map((list) => ({ list, nodes: capacityOf(list, spec.publicIpv4) })).filter((x) => x.nodes >= count);
    const byName = (a: string, b: string): number => a.localeCompare(b);
    return {
      countries: fitting(group((n) => n.country))
        .map(({ list, nodes }) => ({ country: list[0]!.country, nodes }))
        .sort((a, b) => byName(a.country, b.country)),
      cities: fitting(group((n) => `${n.country}\u0000${n.city}`))
        .map(({ list, nodes }) => ({ country: list[0]!.country, city: list[0]!.city, nodes }))
        .sort((a, b) => byName(a.country, b.country) || byName(a.city, b.city)),
      farms: fitting(group((n) => n.farmId))
        .map(({ list, nodes }) => ({
          farmId: list[0]!.farmId,
          farmName: list[0]!.farmName,
          nodes,
          // certified only if every node it has with room is
          certified: list.every((n) => n.certified),
        }))
        .sort((a, b) => byName(a.farmName, b.farmName) || a.farmId - b.farmId),
    };
  }

  /** Countries that can take `count` nodes of this profile, with how many they can take. */
  async countries(profile: NodeProfile, count: number, size?: string): Promise<{ country: string; nodes: number }[]> {
    return (await this.places(profile, count, size)).countries;
  }

  async plan(profile: NodeProfile, count: number, placement: Placement, exclude: number[] = [], size?: string, certifiedOnly = false): Promise<Plan> {
    return this.planFor({ ...specOf(profile, size), ...(certifiedOnly ? { certifiedOnly } : {}) }, count, placement, exclude);
  }

  /** The best `count` nodes for the spec in the placement, avoiding `exclude`; or why there are none. */
  async planFor(spec: NodeSpec, count: number, placement: Placement, exclude: number[] = []): Promise<Plan> {
    checkCount(count);
    const cands = (await this.candidates(spec, placement, exclude)).filter((c) => !spec.certifiedOnly || c.node.certified);
    const chosen = pick(cands, count, spec.publicIpv4, byScore);
    if (chosen.length === count) return planOf(chosen);
    if (spec.certifiedOnly) return { ok: false, reason: `not enough certified nodes${placement.kind === 'random' ? '' : ` in ${placementLabel(placement)}`} have room (you chose certified nodes only)` };
    // some nodes are usable: the count is the problem, and no other call is needed to say so
    if (cands.length > 0) return { ok: false, reason: shortReason(spec, count, placement, exclude.length > 0, cands.map((c) => c.node)) };
    return { ok: false, reason: reasonFor(spec, count, placement, exclude.length > 0, await this.everyNode(placement, exclude)) };
  }

  /**
   * Up to three distinct ways to place the order: the best score, the lowest total cost (still spread
   * over farms), and certified nodes only. Or, when none can be made, why and where else it fits.
   */
  async suggest(what: SpecOrProfile, count: number, placement: Placement, exclude: number[] = [], size?: string): Promise<Suggestion> {
    checkCount(count);
    const spec = toSpec(what, size);
    const cands = await this.candidates(spec, placement, exclude);
    const tries: [string, Candidate[], Order][] = [
      ['Recommended', cands, byScore],
      ['Cheapest', cands, byCost],
      ['Certified only', cands.filter((c) => c.node.certified), byScore],
    ];
    const seen = new Set<string>();
    const options: PlanOption[] = [];
    for (const [label, pool, order] of tries) {
      const chosen = pick(pool, count, spec.publicIpv4, order);
      if (chosen.length < count) continue;
      const key = chosen
        .map((c) => c.node.nodeId)
        .sort((a, b) => a - b)
        .join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      const plan = planOf(chosen);
      options.push({
        ...plan,
        label,
        farms: new Set(chosen.map((c) => c.node.farmId)).size,
        countries: [...new Set(chosen.map((c) => c.node.country))].sort((a, b) => a.localeCompare(b)),
      });
    }
    if (options.length > 0) return { ok: true, options };
    return { ok: false, ...(await this.explainFor(spec, count, placement, exclude, cands)) };
  }

  /** Why `count` instances cannot go to the placement, and the nearest placements that could take them. */
  async explain(what: SpecOrProfile, count: number, placement: Placement, exclude: number[] = [], size?: string): Promise<Explanation> {
    checkCount(count);
    return this.explainFor(toSpec(what, size), count, placement, exclude);
  }

  /**
   * `usableHere`, when the caller already asked for the usable nodes of the placement, spares a
   * call when they show the problem is their number.
   *
   * Nearest alternatives: the grid gives no coordinates, only country and city names, so "near" can
   * only mean "same country": for a city, the other cities of its country, then the country as a
   * whole; for a farm, its own country first. Beyond that, countries are offered most room first.
   */
  private async explainFor(
    spec: NodeSpec,
    count: number,
    placement: Placement,
    exclude: number[],
    usableHere?: Candidate[],
  ): Promise<Explanation> {
    const others = exclude.length > 0;
    const excluded = new Set(exclude);
    const need = neededFree(spec.resources);
    const usable = (n: GridNode): boolean =>
      !excluded.has(n.nodeId) && n.status === 'up' && fits(n, need) && (!spec.publicIpv4 || n.publicIps.free >= 1);

    if (placement.kind === 'city') {
      // one call serves both: the city's nodes to find the reason, its country's for the alternatives
      const country: Placement = { kind: 'country', country: placement.country };
      const pool = await this.everyNode(country, exclude);
      const reason = reasonFor(spec, count, placement, others, pool.filter((n) => inPlacement(n, placement)));
      const cities = groupBy(
        pool.filter((n) => usable(n) && !inPlacement(n, placement)),
        (n) => fold(n.city),
      );
      const alternatives: Alternative[] = rankAlternatives(
        [...cities.values()].map((nodes) => ({
          placement: { kind: 'city', country: nodes[0]!.country, city: nodes[0]!.city },
          nodes: capacityOf(nodes, spec.publicIpv4),
        })),
        count,
      );
      const whole = capacityOf(pool.filter(usable), spec.publicIpv4);
      if (whole >= count) {
        const c: Placement = { kind: 'country', country: pool[0]?.country ?? placement.country };
        alternatives.push({ placement: c, label: placementLabel(c), nodes: whole });
      }
      return { reason, alternatives: alternatives.slice(0, MAX_ALTERNATIVES) };
    }

    const reason =
      usableHere && usableHere.length > 0
        ? shortReason(spec, count, placement, others, usableHere.map((c) => c.node))
        : reasonFor(spec, count, placement, others, await this.everyNode(placement, exclude));
    if (placement.kind === 'random') return { reason, alternatives: [] }; // there is nowhere else

    const everywhere = await this.usable(spec, { kind: 'random' }, exclude);
    const countries = groupBy(
      everywhere.filter((n) => !(placement.kind === 'country' && inPlacement(n, placement))),
      (n) => fold(n.country),
    );
    // a farm's own country is the nearest we know of (its nodes may all be down: then we know none)
    const home = placement.kind === 'farm' ? everywhere.find((n) => n.farmId === placement.farmId)?.country : undefined;
    const ranked = rankAlternatives(
      [...countries.values()].map((nodes) => ({
        placement: { kind: 'country', country: nodes[0]!.country },
        nodes: capacityOf(nodes, spec.publicIpv4),
      })),
      count,
    );
    const first = ranked.filter((a) => home !== undefined && a.placement.kind === 'country' && fold(a.placement.country) === fold(home));
    return { reason, alternatives: [...first, ...ranked.filter((a) => !first.includes(a))].slice(0, MAX_ALTERNATIVES) };
  }

  /** Every node of the placement whatever its state, but the excluded ones: what a reason is worked out from. */
  private async everyNode(placement: Placement, exclude: number[]): Promise<GridNode[]> {
    const excluded = new Set(exclude);
    const nodes = await this.grid.findNodes({ ...placementFilter(placement), status: 'any', excludeNodeIds: exclude });
    return nodes.filter((n) => !excluded.has(n.nodeId) && inPlacement(n, placement));
  }
}

/** Those that can take the order, most room first, then by name. */
function rankAlternatives(alts: { placement: Placement; nodes: number }[], count: number): Alternative[] {
  return alts
    .filter((a) => a.nodes >= count)
    .map((a) => ({ ...a, label: placementLabel(a.placement) }))
    .sort((a, b) => b.nodes - a.nodes || a.label.localeCompare(b.label));
}

function planOf(chosen: Candidate[]): Extract<Plan, { ok: true }> {
  const nodes = chosen.map(({ node: n, cost }) => ({
    nodeId: n.nodeId,
    farmId: n.farmId,
    country: n.country,
    city: n.city,
    certified: n.certified,
    hourlyCost: cost,
  }));
  return { ok: true, nodes, hourlyCost: nodes.reduce((s, n) => s + n.hourlyCost, 0) };
}

function toSpec(what: SpecOrProfile, size?: string): NodeSpec {
  return 'resources' in what ? what : specOf(what, size);
}

function checkCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`count must be a whole number of at least 1, got ${count}`);
}

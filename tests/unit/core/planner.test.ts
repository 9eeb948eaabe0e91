/**
 * The planner on a small hand-made grid: ranking, spreading over nodes and farms, public IPv4s per
 * farm, the reasons a plan cannot be made and the alternatives, suggestions, and where-step data.
 *
 * The grid (every node: 16 vCPU, 16 GB, 1,000 GB SSD, 2,000 GB HDD; IPs belong to farms):
 *
 *   farm              country      city       certified  free IPs   nodes (uptime, what is used)
 *   1 Freefarm        Belgium      Ghent      yes        0          1 (60 d, 10 GB), 2 (40 d, 12 GB), 3 down
 *   2 Bytefarm        Belgium      Brussels   no         0          4 (10 d), 5 (90 d, half full), 6 standby
 *   3 Tulipfarm       Netherlands  Amsterdam  no         1          7 (27 d), 8 (6 d, empty)
 *   4 Rhinefarm       Germany      Berlin     yes        4          9 (100 d), 10 (2 d, empty)
 *   5 Alpfarm         Germany      Munich     no         2          11 (50 d, every vCPU used), 12 (21 d, HDD 1,800 GB used)
 *
 * Scores for SMALL (1 vCPU, 2 GB, 20 GB SSD), by SCORE_WEIGHTS:
 *   9 .775 · 1 .70 · 2 .675 · 7 .67 · 12 .635 · 5 .625 · 10 .545 · 8 .485 · 4 .475 (11 has no vCPU free)
 */
import { describe, expect, it } from '@jest/globals';
import { presearch } from '../../../src/catalog/presearch.js';
import type { Placement } from '../../../src/domain/deployment.js';
import type { Grid, GridNode, NodeFilter, Resources } from '../../../src/grid/port.js';
import { hourlyCostOf } from '../../../src/grid/sim/prices.js';
import { Planner, scoreOf, specOf, type NodeSpec, type Plan } from '../../../src/services/planner.js';

const DAY = 86_400;
const GB = 1024;

interface Farm {
  farmId: number;
  farmName: string;
  country: string;
  city: string;
  certified: boolean;
  ips: number;
}

const FARMS: Farm[] = [
  { farmId: 1, farmName: 'Freefarm', country: 'Belgium', city: 'Ghent', certified: true, ips: 0 },
  { farmId: 2, farmName: 'Bytefarm', country: 'Belgium', city: 'Brussels', certified: false, ips: 0 },
  { farmId: 3, farmName: 'Tulipfarm', country: 'Netherlands', city: 'Amsterdam', certified: false, ips: 1 },
  { farmId: 4, farmName: 'Rhinefarm', country: 'Germany', city: 'Berlin', certified: true, ips: 4 },
  { farmId: 5, farmName: 'Alpfarm', country: 'Germany', city: 'Munich', certified: false, ips: 2 },
];

const TOTAL: Resources = { cru: 16, mruMb: 16 * GB, sruGb: 1000, hruGb: 2000 };
const NONE: Resources = { cru: 0, mruMb: 0, sruGb: 0, hruGb: 0 };

type NodeDef = [nodeId: number, farmId: number, status: GridNode['status'], uptimeDays: number, used: Partial<Resources>];
const NODES: NodeDef[] = [
  [1, 1, 'up', 60, { cru: 4, mruMb: 10 * GB, sruGb: 200 }],
  [2, 1, 'up', 40, { cru: 4, mruMb: 12 * GB, sruGb: 0 }],
  [3, 1, 'down', 0, {}],
  [4, 2, 'up', 10, { cru: 2, mruMb: 4 * GB, sruGb: 100 }],
  [5, 2, 'up', 90, { cru: 8, mruMb: 8 * GB, sruGb: 500 }],
  [6, 2, 'standby', 0, {}],
  [7, 3, 'up', 27, { cru: 2, mruMb: 2 * GB, sruGb: 100 }],
  [8, 3, 'up', 6, {}],
  [9, 4, 'up', 100, { cru: 4, mruMb: 4 * GB, sruGb: 200 }],
  [10, 4, 'up', 2, {}],
  [11, 5, 'up', 50, { cru: 16, mruMb: 15 * GB, sruGb: 900 }],
  [12, 5, 'up', 21, { hruGb: 1800 }],
];

function gridNodes(over: { down?: number[]; ips?: Record<number, number> } = {}): GridNode[] {
  return NODES.map(([nodeId, farmId, status, days, used]) => {
    const f = FARMS.find((x) => x.farmId === farmId)!;
    const down = over.down?.includes(nodeId);
    const ips = over.ips?.[farmId] ?? f.ips;
    return {
      nodeId,
      farmId,
      farmName: f.farmName,
      country: f.country,
      city: f.city,
      status: down ? 'down' : status,
      certified: f.certified,
      uptimeSec: down ? 0 : days * DAY,
      total: { ...TOTAL },
      used: { ...NONE, ...used },
      publicIps: { total: ips + 2, free: ips },
    };
  });
}

/** The two Grid methods the planner uses, over a fixed node list, filtering as grid_client's filterNodes does; it records its calls. */
class FakeGrid {
  readonly filters: NodeFilter[] = [];
  readonly priced: { certified: boolean; publicIps: number; hruGb: number }[] = [];
  constructor(private readonly nodes: GridNode[]) {}

  async findNodes(f: NodeFilter): Promise<GridNode[]> {
    this.filters.push(f);
    const status = f.status ?? 'up';
    return this.nodes.filter((n) => {
      if (f.excludeNodeIds?.includes(n.nodeId)) return false;
      if (f.nodeIds && !f.nodeIds.includes(n.nodeId)) return false;
      if (f.country !== undefined && n.country.toLowerCase() !== f.country.toLowerCase()) return false;
      if (f.city !== undefined && n.city.toLowerCase() !== f.city.toLowerCase()) return false;
      if (f.farmId !== undefined && n.farmId !== f.farmId) return false;
      if (status !== 'any' && n.status !== status) return false;
      if (f.publicIp && n.publicIps.free < 1) return false;
      const free = f.free ?? {};
      return (Object.keys(free) as (keyof Resources)[]).every((k) => (free[k] ?? 0) <= n.total[k] - n.used[k]);
    });
  }

  async hourlyCost(r: Resources & { publicIps: number; certified: boolean }): Promise<number> {
    this.priced.push({ certified: r.certified, publicIps: r.publicIps, hruGb: r.hruGb });
    return hourlyCostOf(r);
  }
}

function setup(over: Parameters<typeof gridNodes>[0] = {}): { planner: Planner; grid: FakeGrid } {
  const grid = new FakeGrid(gridNodes(over));
  return { planner: new Planner(grid as unknown as Grid), grid };
}

const SMALL: NodeSpec = { title: 'test node', resources: { cru: 1, mruMb: 2 * GB, sruGb: 20, hruGb: 0 }, publicIpv4: false };
const SMALL_IP: NodeSpec = { ...SMALL, publicIpv4: true };
const BIG: NodeSpec = { title: 'big node', resources: { cru: 4, mruMb: 8 * GB, sruGb: 100, hruGb: 0 }, publicIpv4: false };
/** what a 0-db storage backend asks: disk only */
const zdb = (sizeGb: number): NodeSpec => ({ title: '0-db backend', resources: { ...NONE, hruGb: sizeGb }, publicIpv4: false });

const ANYWHERE: Placement = { kind: 'random' };
const BELGIUM: Placement = { kind: 'country', country: 'Belgium' };
const NETHERLANDS: Placement = { kind: 'country', country: 'Netherlands' };
const GERMANY: Placement = { kind: 'country', country: 'Germany' };
const GHENT: Placement = { kind: 'city', country: 'Belgium', city: 'Ghent' };
const FREEFARM: Placement = { kind: 'farm', farmId: 1, farmName: 'Freefarm' };
const ALPFARM: Placement = { kind: 'farm', farmId: 5, farmName: 'Alpfarm' };

const ids = (p: Plan): number[] => (p.ok ? p.nodes.map((n) => n.nodeId) : []);
const reasonOf = (p: Plan): string => (p.ok ? '(it could be made)' : p.reason);

// the sim's prices: SMALL is 11 000 000 units an hour, 13 750 000 on a certified node
const SMALL_COST = 11_000_000;
const SMALL_COST_CERTIFIED = 13_750_000;

describe('specOf', () => {
  it("takes a profile's size, title and IPv4 need", () => {
    expect(specOf(presearch)).toEqual({
      title: presearch.title,
      resources: { cru: 1, mruMb: 512, sruGb: 11, hruGb: 0 },
      publicIpv4: true,
    });
  });
});

describe('ranking', () => {
  it('orders nodes by score: uptime, price, certification, headroom', async () => {
    const grid = new FakeGrid(gridNodes());
    const usable = (await grid.findNodes({})).filter((n) => n.nodeId !== 11);
    const cost = (n: GridNode) => (n.certified ? SMALL_COST_CERTIFIED : SMALL_COST);
    const ranked = [...usable].sort((a, b) => scoreOf(b, SMALL, cost(b), SMALL_COST) - scoreOf(a, SMALL, cost(a), SMALL_COST));
    expect(ranked.map((n) => n.nodeId)).toEqual([9, 1, 2, 7, 12, 5, 10, 8, 4]);
    const node9 = usable.find((n) => n.nodeId === 9)!;
    expect(scoreOf(node9, SMALL, SMALL_COST_CERTIFIED, SMALL_COST)).toBeCloseTo(0.775, 6);
  });

  it('saturates uptime after 30 days, and counts free IPs only when the spec needs one', () => {
    const base = gridNodes().find((n) => n.nodeId === 9)!;
    const at = (days: number) => scoreOf({ ...base, uptimeSec: days * DAY }, SMALL, 1, 1);
    expect(at(30)).toBeCloseTo(at(300), 9);
    expect(at(29)).toBeLessThan(at(30));
    const withIps = (free: number, spec: NodeSpec) => scoreOf({ ...base, publicIps: { total: 9, free } }, spec, 1, 1);
    expect(withIps(1, SMALL)).toBe(withIps(4, SMALL));
    expect(withIps(1, SMALL_IP)).toBeLessThan(withIps(4, SMALL_IP));
  });

  it('the best node anywhere is the certified one up for 100 days', async () => {
    const { planner } = setup();
    const p = await planner.planFor(SMALL, 1, ANYWHERE);
    expect(p).toEqual({
      ok: true,
      nodes: [{ nodeId: 9, farmId: 4, country: 'Germany', city: 'Berlin', certified: true, hourlyCost: SMALL_COST_CERTIFIED }],
      hourlyCost: SMALL_COST_CERTIFIED,
    });
  });
});

describe('spreading', () => {
  it('puts instances on distinct farms, best first, while there are farms', async () => {
    const { planner } = setup();
    expect(ids(await planner.planFor(SMALL, 5, ANYWHERE))).toEqual([9, 1, 7, 12, 5]);
  });

  it('prefers another farm to a better node of a farm already used', async () => {
    const { planner } = setup();
    // by score alone Belgium's best two are 1 and 2, both of Freefarm
    expect(ids(await planner.planFor(SMALL, 2, BELGIUM))).toEqual([1, 5]);
  });

  it('repeats a farm only when there are fewer farms than instances, never a node', async () => {
    const { planner } = setup();
    expect(ids(await planner.planFor(SMALL, 3, BELGIUM))).toEqual([1, 5, 2]);
    expect(ids(await planner.planFor(SMALL, 4, BELGIUM))).toEqual([1, 5, 2, 4]);
    const all = ids(await planner.planFor(SMALL, 9, ANYWHERE));
    expect(all).toEqual([9, 1, 7, 12, 5, 2, 10, 8, 4]);
    expect(new Set(all).size).toBe(9);
  });

  it("counts the farm's public IPs the plan itself takes", async () => {
    const { planner } = setup();
    // Tulipfarm has two nodes with room but one free IP; Alpfarm one node with room
    expect(ids(await planner.planFor(SMALL_IP, 4, ANYWHERE))).toEqual([9, 7, 12, 10]);
    expect(reasonOf(await planner.planFor(SMALL_IP, 5, ANYWHERE))).toBe(
      "the grid has room for only 4 nodes with a public IPv4 (a farm's free IPs are shared by its nodes), and you asked for 5",
    );
    expect(reasonOf(await planner.planFor(SMALL_IP, 2, NETHERLANDS))).toBe(
      "Netherlands has room for only 1 node with a public IPv4 (a farm's free IPs are shared by its nodes), and you asked for 2",
    );
    const p = await planner.planFor(SMALL_IP, 1, NETHERLANDS);
    expect(p.ok && p.nodes[0]!.hourlyCost).toBe(SMALL_COST + 3_000_000); // the IPv4 is priced
  });

  it('honours exclude', async () => {
    const { planner } = setup();
    expect(ids(await planner.planFor(SMALL, 1, ANYWHERE, [9]))).toEqual([1]);
    expect(ids(await planner.planFor(SMALL, 2, BELGIUM, [1]))).toEqual([2, 5]);
    expect(ids(await planner.plan(presearch, 2, GERMANY, [9]))).toEqual([12, 10]);
    expect(reasonOf(await planner.planFor(SMALL, 1, BELGIUM, [1, 2, 4, 5]))).toBe('no other node in Belgium is up');
    expect(reasonOf(await planner.planFor(SMALL, 2, GERMANY, [9, 10]))).toBe(
      'Germany has only 1 other node with room, and you asked for 2',
    );
  });
});

describe('why nothing fits', () => {
  it('no node up', async () => {
    const { planner } = setup({ down: [1, 2, 4, 5] });
    expect(reasonOf(await planner.planFor(SMALL, 1, BELGIUM))).toBe('no node in Belgium is up');
  });

  it('no node with the memory', async () => {
    const { planner } = setup();
    expect(reasonOf(await planner.planFor(BIG, 1, GHENT))).toBe('no node in Ghent, Belgium has 8 GB of free memory');
  });

  it('no node with the resources together', async () => {
    const { planner } = setup();
    // node 1 has the memory but not the SSD, node 2 the SSD but not the memory
    const awkward: NodeSpec = { title: 'awkward node', resources: { cru: 1, mruMb: 5 * GB, sruGb: 900, hruGb: 0 }, publicIpv4: false };
    expect(reasonOf(await planner.planFor(awkward, 1, GHENT))).toBe(
      'no node in Ghent, Belgium has 1 vCPU, 5 GB of memory and 900 GB of SSD free at once',
    );
  });

  it('no node with a free public IPv4', async () => {
    const { planner } = setup();
    expect(reasonOf(await planner.planFor(SMALL_IP, 1, BELGIUM))).toBe('no node in Belgium has a free public IPv4');
    // Freefarm (Ghent) has IPs now, but Belgium's only node with room for a big node (4, Brussels) is in a farm without
    const { planner: p2 } = setup({ ips: { 1: 3 } });
    expect(reasonOf(await p2.planFor({ ...BIG, publicIpv4: true }, 1, BELGIUM))).toBe(
      'no node in Belgium with room for a big node has a free public IPv4',
    );
  });

  it('too few nodes with room', async () => {
    const { planner } = setup();
    expect(reasonOf(await planner.planFor(SMALL, 3, FREEFARM))).toBe('farm Freefarm (1) has only 2 nodes with room, and you asked for 3');
    expect(reasonOf(await planner.planFor(SMALL, 10, ANYWHERE))).toBe('the grid has only 9 nodes with room, and you asked for 10');
    expect(reasonOf(await planner.planFor(SMALL_IP, 4, GERMANY))).toBe(
      'Germany has only 3 nodes with room and a free public IPv4, and you asked for 4',
    );
  });

  it('no node there at all', async () => {
    const { planner } = setup();
    expect(reasonOf(await planner.planFor(SMALL, 1, { kind: 'city', country: 'Belgium', city: 'Bruges' }))).toBe(
      'the grid has no node in Bruges, Belgium',
    );
  });

  it('asks the grid once for a plan, and once more to explain a failure when no node is usable', async () => {
    const { planner, grid } = setup();
    await planner.planFor(SMALL, 3, BELGIUM);
    expect(grid.filters).toHaveLength(1);
    expect(grid.filters[0]).toEqual({
      free: { cru: 1, mruMb: 2253, sruGb: 22, hruGb: 0 },
      country: 'Belgium',
      status: 'up',
      excludeNodeIds: [],
    });
    await planner.planFor(SMALL, 3, FREEFARM); // too few: the usable nodes say so
    expect(grid.filters).toHaveLength(2);
    await planner.planFor(SMALL_IP, 1, BELGIUM); // none usable: ask again, loosely
    expect(grid.filters).toHaveLength(4);
    expect(grid.filters[3]).toEqual({ country: 'Belgium', status: 'any', excludeNodeIds: [] });
  });
});

describe('alternatives', () => {
  it('for a city: other cities of its country, then the country', async () => {
    const { planner } = setup();
    expect(await planner.explain(BIG, 1, GHENT)).toEqual({
      reason: 'no node in Ghent, Belgium has 8 GB of free memory',
      alternatives: [
        { placement: { kind: 'city', country: 'Belgium', city: 'Brussels' }, label: 'Brussels, Belgium', nodes: 1 },
        { placement: { kind: 'country', country: 'Belgium' }, label: 'Belgium', nodes: 1 },
      ],
    });
  });

  it('for a country: the countries that can, most room first', async () => {
    const { planner } = setup();
    expect((await planner.explain(SMALL_IP, 1, BELGIUM)).alternatives).toEqual([
      { placement: { kind: 'country', country: 'Germany' }, label: 'Germany', nodes: 3 },
      { placement: { kind: 'country', country: 'Netherlands' }, label: 'Netherlands', nodes: 1 },
    ]);
    // only those with room for the whole order
    expect((await planner.explain(SMALL_IP, 2, BELGIUM)).alternatives.map((a) => a.label)).toEqual(['Germany']);
  });

  it("for a farm: its own country first, then the others by room", async () => {
    const { planner } = setup();
    expect(await planner.explain(SMALL, 2, ALPFARM)).toEqual({
      reason: 'farm Alpfarm (5) has only 1 node with room, and you asked for 2',
      alternatives: [
        { placement: { kind: 'country', country: 'Germany' }, label: 'Germany', nodes: 3 },
        { placement: { kind: 'country', country: 'Belgium' }, label: 'Belgium', nodes: 4 },
        { placement: { kind: 'country', country: 'Netherlands' }, label: 'Netherlands', nodes: 2 },
      ],
    });
  });

  it('anywhere has none', async () => {
    const { planner } = setup();
    expect(await planner.explain(SMALL, 10, ANYWHERE)).toEqual({
      reason: 'the grid has only 9 nodes with room, and you asked for 10',
      alternatives: [],
    });
  });
});

describe('certified only', () => {
  it('keeps a plan, and a retry after it, to certified nodes, and says when there are too few', async () => {
    const { planner } = setup();
    const spec: NodeSpec = { ...SMALL, certifiedOnly: true };
    // the same three the "Certified only" suggestion picks, where a plain plan mixes in uncertified ones
    expect(ids(await planner.planFor(spec, 3, ANYWHERE))).toEqual([9, 1, 2]);
    expect(ids(await planner.planFor(SMALL, 3, ANYWHERE))).toEqual([9, 1, 7]);
    // a replacement for node 9 avoids the others and stays certified
    const retry = await planner.planFor(spec, 1, ANYWHERE, [9, 1, 2]);
    expect(retry.ok && retry.nodes.every((n) => n.certified)).toBe(true);
    const dutch = await planner.planFor(spec, 1, NETHERLANDS); // no certified node there
    expect(dutch).toEqual({ ok: false, reason: 'not enough certified nodes in Netherlands have room (you chose certified nodes only)' });
  });
});

describe('suggest', () => {
  it('offers the recommended, the cheapest and the certified-only plan', async () => {
    const { planner, grid } = setup();
    const s = await planner.suggest(SMALL, 3, ANYWHERE);
    expect(grid.filters).toHaveLength(1);
    if (!s.ok) throw new Error(s.reason);
    expect(s.options.map((o) => [o.label, o.nodes.map((n) => n.nodeId), o.hourlyCost, o.farms, o.countries])).toEqual([
      ['Recommended', [9, 1, 7], 2 * SMALL_COST_CERTIFIED + SMALL_COST, 3, ['Belgium', 'Germany', 'Netherlands']],
      ['Cheapest', [7, 12, 5], 3 * SMALL_COST, 3, ['Belgium', 'Germany', 'Netherlands']],
      ['Certified only', [9, 1, 2], 3 * SMALL_COST_CERTIFIED, 2, ['Belgium', 'Germany']],
    ]);
    expect(s.options[0]).toMatchObject({ ok: true });
  });

  it('drops a plan that repeats another, and one that cannot be made', async () => {
    const { planner } = setup();
    const two = await planner.suggest(SMALL, 2, ANYWHERE);
    // certified only would be 9 and 1 again
    expect(two.ok && two.options.map((o) => [o.label, o.nodes.map((n) => n.nodeId)])).toEqual([
      ['Recommended', [9, 1]],
      ['Cheapest', [7, 12]],
    ]);
    const dutch = await planner.suggest(SMALL, 2, NETHERLANDS); // no certified node there
    expect(dutch.ok && dutch.options.map((o) => [o.label, o.nodes.map((n) => n.nodeId)])).toEqual([['Recommended', [7, 8]]]);
  });

  it('takes a profile and its size too', async () => {
    const { planner } = setup();
    const s = await planner.suggest(presearch, 1, GERMANY);
    expect(s.ok && s.options.map((o) => [o.label, o.nodes.map((n) => n.nodeId)])).toEqual([
      ['Recommended', [9]],
      ['Cheapest', [12]],
    ]);
  });

  it('says why nothing fits, with the alternatives', async () => {
    const { planner } = setup();
    expect(await planner.suggest(SMALL_IP, 1, BELGIUM)).toEqual({
      ok: false,
      reason: 'no node in Belgium has a free public IPv4',
      alternatives: [
        { placement: { kind: 'country', country: 'Germany' }, label: 'Germany', nodes: 3 },
        { placement: { kind: 'country', country: 'Netherlands' }, label: 'Netherlands', nodes: 1 },
      ],
    });
  });
});

describe('0-db backends: disk only', () => {
  it('places them on nodes with HDD, whatever their CPU and memory, priced for the disk alone', async () => {
    const { planner, grid } = setup();
    // node 11 has no vCPU and 1 GB free but all its HDD; node 12 has 200 GB of HDD left
    const p = await planner.planFor(zdb(500), 1, ALPFARM);
    expect(p).toEqual({
      ok: true,
      nodes: [{ nodeId: 11, farmId: 5, country: 'Germany', city: 'Munich', certified: false, hourlyCost: 5_000_000 }],
      hourlyCost: 5_000_000,
    });
    expect(grid.priced).toEqual([{ certified: false, publicIps: 0, hruGb: 500 }]);
    expect(grid.filters[0]!.free).toEqual({ cru: 0, mruMb: 0, sruGb: 0, hruGb: 550 });
    expect(reasonOf(await planner.planFor(zdb(500), 2, ALPFARM))).toBe('farm Alpfarm (5) has only 1 node with room, and you asked for 2');
    expect(reasonOf(await planner.planFor(zdb(3000), 1, ANYWHERE))).toBe('no node on the grid has 3,000 GB of free HDD');
  });

  it('spreads them over farms like any node', async () => {
    const { planner } = setup();
    const p = await planner.planFor(zdb(500), 5, ANYWHERE);
    expect(p.ok && new Set(p.nodes.map((n) => n.farmId)).size).toBe(5);
  });
});

describe('places', () => {
  it('lists the countries, cities and farms with room for the whole order, by name', async () => {
    const { planner, grid } = setup();
    expect(await planner.places(SMALL, 2)).toEqual({
      countries: [
        { country: 'Belgium', nodes: 4 },
        { country: 'Germany', nodes: 3 },
        { country: 'Netherlands', nodes: 2 },
      ],
      cities: [
        { country: 'Belgium', city: 'Brussels', nodes: 2 },
        { country: 'Belgium', city: 'Ghent', nodes: 2 },
        { country: 'Germany', city: 'Berlin', nodes: 2 },
        { country: 'Netherlands', city: 'Amsterdam', nodes: 2 },
      ],
      farms: [
        { farmId: 2, farmName: 'Bytefarm', nodes: 2, certified: false },
        { farmId: 1, farmName: 'Freefarm', nodes: 2, certified: true },
        { farmId: 4, farmName: 'Rhinefarm', nodes: 2, certified: true },
        { farmId: 3, farmName: 'Tulipfarm', nodes: 2, certified: false },
      ],
    });
    expect(grid.filters).toHaveLength(1);
  });

  it('counts what the farms can give public IPv4s, and countries() still answers for a profile', async () => {
    const { planner } = setup();
    expect((await planner.places(SMALL_IP, 1)).countries).toEqual([
      { country: 'Germany', nodes: 3 },
      { country: 'Netherlands', nodes: 1 },
    ]);
    expect(await planner.countries(presearch, 2)).toEqual([{ country: 'Germany', nodes: 3 }]);
  });
});

import { describe, expect, it } from '@jest/globals';
import { COUNTRIES, generateGrid, mulberry32 } from '../../../src/grid/sim/index.js';

describe('generateGrid', () => {
  const g = generateGrid({ seed: 42 });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(generateGrid({ seed: 42 })).toEqual(g);
    const other = generateGrid({ seed: 43 });
    expect(other.nodes).not.toEqual(g.nodes);
    expect(other.farms.map((f) => f.name)).not.toEqual(g.farms.map((f) => f.name));
  });

  it('has a seeded PRNG that repeats exactly', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBe(5);
  });

  it('has the default size: ~400 nodes over ~40 farms in ~25 countries', () => {
    expect(g.nodes).toHaveLength(400);
    expect(g.farms).toHaveLength(40);
    expect(g.countries.length).toBeGreaterThanOrEqual(20);
    expect(g.countries.length).toBeLessThanOrEqual(30);
    expect(new Set(g.nodes.map((n) => n.nodeId)).size).toBe(400);
    expect(Math.min(...g.nodes.map((n) => n.nodeId))).toBe(1);
    // every farm has nodes
    const farmsWithNodes = new Set(g.nodes.map((n) => n.farmId));
    expect(farmsWithNodes.size).toBe(40);
  });

  it('honours the size options', () => {
    const small = generateGrid({ seed: 1, nodes: 30, farms: 5 });
    expect(small.nodes).toHaveLength(30);
    expect(small.farms).toHaveLength(5);
    expect(() => generateGrid({ seed: 1, nodes: 0 })).toThrow(RangeError);
  });

  it('puts nodes in real cities of their farm country, 1–3 cities per country', () => {
    for (const c of COUNTRIES) {
      expect(c.cities.length).toBeGreaterThanOrEqual(1);
      expect(c.cities.length).toBeLessThanOrEqual(3);
    }
    const citiesOf = new Map(COUNTRIES.map((c) => [c.country, c.cities]));
    for (const n of g.nodes) {
      const farm = g.farms.find((f) => f.farmId === n.farmId);
      expect(farm).toBeDefined();
      expect(n.country).toBe(farm?.country);
      expect(citiesOf.get(n.country)).toContain(n.city);
      expect(n.certified).toBe(farm?.certified);
    }
    expect(g.countries).toEqual(expect.arrayContaining(['Belgium', 'Netherlands', 'Germany', 'Egypt', 'Tanzania', 'Japan']));
  });

  it('names farms like the grid does and gives some of them public IPv4 in one /24', () => {
    expect(g.farms[0]?.name).toBe('freefarm');
    expect(new Set(g.farms.map((f) => f.name)).size).toBe(g.farms.length);
    for (const f of g.farms) expect(f.name).toMatch(/^[a-z0-9-]+$/);
    const withIps = g.farms.filter((f) => f.publicIps.length > 0);
    const without = g.farms.filter((f) => f.publicIps.length === 0);
    expect(withIps.length).toBeGreaterThan(5);
    expect(without.length).toBeGreaterThan(3);
    for (const f of withIps) {
      expect(f.publicIps.length).toBeGreaterThanOrEqual(2);
      expect(f.publicIps.length).toBeLessThanOrEqual(30);
      const subnets = new Set(f.publicIps.map((p) => p.ip.split('.').slice(0, 3).join('.')));
      expect(subnets.size).toBe(1);
      for (const p of f.publicIps) {
        expect(p.ip).toMatch(/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\/24$/);
        const host = Number(p.ip.split('.')[3]?.split('/')[0]);
        expect(host).toBeGreaterThan(1);
        expect(host).toBeLessThan(255);
      }
    }
    expect(g.farms[0]?.publicIps[0]?.ip).toMatch(/^185\.69\.166\./);
    expect(g.farms.some((f) => f.certified)).toBe(true);
    expect(g.farms.some((f) => !f.certified)).toBe(true);
  });

  it('gives nodes realistic capacity, some usage by other tenants, a few down and standby', () => {
    for (const n of g.nodes) {
      expect(n.total.cru).toBeGreaterThanOrEqual(4);
      expect(n.total.cru).toBeLessThanOrEqual(64);
      expect(n.total.mruMb).toBeGreaterThanOrEqual(8 * 1024);
      expect(n.total.mruMb).toBeLessThanOrEqual(512 * 1024);
      expect(n.total.sruGb).toBeGreaterThanOrEqual(250);
      expect(n.total.sruGb).toBeLessThanOrEqual(4000);
      expect(n.total.hruGb).toBeGreaterThanOrEqual(0);
      expect(n.total.hruGb).toBeLessThanOrEqual(40000);
      for (const k of ['cru', 'mruMb', 'sruGb', 'hruGb'] as const) {
        expect(n.used[k]).toBeGreaterThanOrEqual(0);
        expect(n.used[k]).toBeLessThanOrEqual(n.total[k]);
      }
      if (n.status === 'up') expect(n.uptimeSec).toBeGreaterThan(0);
      else expect(n.uptimeSec).toBe(0);
      expect(n.myceliumPrefix).toMatch(/^4[0-9a-f]{2}:/);
    }
    const partlyUsed = g.nodes.filter((n) => n.used.cru > 0 || n.used.mruMb > 0).length;
    expect(partlyUsed).toBeGreaterThan(40);
    const down = g.nodes.filter((n) => n.status === 'down').length;
    const standby = g.nodes.filter((n) => n.status === 'standby').length;
    expect(down).toBeGreaterThanOrEqual(4); // ~5%
    expect(down).toBeLessThanOrEqual(40);
    expect(standby).toBeGreaterThanOrEqual(2); // ~3%
    expect(standby).toBeLessThanOrEqual(30);
    expect(g.nodes.some((n) => n.total.hruGb > 0)).toBe(true);
    expect(g.nodes.some((n) => n.total.hruGb === 0)).toBe(true);
  });
});

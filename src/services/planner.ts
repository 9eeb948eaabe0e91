/**
 * Node selection: which nodes can host a profile, where, at what price. Instances of one deployment
 * go to distinct nodes, spread over farms where it can, and only to nodes with a free public IPv4
 * when the profile needs one (counting the farm's IPs the plan itself takes).
 */
import type { NodeProfile } from '../catalog/index.js';
import { resourcesOf } from '../catalog/index.js';
import { placementLabel, type Placement } from '../domain/deployment.js';
import type { Units } from '../domain/money.js';
import type { Grid, GridNode } from '../grid/port.js';

export interface PlannedNode {
  nodeId: number;
  farmId: number;
  country: string;
  city: string;
  certified: boolean;
  hourlyCost: Units;
}

export type Plan = { ok: true; nodes: PlannedNode[]; hourlyCost: Units } | { ok: false; reason: string };

/** Headroom kept on a node so we don't fill it to the last byte. */
const HEADROOM = 1.1;

export class Planner {
  constructor(private readonly grid: Grid) {}

  private candidates(profile: NodeProfile, placement: Placement, exclude: number[] = [], size?: string): Promise<GridNode[]> {
    const r = resourcesOf(profile, size);
    return this.grid.findNodes({
      free: { cru: r.cru, mruMb: Math.ceil(r.mruMb * HEADROOM), sruGb: Math.ceil(r.sruGb * HEADROOM), hruGb: r.hruGb },
      ...(profile.publicIpv4 ? { publicIp: true } : {}),
      ...(placement.kind === 'country' || placement.kind === 'city' ? { country: placement.country } : {}),
      ...(placement.kind === 'city' ? { city: placement.city } : {}),
      ...(placement.kind === 'farm' ? { farmId: placement.farmId } : {}),
      excludeNodeIds: exclude,
    });
  }

  /** Countries that can take `count` nodes of this profile, with how many fitting nodes each has. */
  async countries(profile: NodeProfile, count: number, size?: string): Promise<{ country: string; nodes: number }[]> {
    const byCountry = new Map<string, number>();
    for (const n of await this.candidates(profile, { kind: 'random' }, [], size)) {
      byCountry.set(n.country, (byCountry.get(n.country) ?? 0) + 1);
    }
    return [...byCountry]
      .filter(([, nodes]) => nodes >= count)
      .map(([country, nodes]) => ({ country, nodes }))
      .sort((a, b) => a.country.localeCompare(b.country));
  }

  async plan(profile: NodeProfile, count: number, placement: Placement, exclude: number[] = [], size?: string): Promise<Plan> {
    const nodes = await this.candidates(profile, placement, exclude, size);
    const where = placement.kind === 'random' ? '' : ` in ${placementLabel(placement)}`;
    if (nodes.length === 0) {
      return {
        ok: false,
        reason: profile.publicIpv4
          ? `no node${where} has both the free capacity and a free public IPv4 for a ${profile.title}`
          : `no node${where} has the free capacity for a ${profile.title}`,
      };
    }
    // best first: up longest, then most free CPU; then take one per farm in turn to spread the risk
    const ranked = [...nodes].sort((a, b) => b.uptimeSec - a.uptimeSec || b.total.cru - b.used.cru - (a.total.cru - a.used.cru));
    const byFarm = new Map<number, GridNode[]>();
    for (const n of ranked) byFarm.set(n.farmId, [...(byFarm.get(n.farmId) ?? []), n]);
    const ipsLeft = new Map<number, number>();
    const chosen: GridNode[] = [];
    while (chosen.length < count) {
      let progressed = false;
      for (const [farmId, list] of byFarm) {
        if (chosen.length >= count) break;
        const n = list.shift();
        if (!n) continue;
        if (profile.publicIpv4) {
          const left = ipsLeft.get(farmId) ?? n.publicIps.free;
          if (left < 1) continue;
          ipsLeft.set(farmId, left - 1);
        }
        chosen.push(n);
        progressed = true;
      }
      if (!progressed) break;
    }
    if (chosen.length < count) {
      return {
        ok: false,
        reason: `only ${chosen.length} suitable node${chosen.length === 1 ? '' : 's'}${where} ${
          chosen.length === 1 ? 'is' : 'are'
        } free for a ${profile.title}${profile.publicIpv4 ? ' with a public IPv4' : ''}, and you asked for ${count}`,
      };
    }
    const r = resourcesOf(profile, size);
    const planned = await Promise.all(
      chosen.map(async (n) => ({
        nodeId: n.nodeId,
        farmId: n.farmId,
        country: n.country,
        city: n.city,
        certified: n.certified,
        hourlyCost: await this.grid.hourlyCost({ ...r, publicIps: profile.publicIpv4 ? 1 : 0, certified: n.certified }),
      })),
    );
    return { ok: true, nodes: planned, hourlyCost: planned.reduce((s, n) => s + n.hourlyCost, 0) };
  }
}

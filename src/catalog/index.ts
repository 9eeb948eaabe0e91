/** The node profiles users can deploy, in the order the picker shows them. */
import { dashFull } from './dash.js';
import { presearch } from './presearch.js';
import type { NodeProfile } from './types.js';

export type { NodeProfile, ProfileInput } from './types.js';

export const PROFILES: readonly NodeProfile[] = [dashFull, presearch];

export function profileById(id: string): NodeProfile | undefined {
  return PROFILES.find((p) => p.id === id);
}

export function resourcesOf(p: NodeProfile): { cru: number; mruMb: number; sruGb: number; hruGb: number } {
  return { cru: p.cpu, mruMb: p.memoryMb, sruGb: p.rootfsGb + p.disks.reduce((s, d) => s + d.sizeGb, 0), hruGb: 0 };
}

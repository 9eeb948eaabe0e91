/** The node profiles users can deploy, in the order the picker shows them. */
import { dashFull } from './dash.js';
import { presearch } from './presearch.js';
import type { NodeProfile } from './types.js';

import type { ProfileSize } from './types.js';

export type { NodeProfile, ProfileInput, ProfileSize } from './types.js';

export const PROFILES: readonly NodeProfile[] = [dashFull, presearch];

export function profileById(id: string): NodeProfile | undefined {
  return PROFILES.find((p) => p.id === id);
}

/** The size a deployment chose, or the profile's default (an unknown id, from an older catalog, falls back too). */
export function sizeOf(p: NodeProfile, id?: string): ProfileSize {
  return p.sizes.find((s) => s.id === id) ?? p.sizes[0]!;
}

export function resourcesOf(p: NodeProfile, sizeId?: string): { cru: number; mruMb: number; sruGb: number; hruGb: number } {
  const s = sizeOf(p, sizeId);
  return { cru: s.cpu, mruMb: s.memoryMb, sruGb: s.rootfsGb + s.disks.reduce((sum, d) => sum + d.sizeGb, 0), hruGb: 0 };
}

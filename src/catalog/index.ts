/** The node profiles users can deploy, in the order the picker shows them, and the operator's changes to them. */
import { dashFull, dashMasternode } from './dash.js';
import { digibyteFull } from './digibyte.js';
import { applyOverrides, loadCatalogFile, type CatalogOverrides } from './overrides.js';
import { polygonFull, polygonSentry, polygonValidator } from './polygon.js';
import { presearch } from './presearch.js';
import { storageProfile } from './storage.js';
import type { NodeProfile, ProfileSize } from './types.js';

export type { NodeProfile, ProfileInput, ProfileSize } from './types.js';
export type { CatalogOverrides } from './overrides.js';

/** Every profile as written. */
const CATALOG: readonly NodeProfile[] = [
  dashFull,
  dashMasternode,
  digibyteFull,
  polygonSentry,
  polygonFull,
  polygonValidator,
  presearch,
  storageProfile,
];

/** Every profile with the operator's overrides, disabled ones too: existing deployments of those keep working. */
let all: readonly NodeProfile[] = CATALOG;
const offered: NodeProfile[] = [...CATALOG];

/**
 * The profiles /deploy offers. One array for the life of the process, changed in place by
 * applyCatalogOverrides, so whoever took it at start (the app's services, the deploy flow) sees the
 * operator's catalog.
 */
export const PROFILES: readonly NodeProfile[] = offered;

/** Any profile by id, offered or disabled. */
export function profileById(id: string): NodeProfile | undefined {
  return all.find((p) => p.id === id);
}

/** Applies the operator's overrides to the catalog as written (not on top of earlier ones; `{}` restores it). */
export function applyCatalogOverrides(overrides: CatalogOverrides): void {
  const r = applyOverrides(CATALOG, overrides);
  all = r.profiles;
  offered.splice(0, offered.length, ...r.offered);
}

/** Reads, checks and applies the catalog file (CATALOG_FILE); throws a CatalogFileError (a ConfigError) naming what is wrong. */
export async function applyCatalogFile(file: string): Promise<void> {
  applyCatalogOverrides(await loadCatalogFile(file, CATALOG));
}

/** The size a deployment chose, or the profile's default (an unknown id, from an older catalog, falls back too). */
export function sizeOf(p: NodeProfile, id?: string): ProfileSize {
  return p.sizes.find((s) => s.id === id) ?? p.sizes[0]!;
}

export function resourcesOf(p: NodeProfile, sizeId?: string): { cru: number; mruMb: number; sruGb: number; hruGb: number } {
  const s = sizeOf(p, sizeId);
  return { cru: s.cpu, mruMb: s.memoryMb, sruGb: s.rootfsGb + s.disks.reduce((sum, d) => sum + d.sizeGb, 0), hruGb: 0 };
}

/**
 * The operator's changes to the catalog, from the JSON file CATALOG_FILE names: per profile id, the
 * image (flist, entrypoint, imageNote), the notice users see before paying, the sizes' resources, or
 * `"enabled": false` to take a profile off the picker. Checked whole at start: a mistake stops the
 * bot with the file, the profile and the field named, instead of surfacing at someone's order.
 *
 *   { "polygon-sentry": { "flist": "https://hub.grid.tf/me/polygon.flist", "sizes": { "mainnet": { "cpu": 16, "disks": { "data": 6000 } } } },
 *     "presearch": { "enabled": false } }
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../config.js';
import type { NodeProfile, ProfileSize } from './types.js';

export interface SizeOverride {
  label?: string;
  cpu?: number;
  memoryMb?: number;
  rootfsGb?: number;
  /** size in GB by disk name */
  disks?: Record<string, number>;
}

export interface ProfileOverride {
  /** false: not offered in /deploy; existing deployments keep working */
  enabled?: boolean;
  flist?: string;
  entrypoint?: string;
  /** an empty text removes the profile's notice */
  notice?: string;
  imageNote?: string;
  /** by size id */
  sizes?: Record<string, SizeOverride>;
}

/** by profile id */
export type CatalogOverrides = Record<string, ProfileOverride>;

export class CatalogFileError extends ConfigError {
  override name = 'CatalogFileError';
}

/**
 * "8 vCPU · 32 GB RAM · 4 TB SSD": how labels and summaries state a size. The SSD is the data disks,
 * or the root filesystem when the chain lives there. A changed size has this text replaced in its
 * label and in the profile's summary, so the picker never states the old figures.
 */
export function resourcesText(s: ProfileSize): string {
  const mem = s.memoryMb >= 1024 && s.memoryMb % 1024 === 0 ? `${s.memoryMb / 1024} GB` : `${s.memoryMb} MB`;
  const gb = s.disks.length ? s.disks.reduce((sum, d) => sum + d.sizeGb, 0) : s.rootfsGb;
  const ssd = gb >= 1000 ? `${Math.round(gb / 100) / 10} TB` : `${gb} GB`;
  return `${s.cpu} vCPU · ${mem} RAM · ${ssd} SSD`;
}

const whole = (msg: string, min: number) => z.number({ error: msg }).int({ error: msg }).min(min, { error: msg }).optional();
const text = (msg: string, max: number) => z.string({ error: msg }).trim().max(max, { error: `must be at most ${max} characters` });

/** A JSON object with only the keys given; an unknown key is named with what it could have been. */
function strict<T extends z.ZodRawShape>(shape: T, where: string, what: string) {
  const known = Object.keys(shape).join(', ') || 'none';
  return z
    .strictObject(shape, {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `${iss.keys.map((k) => `${where}${k}`).join(', ')} ${iss.keys.length > 1 ? 'are' : 'is'} not ${what} (${known})`
          : 'must be a JSON object',
    })
    .optional();
}

function sizeSchema(p: NodeProfile, s: ProfileSize) {
  const at = `${p.id}.sizes.${s.id}.`;
  return strict(
    {
      label: text('must be a text', 80).min(1, { error: 'must not be empty' }).optional(),
      cpu: whole('must be a whole number ≥ 1', 1),
      memoryMb: whole('must be a whole number of MB ≥ 256', 256),
      rootfsGb: whole('must be a whole number of GB ≥ 1', 1),
      disks: strict(
        Object.fromEntries(s.disks.map((d) => [d.name, whole('must be a whole number of GB ≥ 1', 1)])),
        `${at}disks.`,
        `a disk of this size`,
      ),
    },
    at,
    'a size setting',
  );
}

function profileSchema(p: NodeProfile) {
  const enabled = z.boolean({ error: 'must be true or false' }).optional();
  const notice = text('must be a text (empty removes the notice)', 1000).optional();
  const imageNote = text('must be a text', 300).min(1, { error: 'must not be empty' }).optional();
  // storage runs no image and sizes itself per order: only what users read and whether it is offered
  if (p.kind === 'storage') return strict({ enabled, notice, imageNote }, `${p.id}.`, 'a setting of a storage profile');
  return strict(
    {
      enabled,
      flist: z
        .string({ error: 'must be an https URL of an flist' })
        .refine((v) => /^https:\/\/[^\s/]+\/\S+\.flist$/.test(v) && URL.canParse(v), { error: 'must be an https URL of an flist (https://hub.grid.tf/…/name.flist)' })
        .optional(),
      entrypoint: z.string({ error: 'must be a text' }).regex(/^\/\S*( \S+)*$/, { error: 'must be an absolute command such as /sbin/zinit init' }).optional(),
      notice,
      imageNote,
      sizes: strict(Object.fromEntries(p.sizes.map((s) => [s.id, sizeSchema(p, s)])), `${p.id}.sizes.`, `a size of ${p.id}`),
    },
    `${p.id}.`,
    'a setting',
  );
}

/** The overrides in `json` (a parsed file), checked against the profiles; throws CatalogFileError naming `file`. */
export function parseCatalogOverrides(json: unknown, file: string, profiles: readonly NodeProfile[]): CatalogOverrides {
  const schema = strict(Object.fromEntries(profiles.map((p) => [p.id, profileSchema(p)])), '', 'a profile id');
  const r = schema.safeParse(json);
  if (!r.success) {
    throw new CatalogFileError(
      r.error.issues
        .map((i) => `${file}: ${i.code === 'unrecognized_keys' || i.path.length === 0 ? '' : `${i.path.join('.')} `}${i.message}`)
        .join('\n'),
    );
  }
  if (r.data === undefined) throw new CatalogFileError(`${file}: must be a JSON object`);
  return r.data as CatalogOverrides;
}

/** Reads and checks the catalog file. */
export async function loadCatalogFile(file: string, profiles: readonly NodeProfile[]): Promise<CatalogOverrides> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (e) {
    throw new CatalogFileError(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new CatalogFileError(`${file}: is not valid JSON (${(e as Error).message})`);
  }
  return parseCatalogOverrides(json, file, profiles);
}

function sizeWith(s: ProfileSize, o: SizeOverride | undefined): ProfileSize {
  if (!o) return s;
  const next: ProfileSize = {
    ...s,
    cpu: o.cpu ?? s.cpu,
    memoryMb: o.memoryMb ?? s.memoryMb,
    rootfsGb: o.rootfsGb ?? s.rootfsGb,
    disks: s.disks.map((d) => ({ ...d, sizeGb: o.disks?.[d.name] ?? d.sizeGb })),
  };
  next.label = o.label ?? s.label.replace(resourcesText(s), resourcesText(next));
  return next;
}

function profileWith(p: NodeProfile, o: ProfileOverride | undefined): NodeProfile {
  if (!o) return p;
  const sizes = p.sizes.map((s) => sizeWith(s, o.sizes?.[s.id]));
  const summary = p.sizes.reduce((text, s, i) => text.replace(resourcesText(s), resourcesText(sizes[i]!)), p.summary);
  // a copy: the profile modules' own objects stay as written, so applying again starts from them
  const next: NodeProfile = {
    ...p,
    flist: o.flist ?? p.flist,
    entrypoint: o.entrypoint ?? p.entrypoint,
    imageNote: o.imageNote ?? p.imageNote,
    sizes,
    summary,
  };
  if (o.notice === '') delete next.notice;
  else if (o.notice !== undefined) next.notice = o.notice;
  return next;
}

/** The profiles with the overrides applied (copies), and those the picker offers. */
export function applyOverrides(profiles: readonly NodeProfile[], overrides: CatalogOverrides): { profiles: NodeProfile[]; offered: NodeProfile[] } {
  const all = profiles.map((p) => profileWith(p, overrides[p.id]));
  return { profiles: all, offered: all.filter((p) => overrides[p.id]?.enabled !== false) };
}

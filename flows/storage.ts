/**
 * The storage steps of /deploy, for a storage profile (quantum-safe storage: 0-db backends for
 * zstor): how much usable storage, then the redundancy (k data + m parity shards, each on its own
 * node). Then /deploy goes on as for any profile: where → name → confirm.
 */
import { esc, plural } from '../src/chat/format.js';
import type { FlowContext, Step } from '../src/chat/types.js';
import type { NodeProfile } from '../src/catalog/types.js';
import { placementLabel, type Placement } from '../src/domain/deployment.js';
import type { Plan } from '../src/services/planner.js';
import {
  backendSpec,
  formatGb,
  META_BACKENDS,
  parseSizeGb,
  schemeLabel,
  schemeWords,
  storageLayout,
  type BackendSpec,
  type Scheme,
} from '../src/storage/plan.js';

export const SIZE_STEP = 'storage:size';
export const REDUNDANCY_STEP = 'storage:redundancy';

/** What the storage steps keep in the /deploy conversation. */
export interface StorageDraftData {
  profileId?: string;
  /** the data backends: what the where step counts nodes for */
  count?: number;
  /** the size step's answer, usable GB */
  storageGb?: number;
  /** complete once the redundancy is chosen: what the order records */
  storage?: { usableGb: number; data: number; parity: number };
}

function profileOf(c: FlowContext<StorageDraftData>): NodeProfile & { storage: NonNullable<NodeProfile['storage']> } {
  const p = c.services.profiles.find((x) => x.id === c.data.profileId);
  if (!p?.storage) throw new Error(`profile ${c.data.profileId} is not a storage profile`);
  return p as NodeProfile & { storage: NonNullable<NodeProfile['storage']> };
}

export function isStorageProfile(p: NodeProfile | undefined): boolean {
  return p?.kind === 'storage' && p.storage !== undefined;
}

const schemeValue = (s: Scheme): string => `${s.data}+${s.parity}`;

/** The size and redundancy steps; `next` is the step after them (where). */
export function storageSteps<D extends StorageDraftData>(next: string): Record<string, Step<D>> {
  const setSize = (c: FlowContext<D>, gb: number) => {
    c.data.storageGb = gb;
    delete c.data.storage;
    return { goto: REDUNDANCY_STEP };
  };
  const setScheme = (c: FlowContext<D>, s: Scheme) => {
    c.data.storage = { usableGb: c.data.storageGb!, data: s.data, parity: s.parity };
    c.data.count = s.data + s.parity;
    return { goto: next };
  };
  return {
    [SIZE_STEP]: {
      ask(c) {
        const spec = profileOf(c).storage;
        return {
          text:
            '<b>How much storage?</b> This is the usable size, what you can store; the redundancy comes on top. ' +
            `Pick one or type a size from ${formatGb(spec.minGb)} to ${formatGb(spec.maxGb)} (e.g. <i>250 GB</i> or <i>2 TB</i>).`,
          choices: spec.presetsGb.map((gb) => ({ label: formatGb(gb), value: String(gb) })),
          columns: 4,
        };
      },
      onChoice: (c, value) => setSize(c, Number(value)),
      onText(c, text) {
        const r = parseSizeGb(text, profileOf(c).storage);
        return r.ok ? setSize(c, r.gb) : { retry: r.error };
      },
    },

    [REDUNDANCY_STEP]: {
      ask(c) {
        const spec = profileOf(c).storage;
        const gb = c.data.storageGb!;
        const lines = spec.schemes.map((s, i) => {
          const l = storageLayout(spec, gb, s);
          const n = s.data + s.parity;
          return (
            `• <b>${schemeLabel(s)}</b>${i === 0 ? ' (default)' : ''}: ${plural(n, 'backend')} of ${formatGb(l.backendGb)} on ${n} different nodes; ` +
            `${schemeWords(s)}. ${formatGb(l.rawGb)} of disk in all.`
          );
        });
        return {
          text: [
            `<b>How much redundancy for ${formatGb(gb)}?</b> Your data is cut into k data shards plus m parity shards, each on its own node:`,
            ...lines,
            `Each also has ${META_BACKENDS} small metadata 0-dbs on ${META_BACKENDS} nodes (writing needs all ${META_BACKENDS}, reading 2). More shards spread the risk over more nodes; 4 + 2 needs the fewest.`,
          ].join('\n'),
          choices: spec.schemes.map((s, i) => ({ label: `${schemeLabel(s)}${i === 0 ? ' (default)' : ''}`, value: schemeValue(s) })),
          columns: spec.schemes.length,
        };
      },
      onChoice(c, value) {
        const s = profileOf(c).storage.schemes.find((x) => schemeValue(x) === value);
        return s ? setScheme(c, s) : { retry: 'Please choose one of the buttons.' };
      },
      onText(c, text) {
        const schemes = profileOf(c).storage.schemes;
        const t = text.replace(/\s+/g, '').toLowerCase();
        const s = t === 'default' ? schemes[0] : schemes.find((x) => schemeValue(x) === t);
        if (!s) return { retry: `Please choose one of the buttons (${schemes.map(schemeLabel).join(', ')}).` };
        return setScheme(c, s);
      },
    },
  };
}

/** The storage part of the order summary (the confirm step of /deploy). */
export function storageOrderLines(
  c: FlowContext<StorageDraftData>,
  name: string,
  placement: Placement,
  quote: Extract<Plan, { ok: true }>,
): string[] {
  const p = profileOf(c);
  const s = c.data.storage!;
  const l = storageLayout(p.storage, s.usableGb, s);
  const n = l.data + l.parity;
  const nodes = new Set(quote.nodes.map((x) => x.nodeId)).size;
  const countries = [...new Set(quote.nodes.map((x) => x.country))].join(', ');
  return [
    `${esc(p.title)} named <b>${esc(name)}</b>: <b>${formatGb(l.usableGb)}</b> usable`,
    `Redundancy ${schemeLabel(l)}: ${plural(n, 'data backend')} of ${formatGb(l.backendGb)} on ${n} different nodes; ${schemeWords(l)}.`,
    `Plus ${META_BACKENDS} metadata 0-dbs of ${formatGb(l.metaGb)}; ${formatGb(l.rawGb)} of disk in all, on ${plural(nodes, 'grid node')}.`,
    `Where: ${esc(placementLabel(placement))} (nodes in ${esc(countries)})`,
    'You get a zstor configuration file and the steps to mount it on any Linux machine.',
  ];
}

/**
 * What the where step should count room for when the profile is a storage one: one data backend's
 * disk (the order needs `count` = k + m distinct nodes with it). Undefined for other profiles, or
 * before the size and redundancy are chosen.
 */
export function storageWhereSpec(c: FlowContext<StorageDraftData>): BackendSpec | undefined {
  const p = c.services.profiles.find((x) => x.id === c.data.profileId);
  const s = c.data.storage;
  if (!p?.storage || p.kind !== 'storage' || !s) return undefined;
  return backendSpec(storageLayout(p.storage, s.usableGb, s), 'data');
}

/**
 * The node's own view of its health, beyond the grid's workload state: is the chain synced, how far
 * along is it, does the 0-db answer. The real prober asks the node over the network (JSON-RPC,
 * RESP); the simulated grid answers for its own contracts.
 */
import type { ProbeSpec } from '../catalog/types.js';

export interface ProbeTarget {
  contractId: number;
  publicIp?: string;
  mycelium?: string;
  /** the credentials the node's RPC wants (the Dash RPC user and password the bot generated) */
  secrets: Record<string, string>;
}

export interface ProbeResult {
  /** unreachable: no answer from here, which is not the node's fault (a firewall, Mycelium) */
  state: 'synced' | 'syncing' | 'unreachable';
  /** 0..1 while syncing */
  progress?: number;
  /** the chain height the node has: a height that does not move while syncing is a stalled sync */
  height?: number;
  detail?: string;
}

/** Where to ask a node, and with what: only the Bitcoin-style RPC wants the credentials the bot generated. */
export function probeTargetOf(
  spec: ProbeSpec,
  n: { contractIds: number[]; publicIp?: string; mycelium?: string },
  secrets: () => Record<string, string>,
): ProbeTarget {
  return {
    contractId: n.contractIds[0] ?? -1,
    ...(n.publicIp ? { publicIp: n.publicIp } : {}),
    ...(n.mycelium ? { mycelium: n.mycelium } : {}),
    secrets: spec.kind === 'bitcoin-rpc' ? secrets() : {},
  };
}

export interface Prober {
  probe(spec: ProbeSpec, target: ProbeTarget): Promise<ProbeResult>;
}

/** "syncing 63%", "synced", … for the chat. */
export function syncLabel(r: { state: string; progress?: number; stalledSince?: number }): string {
  if (r.stalledSince !== undefined) return `sync stalled at ${Math.floor((r.progress ?? 0) * 100)}%`;
  if (r.state === 'syncing') return `syncing ${Math.floor((r.progress ?? 0) * 100)}%`;
  return r.state;
}

/** What a node profile is: plain data about one kind of node, plus how to validate what the user gives. */
import type { VmDisk } from '../grid/port.js';

export type ParseResult = { ok: true; value: string } | { ok: false; error: string };

export interface ProfileInput {
  key: string;
  /** the question, in the chat */
  prompt: string;
  /** sealed at rest and never echoed back */
  secret: boolean;
  parse(text: string): ParseResult;
}

/**
 * One size of a profile: the machine and its disks. A profile with several (Polygon's mainnet and
 * Amoy, with very different disks) asks the user which; the first is the default.
 */
export interface ProfileSize {
  id: string;
  /** what the picker shows, e.g. "Mainnet · 8 vCPU · 32 GB · 4 TB" */
  label: string;
  cpu: number;
  memoryMb: number;
  rootfsGb: number;
  disks: VmDisk[];
  /** environment this size adds to the VM (e.g. the network it joins) */
  env?: Record<string, string>;
}

/**
 * How a node's own health is checked beyond the grid's workload state, where it is reachable:
 * the chain's sync status (Dash, DigiByte: JSON-RPC getblockchaininfo; Polygon: Bor eth_syncing and
 * Heimdall /status) or a 0-db's PING/NSINFO.
 */
export type ProbeSpec =
  | { kind: 'bitcoin-rpc'; port: number }
  | { kind: 'polygon'; borPort: number; heimdallPort: number }
  | { kind: 'zdb'; port: number }
  | { kind: 'none' };

/**
 * What a storage profile offers (0-db backends for zstor / the quantum-safe filesystem): the sizes
 * the picker shows, the sizes it accepts, the erasure-coding schemes (the first is the default).
 */
export interface StorageSpec {
  /** usable GB offered as buttons */
  presetsGb: number[];
  /** usable GB a typed answer may ask for */
  minGb: number;
  maxGb: number;
  /** k data + m parity shards; the first is the default */
  schemes: { data: number; parity: number }[];
  /** each of zstor's 4 metadata 0-dbs, GB */
  metaGb: number;
  /** extra room per data backend over its share, for 0-db's index and headers (0.1 = 10%) */
  headroom: number;
}

export interface NodeProfile {
  id: string;
  chain: string;
  title: string;
  /** a VM running the chain's node (the default), or storage (0-db backends): /extend offers more storage for those */
  kind?: 'vm' | 'storage';
  /** one line for the picker */
  summary: string;
  flist: string;
  /** where the image comes from, said to the user and in the README when it is not an official grid image */
  imageNote: string;
  entrypoint: string;
  /** at least one; the first is the default */
  sizes: ProfileSize[];
  publicIpv4: boolean;
  ports: string;
  inputs: ProfileInput[];
  /** a caution shown before the user pays */
  notice?: string;
  /** the VM's environment from the user's inputs and the secrets the bot generated */
  env(inputs: Record<string, string>, generated: Record<string, string>): Record<string, string>;
  /** secrets the bot makes for each deployment (RPC passwords…), shown once at the end */
  generate?(): Record<string, string>;
  /** how the user reaches a node, shown with its address */
  howToReach(ip: string | undefined): string;
  /** the chain's own health check; absent means none beyond the workload state */
  probe?: ProbeSpec;
  /** the image starts sshd with the SSH_KEY the user set in /settings */
  ssh?: boolean;
  /** kind 'storage': what sizes and redundancies it offers */
  storage?: StorageSpec;
}

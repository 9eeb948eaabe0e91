/**
 * TFChain as the chain watcher reads it: the part of @polkadot/api it uses (a seam tests fake),
 * transfer ids (`<block>-<eventIndex>`), and a block's events decoded into deposits and contract
 * events (shapes as TFChain's runtime metadata has them; see chain-watcher.ts).
 */
import { decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import type { Units } from '../domain/money.js';
import { TFCHAIN_SS58 } from './identity.js';
import type { AccountDataLike } from './tfchain.js';

// ------------------------------------------------------------------ the seam: what is read of @polkadot/api

/** Any decoded chain value: numbers print as decimals, accounts as SS58 addresses. */
export interface CodecLike {
  toString(): string;
}
export interface NumberLike {
  toNumber(): number;
}
/** A struct field container: @polkadot's Struct is a Map with getters; fakes may be plain objects. */
export interface StructLike extends CodecLike {
  get?(key: string): CodecLike | undefined;
}
export interface PhaseLike {
  isApplyExtrinsic: boolean;
  asApplyExtrinsic: NumberLike;
  toString(): string;
}
export interface EventLike {
  section: string;
  method: string;
  /** positional fields (named events are positional too) */
  data: ArrayLike<StructLike>;
}
export interface EventRecordLike {
  phase: PhaseLike;
  event: EventLike;
}
export interface HeaderLike {
  number: NumberLike;
  hash: CodecLike;
}
export interface ExtrinsicLike {
  method: { section: string; method: string; args: ArrayLike<CodecLike> };
}
export interface SignedBlockLike {
  block: { extrinsics: ArrayLike<ExtrinsicLike> };
}
/** `await api.at(blockHash)`: storage as it was at that block, decoded with that block's metadata. */
export interface ChainApiAt {
  query: {
    system: {
      events(): Promise<ArrayLike<EventRecordLike>>;
      /** an account as of that block (TfChain reads balances where the watcher stands) */
      account?(address: string): Promise<{ data: AccountDataLike }>;
    };
    tftBridgeModule?: { depositFee?(): Promise<CodecLike> };
  };
}
/** What the watcher reads: the part of an `ApiPromise` it uses. */
export interface ChainReadApi {
  readonly isConnected: boolean;
  at(hash: string): Promise<ChainApiAt>;
  rpc: {
    chain: {
      subscribeFinalizedHeads(cb: (header: HeaderLike) => void): Promise<() => void>;
      getFinalizedHead(): Promise<CodecLike>;
      getHeader(hash?: string): Promise<HeaderLike>;
      getBlockHash(blockNumber: number): Promise<CodecLike>;
      getBlock(hash: string): Promise<SignedBlockLike>;
    };
  };
  on?(type: 'connected' | 'disconnected' | 'error', handler: (...args: unknown[]) => void): unknown;
}

// ------------------------------------------------------------------ ids, addresses, amounts

/** Who a bridge mint is "from" in a Transfer: it has no sender account on TFChain. */
export const BRIDGE_SENDER = 'tft-bridge';

export interface EventId {
  block: number;
  index: number;
}

/** `<blockNumber>-<eventIndex>`, the id of a deposit or transfer on TFChain. */
export function transferId(block: number, index: number): string {
  return `${block}-${index}`;
}

/** Parses `<blockNumber>-<eventIndex>`; undefined for anything else (a sim id, garbage). */
export function parseTransferId(id: string): EventId | undefined {
  const m = /^(\d{1,12})-(\d{1,6})$/.exec(id);
  return m ? { block: Number(m[1]), index: Number(m[2]) } : undefined;
}

/** Chain order: by block, then by event index. */
export function compareIds(a: EventId, b: EventId): number {
  return a.block - b.block || a.index - b.index;
}

/** The address in TFChain's SS58 format (prefix 42), or undefined when it is not an account. */
export function normalizeAddress(address: string): string | undefined {
  if (typeof address !== 'string' || address.length === 0 || address.length > 64) return undefined;
  try {
    return encodeAddress(decodeAddress(address), TFCHAIN_SS58);
  } catch {
    return undefined;
  }
}

/** A chain integer (u128 balances print as decimals) as a bigint. */
export function bigOf(c: CodecLike | undefined, what: string): bigint {
  const s = c?.toString();
  if (s === undefined || !/^\d+$/.test(s)) throw new Error(`${what} is not an unsigned integer: ${String(s)}`);
  return BigInt(s);
}

/** Units from chain integers; refuses what a JavaScript number cannot hold exactly. */
export function unitsOf(n: bigint, what: string): Units {
  if (n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`${what} is ${n} units, more than Jukebox can count exactly (at most ${Number.MAX_SAFE_INTEGER})`);
  }
  return Number(n);
}

function field(s: StructLike | undefined, name: string): CodecLike | undefined {
  if (!s) return undefined;
  return s.get?.(name) ?? (s as unknown as Record<string, CodecLike | undefined>)[name];
}

function phaseKey(p: PhaseLike): string {
  return p.isApplyExtrinsic ? `x${p.asApplyExtrinsic.toNumber()}` : p.toString();
}

// ------------------------------------------------------------------ decoding a block's events

export interface ChainDeposit {
  id: string;
  block: number;
  index: number;
  kind: 'transfer' | 'mint';
  from: string;
  to: string;
  amount: bigint;
  /** a mint whose credited amount was not found in its Deposit event: subtract the bridge's deposit fee */
  feeNotDeducted?: boolean;
}

export type ContractEventKind = 'grace_started' | 'grace_ended' | 'canceled';
/** A node contract's state change, with the twin that owns it. */
export interface ContractEvent {
  kind: ContractEventKind;
  contractId: number;
  twinId: number;
  nodeId: number;
  block: number;
}
/** Grace ran out and the contract is deleted (newer runtimes); it names no twin, only the contract. */
export interface GraceElapsedEvent {
  kind: 'grace_elapsed';
  contractId: number;
  block: number;
}
export type ContractChange = ContractEvent | GraceElapsedEvent;

const CONTRACT_EVENTS: Record<string, ContractEventKind> = {
  ContractGracePeriodStarted: 'grace_started',
  ContractGracePeriodEnded: 'grace_ended',
  NodeContractCanceled: 'canceled',
};

/**
 * The deposits (to any address) and contract events of one block, in event order. Events it
 * cannot read are skipped, so one odd event never holds the watcher up; the caller logs `skipped`.
 */
export function decodeBlockEvents(
  block: number,
  records: ArrayLike<EventRecordLike>,
): { deposits: ChainDeposit[]; contracts: ContractChange[]; skipped: string[] } {
  const deposits: ChainDeposit[] = [];
  const contracts: ContractChange[] = [];
  const skipped: string[] = [];
  /** the last Deposit/Endowed amount per (phase, account) since that phase's last mint */
  const credited = new Map<string, bigint>();
  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    const { section, method, data } = rec.event;
    try {
      if (section === 'balances' && method === 'Transfer') {
        const from = normalizeAddress(String(data[0])) ?? String(data[0]);
        const to = normalizeAddress(String(data[1]));
        if (!to) throw new Error(`unreadable recipient ${String(data[1])}`);
        deposits.push({ id: transferId(block, i), block, index: i, kind: 'transfer', from, to, amount: bigOf(data[2], 'amount') });
      } else if (section === 'balances' && (method === 'Deposit' || method === 'Endowed')) {
        const who = normalizeAddress(String(data[0]));
        const key = `${phaseKey(rec.phase)}/${who}`;
        // Deposit is what was added; Endowed (a new account) only stands in when no Deposit came
        if (who && (method === 'Deposit' || !credited.has(key))) credited.set(key, bigOf(data[1], 'amount'));
      } else if (section === 'tftBridgeModule' && method === 'MintCompleted') {
        const tx = data[0];
        const to = normalizeAddress(String(field(tx, 'target')));
        if (!to) throw new Error(`unreadable mint target ${String(field(tx, 'target'))}`);
        const gross = bigOf(field(tx, 'amount'), 'mint amount');
        const phase = phaseKey(rec.phase);
        const net = credited.get(`${phase}/${to}`);
        for (const k of [...credited.keys()]) if (k.startsWith(`${phase}/`)) credited.delete(k);
        const d: ChainDeposit = { id: transferId(block, i), block, index: i, kind: 'mint', from: BRIDGE_SENDER, to, amount: net ?? gross };
        if (net === undefined) d.feeNotDeducted = true;
        deposits.push(d);
      } else if (section === 'smartContractModule') {
        const kind = CONTRACT_EVENTS[method];
        if (kind) {
          contracts.push({
            kind,
            contractId: Number(bigOf(data[0], 'contract_id')),
            nodeId: Number(bigOf(data[1], 'node_id')),
            twinId: Number(bigOf(data[2], 'twin_id')),
            block,
          });
        } else if (method === 'ContractGracePeriodElapsed') {
          contracts.push({ kind: 'grace_elapsed', contractId: Number(bigOf(data[0], 'contract_id')), block });
        }
      }
    } catch (err) {
      skipped.push(`${section}.${method} #${i}: ${(err as Error).message}`);
    }
  }
  return { deposits, contracts, skipped };
}

/** The block's time (ms) from its `timestamp.set` inherent; undefined when the block has none. */
export function blockTimeOf(signed: SignedBlockLike): number | undefined {
  const xts = signed.block.extrinsics;
  for (let i = 0; i < xts.length; i++) {
    const m = xts[i]!.method;
    if (m.section === 'timestamp' && m.method === 'set') {
      const t = Number(m.args[0]?.toString());
      return Number.isSafeInteger(t) && t > 0 ? t : undefined;
    }
  }
  return undefined;
}

/** What a node answers when it no longer has a block's state (a pruning, non-archive node keeps ~256 blocks). */
export function isPrunedState(err: unknown): boolean {
  return /state already discarded|state (?:was |has been )?pruned/i.test(String((err as Error)?.message ?? err));
}

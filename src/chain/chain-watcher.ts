/**
 * Follows TFChain's finalized blocks and reads each block's events once, in order, never skipping
 * one it can still read: deposits into watched addresses go to a durable inbox (what
 * `TfChain.incomingTransfers` reads), contract grace and cancel events go to a listener (the
 * watchdog), so neither waits for a polling pass.
 *
 * Crash safety: a block's deposits are appended and fsynced to `deposits.jsonl` before the cursor
 * (`cursor.json`, the last block fully processed) moves past it. A crash in between re-reads the
 * block on the next start, and the inbox, deduplicated by transfer id (`<block>-<eventIndex>`),
 * records nothing twice. Contract events are delivered at least once.
 *
 * Heads come from `chain_subscribeFinalizedHeads`; when the subscription drops (the API reports a
 * disconnect, or no head came for `staleMs`) the watcher polls the finalized head every `pollMs`
 * and subscribes again as soon as it can. Between the cursor and the head it reads up to
 * `concurrency` blocks at once and applies them in order. A block whose read fails is retried; the
 * cursor does not move past it. The one exception is a block whose state the node has pruned
 * ("State already discarded": a non-archive node keeps ~256 blocks of state): it can never be read
 * there, so the watcher records a gap, marks every watched address as no longer covered before it
 * (their history is then taken from the indexer, see TfChain) and goes on.
 *
 * What counts as a deposit (event shapes as TFChain's runtime metadata has them):
 * - `balances.Transfer { from, to, amount }` with `to` a watched address;
 * - `tftBridgeModule.MintCompleted(MintTransaction { amount, target, block, votes }, tx_id)`, a
 *   Stellar bridge deposit. `amount` there is before the bridge's deposit fee; the amount credited
 *   is the `balances.Deposit { who: target }` the mint made in the same extrinsic, or else
 *   `amount - tftBridgeModule.depositFee` at that block.
 */
import { mkdir, open, readFile, rename, rm, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import type { Units } from '../domain/money.js';
import type { Transfer } from '../grid/port.js';
import { silentLogger, type Logger } from '../log.js';
import { TFCHAIN_SS58 } from './identity.js';

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
    system: { events(): Promise<ArrayLike<EventRecordLike>> };
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

// ------------------------------------------------------------------ the deposit inbox

/** A deposit as the inbox keeps it: a Transfer with its place in the chain and in the inbox. */
interface Stored extends Transfer {
  block: number;
  index: number;
  kind: 'transfer' | 'mint';
  via: 'chain' | 'indexer';
  /** order of recording: what "after" means for ids the inbox knows */
  seq: number;
}

export interface DepositInput {
  id: string;
  kind: 'transfer' | 'mint';
  from: string;
  to: string;
  amount: Units;
  at: number;
}

type Line =
  | { op: 'dep'; id: string; kind: 'transfer' | 'mint'; from: string; to: string; amount: number; at: number; via: 'chain' | 'indexer' }
  | { op: 'watch'; address: string; coveredFrom: number }
  | { op: 'unwatch'; address: string; through: number }
  | { op: 'covered'; address: string }
  | { op: 'gap'; through: number };

interface AddressState {
  watched: boolean;
  /** every block from here on was read while the address was watched; 0: its whole history is here */
  coveredFrom?: number;
  /** the last block decoded before it was unwatched: watching again before the next keeps coverage */
  unwatchedThrough?: number;
  deps: Stored[];
}

/** What the inbox knows about an address. */
export interface Coverage {
  watched: boolean;
  coveredFrom: number | undefined;
}

function parseLine(raw: string): Line {
  const l = JSON.parse(raw) as Partial<Record<string, unknown>> & { op?: unknown };
  const str = (k: string) => typeof l[k] === 'string' && (l[k] as string).length > 0;
  const int = (k: string) => Number.isSafeInteger(l[k]) && (l[k] as number) >= 0;
  const ok =
    (l.op === 'dep' && str('id') && str('from') && str('to') && int('amount') && int('at') && (l.kind === 'transfer' || l.kind === 'mint') && (l.via === 'chain' || l.via === 'indexer')) ||
    (l.op === 'watch' && str('address') && int('coveredFrom')) ||
    (l.op === 'unwatch' && str('address') && Number.isSafeInteger(l.through) && (l.through as number) >= -1) ||
    (l.op === 'covered' && str('address')) ||
    (l.op === 'gap' && int('through'));
  if (!ok) throw new Error('not an inbox entry');
  return l as unknown as Line;
}

/**
 * Deposits into watched addresses, in one append-only JSON-lines file with an index by address in
 * memory. Adding a deposit twice records it once. It also keeps, per address, since which block
 * it holds every deposit ("coverage"), so TfChain knows when to ask the indexer for older ones.
 */
export class DepositInbox {
  private readonly byAddress = new Map<string, AddressState>();
  private readonly byId = new Map<string, Stored>();
  private fh: FileHandle | undefined;
  private lines = 0;
  private seq = 0;
  /** ids being written: a concurrent record() of the same deposit (the watcher and a backfill) skips them */
  private readonly writing = new Set<string>();
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async open(): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const text = await readFile(this.file, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? '' : Promise.reject(e)));
    const raws = text.split('\n');
    // a kill mid-write leaves at most the last line without its newline: it was never acknowledged.
    // Cut it off, or the next append would run on from it and spoil a good line.
    const torn = raws.pop();
    if (torn) await truncate(this.file, Buffer.byteLength(text) - Buffer.byteLength(torn));
    raws.forEach((raw, i) => {
      if (raw === '') return;
      let l: Line;
      try {
        l = parseLine(raw);
      } catch (e) {
        throw new Error(`${this.file}:${i + 1}: bad inbox line (${(e as Error).message})`);
      }
      this.apply(l);
      this.lines++;
    });
    const live = this.byId.size + this.byAddress.size * 2;
    if (this.lines > 2 * live + 1000) await this.compact();
    else this.fh = await open(this.file, 'a', 0o600);
  }

  async close(): Promise<void> {
    await this.chain;
    await this.fh?.close();
    this.fh = undefined;
  }

  isWatched(address: string): boolean {
    return this.byAddress.get(address)?.watched ?? false;
  }

  watchedCount(): number {
    let n = 0;
    for (const s of this.byAddress.values()) if (s.watched) n++;
    return n;
  }

  coverage(address: string): Coverage {
    const s = this.byAddress.get(address);
    return { watched: s?.watched ?? false, coveredFrom: s?.coveredFrom };
  }

  /**
   * Starts recording deposits into the address from the block after `decodedThrough`. Watching
   * it again before any other block was decoded keeps its earlier coverage. No-op when watched.
   */
  async watch(address: string, decodedThrough: number): Promise<void> {
    const s = this.byAddress.get(address);
    if (s?.watched) return;
    const keeps = s?.coveredFrom !== undefined && s.unwatchedThrough === decodedThrough;
    const l: Line = { op: 'watch', address, coveredFrom: keeps ? s!.coveredFrom! : decodedThrough + 1 };
    this.apply(l);
    await this.append([l], false);
  }

  async unwatch(address: string, decodedThrough: number): Promise<void> {
    if (!this.byAddress.get(address)?.watched) return;
    const l: Line = { op: 'unwatch', address, through: decodedThrough };
    this.apply(l);
    await this.append([l], false);
  }

  /** The address's whole history is now here (the indexer's part was added): coverage from block 0. */
  async markCovered(address: string): Promise<void> {
    const s = this.byAddress.get(address);
    if (!s?.watched || s.coveredFrom === 0) return;
    const l: Line = { op: 'covered', address };
    this.apply(l);
    await this.append([l], false);
  }

  /** Blocks up to `through` could not be read: watched addresses are covered only after it. */
  async gap(through: number): Promise<void> {
    const l: Line = { op: 'gap', through };
    this.apply(l);
    await this.append([l], true);
  }

  /** Records the deposits not recorded yet, durably (fsynced) before it resolves; returns those. */
  async record(deposits: DepositInput[], via: 'chain' | 'indexer'): Promise<Transfer[]> {
    const lines: Line[] = [];
    const seen = new Set<string>();
    for (const d of deposits) {
      if (this.byId.has(d.id) || this.writing.has(d.id) || seen.has(d.id)) continue;
      if (!parseTransferId(d.id)) throw new Error(`not a TFChain transfer id: ${d.id}`);
      seen.add(d.id);
      lines.push({ op: 'dep', id: d.id, kind: d.kind, from: d.from, to: d.to, amount: d.amount, at: d.at, via });
    }
    if (lines.length === 0) return [];
    for (const id of seen) this.writing.add(id);
    try {
      await this.append(lines, true);
      // indexed once on disk: a failed write leaves nothing half-known
      for (const l of lines) this.apply(l);
    } finally {
      for (const id of seen) this.writing.delete(id);
    }
    return [...seen].map((id) => toTransfer(this.byId.get(id)!));
  }

  /**
   * Deposits into the address, in the order they were recorded (which is chain order, except that
   * deposits the indexer filled in later come after those recorded before them). `after`: the
   * last id already seen; an id the inbox does not know is compared in chain order.
   */
  list(address: string, after?: string): Transfer[] {
    const deps = this.byAddress.get(address)?.deps ?? [];
    let out = deps;
    if (after !== undefined) {
      const known = this.byId.get(after);
      if (known && known.to === address) out = deps.filter((d) => d.seq > known.seq);
      else {
        const a = parseTransferId(after);
        if (!a) throw new Error(`not a TFChain transfer id: ${after}`);
        out = deps.filter((d) => compareIds(d, a) > 0);
      }
    }
    return out.map(toTransfer);
  }

  private state(address: string): AddressState {
    let s = this.byAddress.get(address);
    if (!s) this.byAddress.set(address, (s = { watched: false, deps: [] }));
    return s;
  }

  private apply(l: Line): void {
    switch (l.op) {
      case 'dep': {
        if (this.byId.has(l.id)) return;
        const id = parseTransferId(l.id);
        if (!id) return;
        const d: Stored = { id: l.id, from: l.from, to: l.to, amount: l.amount, at: l.at, block: id.block, index: id.index, kind: l.kind, via: l.via, seq: ++this.seq };
        this.byId.set(l.id, d);
        this.state(l.to).deps.push(d);
        return;
      }
      case 'watch': {
        const s = this.state(l.address);
        s.watched = true;
        s.coveredFrom = l.coveredFrom;
        delete s.unwatchedThrough;
        return;
      }
      case 'unwatch': {
        const s = this.state(l.address);
        s.watched = false;
        s.unwatchedThrough = l.through;
        return;
      }
      case 'covered':
        this.state(l.address).coveredFrom = 0;
        return;
      case 'gap':
        for (const s of this.byAddress.values()) {
          if (s.coveredFrom !== undefined) s.coveredFrom = Math.max(s.coveredFrom, l.through + 1);
          // an unwatched address's coverage cannot be resumed across the gap
          if (!s.watched) delete s.unwatchedThrough;
        }
        return;
    }
  }

  private append(lines: Line[], sync: boolean): Promise<void> {
    const written = this.chain.then(async () => {
      if (!this.fh) throw new Error(`${this.file} is not open`);
      await this.fh.write(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
      if (sync) await this.fh.sync();
      this.lines += lines.length;
    });
    this.chain = written.catch(() => undefined);
    return written;
  }

  /** Rewrites the live lines to a temp file, fsyncs and renames it over the inbox. */
  private async compact(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    const out: Line[] = [];
    for (const d of [...this.byId.values()].sort((a, b) => a.seq - b.seq)) {
      out.push({ op: 'dep', id: d.id, kind: d.kind, from: d.from, to: d.to, amount: d.amount, at: d.at, via: d.via });
    }
    for (const [address, s] of this.byAddress) {
      if (s.coveredFrom === undefined) continue;
      out.push({ op: 'watch', address, coveredFrom: s.coveredFrom });
      if (!s.watched) out.push({ op: 'unwatch', address, through: s.unwatchedThrough ?? -1 });
    }
    try {
      await fh.write(out.map((l) => `${JSON.stringify(l)}\n`).join(''));
      await fh.sync();
      await rename(tmp, this.file);
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw err;
    }
    [this.fh, this.lines] = [fh, out.length];
  }
}

function toTransfer(d: Stored): Transfer {
  return { id: d.id, from: d.from, to: d.to, amount: d.amount, at: d.at };
}

// ------------------------------------------------------------------ the cursor

interface CursorDoc {
  version: 1;
  /** the last block fully processed */
  block: number;
  hash?: string;
  savedAt: number;
}

async function readCursor(file: string): Promise<CursorDoc | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const doc = JSON.parse(text) as Partial<CursorDoc>;
  if (doc.version !== 1 || !Number.isSafeInteger(doc.block) || (doc.block as number) < 0) throw new Error(`${file}: not a chain cursor`);
  return doc as CursorDoc;
}

/** Temp file, fsync, rename: a crash leaves the old cursor or the new one. */
async function writeCursor(file: string, doc: CursorDoc): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.write(`${JSON.stringify(doc)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

// ------------------------------------------------------------------ the watcher

export interface ChainWatcherOptions {
  /** where cursor.json and deposits.jsonl live, e.g. `<dataDir>/chain` */
  dir: string;
  log?: Logger;
  /** how often the finalized head is polled while the subscription is down; default 6 s (a block) */
  pollMs?: number;
  /** a subscription that brought no head for this long counts as dropped; default 60 s */
  staleMs?: number;
  /** blocks read at once while catching up (applied in order); default 4 */
  concurrency?: number;
  /** wait before reading a failed block again; default 3 s */
  retryMs?: number;
  /** a block read that takes longer counts as failed and is retried; default 60 s */
  readTimeoutMs?: number;
  /** injectable for tests: how the watcher waits */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** What the node says when it no longer has a block's state (a pruning, non-archive node). */
const PRUNED = /state already discarded|state (?:was |has been )?pruned/i;
/** How far behind the head a pruning node still has state (it keeps 256 blocks by default). */
const RECENT_STATE_BLOCKS = 128;

interface ReadBlock {
  number: number;
  hash: string;
  at: ChainApiAt;
  records: ArrayLike<EventRecordLike>;
}

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export class ChainWatcher {
  readonly inbox: DepositInbox;
  private readonly cursorFile: string;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly staleMs: number;
  private readonly concurrency: number;
  private readonly retryMs: number;
  private readonly readTimeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  private running = false;
  private stopSignal: () => void = () => undefined;
  private stopped: Promise<void> = Promise.resolve();
  private readyPromise: Promise<void> | undefined;
  /** last block fully processed (deposits recorded, events emitted) */
  private cursor = -1;
  private savedCursor = -1;
  private cursorHash: string | undefined;
  /** last block whose events were matched against the watched set (runs ahead of `cursor` within a block) */
  private decodedThrough = -1;
  /** the highest finalized block known */
  private target = -1;
  private pumping: Promise<void> | undefined;
  private pollLoop: Promise<void> | undefined;
  private subscribed = false;
  private subGen = 0;
  private unsub: (() => unknown) | undefined;
  private lastHeadAt = 0;
  private failures = 0;
  private pollFailures = 0;
  private readonly contractListeners = new Set<(e: ContractChange) => void | Promise<void>>();
  private readonly depositListeners = new Set<(t: Transfer) => void | Promise<void>>();

  constructor(
    private readonly api: ChainReadApi,
    opts: ChainWatcherOptions,
  ) {
    this.inbox = new DepositInbox(path.join(opts.dir, 'deposits.jsonl'));
    this.cursorFile = path.join(opts.dir, 'cursor.json');
    this.log = opts.log ?? silentLogger;
    this.pollMs = opts.pollMs ?? 6000;
    this.staleMs = opts.staleMs ?? 60_000;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.retryMs = opts.retryMs ?? 3000;
    this.readTimeoutMs = opts.readTimeoutMs ?? 60_000;
    this.sleep = opts.sleep ?? defaultSleep;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Opens the inbox and the cursor, subscribes, and starts catching up from the cursor (in the
   * background). With no cursor (the first start) it waits for the chain's finalized head and
   * begins there.
   */
  start(): Promise<void> {
    if (this.readyPromise) return this.readyPromise;
    this.running = true;
    this.stopped = new Promise((resolve) => (this.stopSignal = resolve));
    this.readyPromise = this.init();
    return this.readyPromise;
  }

  /** Resolves once started (inbox open, cursor known); rejects when the watcher was never started. */
  ready(): Promise<void> {
    return this.readyPromise ?? Promise.reject(new Error('the chain watcher is not started'));
  }

  /** Stops following, lets the block in hand finish, saves the cursor and closes the inbox. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopSignal();
    this.dropSubscription();
    await this.readyPromise?.catch(() => undefined);
    await this.idle();
    await this.pollLoop;
    await this.saveCursor();
    await this.inbox.close();
  }

  /** Resolves when every known finalized block is processed (or the watcher stopped). */
  async idle(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** Where the watcher is: for health checks and logs. */
  stats(): { cursor: number; head: number; subscribed: boolean; watched: number } {
    return { cursor: this.cursor, head: this.target, subscribed: this.subscribed, watched: this.inbox.watchedCount() };
  }

  /**
   * Deposits into this address are recorded from the next block on. Idempotent and cheap; the set
   * is kept on disk, so it survives a restart. Resolves once the inbox file has the address.
   */
  async watch(address: string): Promise<void> {
    await this.ready();
    await this.inbox.watch(this.normalized(address), this.decodedThrough);
  }

  async unwatch(address: string): Promise<void> {
    await this.ready();
    await this.inbox.unwatch(this.normalized(address), this.decodedThrough);
  }

  isWatched(address: string): boolean {
    const a = normalizeAddress(address);
    return a !== undefined && this.inbox.isWatched(a);
  }

  /** Listens to contract grace and cancel events; returns a function that stops listening. */
  onContractEvent(fn: (e: ContractChange) => void | Promise<void>): () => void {
    this.contractListeners.add(fn);
    return () => this.contractListeners.delete(fn);
  }

  /** Listens to deposits as they are recorded (once each): a wallet can credit at once. */
  onDeposit(fn: (t: Transfer) => void | Promise<void>): () => void {
    this.depositListeners.add(fn);
    return () => this.depositListeners.delete(fn);
  }

  /**
   * One polling round: when the subscription is down or silent, reads the finalized head, catches
   * up to it and subscribes again. The watcher runs this every `pollMs`; tests call it by hand.
   */
  async pollOnce(): Promise<void> {
    if (!this.running) return;
    const fresh = this.subscribed && this.api.isConnected && this.now() - this.lastHeadAt < this.staleMs;
    if (fresh) return;
    if (this.subscribed) {
      this.log.warn({ silentMs: this.now() - this.lastHeadAt }, 'chain watcher: no finalized head from the subscription; polling');
      this.dropSubscription();
    }
    try {
      await this.readHead();
      this.pollFailures = 0;
    } catch (err) {
      // once, then now and then: an outage of an hour should not write 600 lines
      if (this.pollFailures++ % 50 === 0) this.log.warn({ err, failures: this.pollFailures }, 'chain watcher: polling the finalized head failed');
      return;
    }
    await this.subscribe();
  }

  // ---------------------------------------------------------------- internals

  /** Reads the finalized head and catches up to it. */
  private async readHead(): Promise<void> {
    const hash = await this.api.rpc.chain.getFinalizedHead();
    this.onHead((await this.api.rpc.chain.getHeader(hash.toString())).number.toNumber());
  }

  private normalized(address: string): string {
    const a = normalizeAddress(address);
    if (!a) throw new Error(`not a TFChain address: ${address.length > 64 ? `${address.slice(0, 64)}…` : address}`);
    return a;
  }

  private async init(): Promise<void> {
    await this.inbox.open();
    const saved = await readCursor(this.cursorFile);
    if (saved) {
      this.cursor = this.savedCursor = saved.block;
      this.cursorHash = saved.hash;
      await this.checkSameChain(saved);
    } else {
      const head = await this.firstHead();
      if (head === undefined) return; // stopped meanwhile
      this.cursor = head - 1; // the head itself is the first block read
      this.log.info({ head }, 'chain watcher: no cursor, starting at the finalized head');
    }
    this.decodedThrough = this.cursor;
    this.target = Math.max(this.target, this.cursor);
    this.api.on?.('disconnected', () => {
      if (!this.subscribed) return;
      this.log.warn('chain watcher: TFChain disconnected; polling until it can subscribe again');
      this.dropSubscription();
    });
    this.api.on?.('connected', () => void this.pollOnce());
    await this.subscribe();
    // the head now, whether or not the subscription sends it first: catching up starts at once
    await this.readHead().catch((err: unknown) => this.log.warn({ err }, 'chain watcher: cannot read the finalized head; polling'));
    this.kick();
    this.pollLoop = this.runPollLoop();
  }

  /**
   * A test network that was reset has another block at the cursor's height: the blocks after the
   * cursor are not the ones missed, so the watcher starts again at the head (and says so loudly).
   * A node that is only behind (no block at that height yet) is waited for.
   */
  private async checkSameChain(saved: CursorDoc): Promise<void> {
    if (!saved.hash) return;
    let there: string;
    try {
      there = (await this.timed('checking the cursor block', () => this.api.rpc.chain.getBlockHash(saved.block))).toString();
    } catch (err) {
      this.log.warn({ err, cursor: saved.block }, 'chain watcher: cannot check the cursor block; going on from it');
      return;
    }
    if (!/^0x[0-9a-f]{64}$/i.test(there) || /^0x0+$/.test(there) || there === saved.hash) return;
    const head = await this.firstHead();
    if (head === undefined) return;
    this.log.error(
      { cursor: saved.block, savedHash: saved.hash, chainHash: there, head },
      'chain watcher: the chain at the cursor is not the chain it was (a reset network?); starting again at its head. Deposits recorded before may belong to the old chain',
    );
    await this.inbox.gap(head - 1);
    this.cursor = head - 1;
    this.cursorHash = undefined;
  }

  private async firstHead(): Promise<number | undefined> {
    while (this.running) {
      try {
        const hash = await this.api.rpc.chain.getFinalizedHead();
        return (await this.api.rpc.chain.getHeader(hash.toString())).number.toNumber();
      } catch (err) {
        this.log.warn({ err }, 'chain watcher: cannot read the finalized head yet');
        await this.wait(this.retryMs);
      }
    }
    return undefined;
  }

  private wait(ms: number): Promise<void> {
    return Promise.race([this.sleep(ms), this.stopped]);
  }

  private async runPollLoop(): Promise<void> {
    while (this.running) {
      await this.wait(this.pollMs);
      if (!this.running) return;
      await this.pollOnce().catch((err: unknown) => this.log.error({ err }, 'chain watcher: polling round failed'));
    }
  }

  private async subscribe(): Promise<void> {
    if (this.subscribed || !this.running) return;
    const gen = ++this.subGen;
    try {
      const unsub = await this.api.rpc.chain.subscribeFinalizedHeads((header) => {
        if (gen !== this.subGen) return; // a subscription given up on
        try {
          this.lastHeadAt = this.now();
          this.onHead(header.number.toNumber());
        } catch (err) {
          this.log.error({ err }, 'chain watcher: bad finalized head from the subscription');
        }
      });
      if (gen !== this.subGen || !this.running) {
        callQuietly(unsub);
        return;
      }
      this.unsub = unsub;
      this.subscribed = true;
      this.lastHeadAt = this.now();
    } catch (err) {
      this.log.warn({ err }, 'chain watcher: cannot subscribe to finalized heads; polling');
    }
  }

  private dropSubscription(): void {
    this.subscribed = false;
    this.subGen++;
    const u = this.unsub;
    this.unsub = undefined;
    if (u) callQuietly(u);
  }

  private onHead(n: number): void {
    if (!Number.isSafeInteger(n) || n <= this.target) return;
    this.target = n;
    this.kick();
  }

  private kick(): void {
    if (!this.running || this.pumping || this.cursor >= this.target || !this.readyPromise) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      this.kick();
    });
  }

  /** Reads blocks cursor+1.. up to the head, `concurrency` at a time, and applies them in order. */
  private async pump(): Promise<void> {
    while (this.running && this.cursor < this.target) {
      const from = this.cursor + 1;
      const to = Math.min(this.target, from + this.concurrency - 1);
      const reads: Promise<ReadBlock>[] = [];
      for (let n = from; n <= to; n++) {
        const p = this.readBlock(n);
        p.catch(() => undefined); // each is awaited below, or dropped after an earlier one failed
        reads.push(p);
      }
      let retry = false;
      for (const p of reads) {
        try {
          await this.applyBlock(await p);
          this.failures = 0;
        } catch (err) {
          retry = await this.onBlockFailure(this.cursor + 1, err);
          break;
        }
        if (!this.running) break;
      }
      await this.saveCursor();
      if (retry) await this.wait(this.retryMs);
    }
  }

  private readBlock(n: number): Promise<ReadBlock> {
    return this.timed(`reading block ${n}`, async () => {
      const hash = (await this.api.rpc.chain.getBlockHash(n)).toString();
      const at = await this.api.at(hash);
      const records = await at.query.system.events();
      return { number: n, hash, at, records };
    });
  }

  /** A read that settles within readTimeoutMs: a half-open socket must not hold the watcher for ever. */
  private async timed<T>(what: string, read: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${what} took more than ${this.readTimeoutMs} ms`)), this.readTimeoutMs);
          timer.unref();
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Decides what a failed block means: a pruned one is skipped as a gap, anything else is retried. */
  private async onBlockFailure(n: number, err: unknown): Promise<boolean> {
    if (PRUNED.test(String((err as Error)?.message ?? err))) {
      const through = Math.max(n, this.target - RECENT_STATE_BLOCKS);
      try {
        await this.inbox.gap(through);
      } catch (e) {
        this.log.error({ err: e }, 'chain watcher: cannot record a gap in the inbox');
        return true;
      }
      this.log.error(
        { from: n, through, err },
        'chain watcher: the node no longer has these blocks (state pruned); skipped. Deposits in them are taken from the indexer; contract events in them are lost',
      );
      this.decodedThrough = this.cursor = through;
      this.cursorHash = undefined;
      return false;
    }
    this.failures++;
    const level = this.failures >= 5 ? 'error' : 'warn';
    if (this.failures <= 5 || this.failures % 20 === 0) this.log[level]({ block: n, failures: this.failures, err }, 'chain watcher: reading a block failed; retrying it');
    return true;
  }

  private async applyBlock(b: ReadBlock): Promise<void> {
    const { deposits, contracts, skipped } = decodeBlockEvents(b.number, b.records);
    if (skipped.length) this.log.warn({ block: b.number, skipped }, 'chain watcher: events it could not read');
    // matched against the watched set and marked decoded in one step: watch() counts coverage from here
    const mine = deposits.filter((d) => this.inbox.isWatched(d.to));
    this.decodedThrough = b.number;
    if (mine.length > 0) {
      const at = await this.blockTime(b.hash);
      const inputs: DepositInput[] = [];
      for (const d of mine) {
        let amount = d.amount;
        if (d.feeNotDeducted) amount = await this.afterDepositFee(b, d);
        try {
          inputs.push({ id: d.id, kind: d.kind, from: d.from, to: d.to, amount: unitsOf(amount, `deposit ${d.id}`), at });
        } catch (err) {
          this.log.error({ err, deposit: d.id, to: d.to }, 'chain watcher: deposit too large to record; skipped, credit it by hand');
        }
      }
      const fresh = await this.inbox.record(inputs, 'chain');
      if (fresh.length) this.log.info({ block: b.number, deposits: fresh.map((t) => ({ id: t.id, to: t.to, amount: t.amount })) }, 'chain watcher: deposits recorded');
      for (const t of fresh) this.emit(this.depositListeners, t);
    }
    for (const e of contracts) this.emit(this.contractListeners, e);
    this.cursor = b.number;
    this.cursorHash = b.hash;
  }

  /** A mint's credited amount when its Deposit event was not found: the amount less the bridge fee. */
  private async afterDepositFee(b: ReadBlock, d: ChainDeposit): Promise<bigint> {
    try {
      const query = b.at.query.tftBridgeModule?.depositFee;
      if (!query) throw new Error('no tftBridgeModule.depositFee storage');
      const fee = bigOf(await query(), 'deposit fee');
      return d.amount > fee ? d.amount - fee : 0n;
    } catch (err) {
      this.log.warn({ err, deposit: d.id }, 'chain watcher: bridge deposit fee unknown; crediting the minted amount before the fee');
      return d.amount;
    }
  }

  /** The block's time; a block without a readable timestamp counts as now. A failed read is retried with the block. */
  private async blockTime(hash: string): Promise<number> {
    const t = blockTimeOf(await this.timed('reading a block body', () => this.api.rpc.chain.getBlock(hash)));
    if (t !== undefined) return t;
    this.log.warn({ hash }, 'chain watcher: block without a timestamp; using the time it was read');
    return this.now();
  }

  private emit<T>(listeners: Set<(e: T) => void | Promise<void>>, e: T): void {
    for (const fn of listeners) {
      try {
        const r = fn(e);
        if (r && typeof (r as Promise<void>).catch === 'function') {
          (r as Promise<void>).catch((err: unknown) => this.log.error({ err, event: e }, 'chain watcher: listener failed'));
        }
      } catch (err) {
        this.log.error({ err, event: e }, 'chain watcher: listener failed');
      }
    }
  }

  private async saveCursor(): Promise<void> {
    if (this.cursor === this.savedCursor || this.cursor < 0) return;
    const doc: CursorDoc = { version: 1, block: this.cursor, savedAt: this.now() };
    if (this.cursorHash) doc.hash = this.cursorHash;
    try {
      await mkdir(path.dirname(this.cursorFile), { recursive: true, mode: 0o700 });
      await writeCursor(this.cursorFile, doc);
      this.savedCursor = doc.block;
    } catch (err) {
      // the blocks after the saved cursor are read again after a restart: nothing is recorded twice
      this.log.error({ err, cursor: this.cursor }, 'chain watcher: cannot save the cursor');
    }
  }
}

function callQuietly(fn: () => unknown): void {
  try {
    const r = fn();
    if (r && typeof (r as Promise<unknown>).catch === 'function') (r as Promise<unknown>).catch(() => undefined);
  } catch {
    // an unsubscribe on a dead connection: nothing to undo
  }
}

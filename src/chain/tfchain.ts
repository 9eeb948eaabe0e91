/**
 * The Chain port on the real TFChain, over @polkadot/api: balances, withdrawals signed with the
 * user's sr25519 key, SS58 (prefix 42) address checks, and deposits read from the ChainWatcher's
 * inbox, with the tfchain GraphQL indexer filling in what the watcher did not see.
 *
 * Ids: a transfer or deposit is `<blockNumber>-<eventIndex>`, the index of its event in the block's
 * `system.events`; unique and stable once the block is finalized (only finalized blocks are read).
 *
 * Errors, as the withdrawal job reads them (src/jobs/withdraw.ts): a `GridError` with code
 * `insufficient_funds` or `invalid` means the chain refused and no TFT left the wallet (a dispatch
 * error, or the pool's "1010: Invalid Transaction"); `unavailable` means nothing was submitted (not
 * connected). Any other error from `transfer` means the outcome is unknown: it may be on chain.
 * No error message ever holds the mnemonic.
 */
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { checkAddress } from '@polkadot/util-crypto';
import type { ApiPromise } from '@polkadot/api';
import type { Units } from '../domain/money.js';
import { GridError, type Chain, type Identity, type Transfer } from '../grid/port.js';
import { silentLogger, type Logger } from '../log.js';
import {
  bigOf,
  blockTimeOf,
  compareIds,
  isPrunedState,
  normalizeAddress,
  parseTransferId,
  transferId,
  unitsOf,
  type ChainReadApi,
  type CodecLike,
  type EventId,
  type NumberLike,
} from './chain-events.js';
import type { ChainWatcher } from './chain-watcher.js';
import type { DepositInput } from './deposit-inbox.js';
import { cryptoReady, TFCHAIN_SS58 } from './identity.js';

// ------------------------------------------------------------------ the seam

export interface AccountDataLike {
  free: CodecLike;
  reserved?: CodecLike;
  /** current runtimes: frozen; older ones had misc/fee frozen */
  frozen?: CodecLike;
  miscFrozen?: CodecLike;
  feeFrozen?: CodecLike;
}
export interface DispatchErrorLike {
  isModule: boolean;
  asModule: unknown;
  isToken?: boolean;
  asToken?: { type: string };
  isArithmetic?: boolean;
  asArithmetic?: { type: string };
  type: string;
  toString(): string;
}
export interface ExtrinsicStatusLike {
  type: string;
  isInBlock: boolean;
  isFinalized: boolean;
  asFinalized: CodecLike;
  isDropped: boolean;
  isInvalid: boolean;
  isUsurped: boolean;
  isFinalityTimeout?: boolean;
}
export interface SubmitResultLike {
  status: ExtrinsicStatusLike;
  dispatchError?: DispatchErrorLike;
  txIndex?: number;
  blockNumber?: NumberLike;
  internalError?: Error;
}
export interface SubmittableLike {
  paymentInfo(address: string): Promise<{ partialFee: CodecLike }>;
  signAndSend(signer: KeyringPair, options: { nonce: number }, statusCb: (result: SubmitResultLike) => void): Promise<() => void>;
}
/** The part of an `ApiPromise` Jukebox uses; `asChainApi(api)` gives it from a real one, tests pass a fake. */
export interface ChainApi extends ChainReadApi {
  query: { system: { account(address: string): Promise<{ data: AccountDataLike }> } };
  consts: { balances: { existentialDeposit: CodecLike } };
  tx: { balances: { transferKeepAlive(dest: string, value: bigint): SubmittableLike } };
  registry: { findMetaError(error: unknown): { section: string; name: string; docs: string[] } };
}

/** A real ApiPromise seen through the seam (the seam is a structural subset of it). */
export function asChainApi(api: ApiPromise): ChainApi {
  return api as unknown as ChainApi;
}

/**
 * Connects to a TFChain node (`TfGridSettings.urls.substrate`), reconnecting by itself when the
 * socket drops. Resolves once the API is ready (metadata loaded).
 */
export async function connectTfChain(url: string): Promise<{ api: ChainApi; disconnect: () => Promise<void> }> {
  const { ApiPromise: Api, WsProvider } = await import('@polkadot/api');
  const api = await Api.create({ provider: new WsProvider(url, 2500), noInitWarn: true });
  return { api: asChainApi(api), disconnect: () => api.disconnect() };
}

// ------------------------------------------------------------------ the indexer fallback

export interface IndexedTransfer {
  block: number;
  index: number;
  from: string;
  to: string;
  amount: bigint;
}

/** Where deposits the watcher did not see come from: balances.Transfer events, by address. */
export interface DepositIndexer {
  /** every transfer into the address, oldest first; `height`: the block the indexer has processed, when it says */
  transfersTo(address: string): Promise<{ transfers: IndexedTransfer[]; height?: number }>;
}

/**
 * Reads a subsquid event id: `<height:10>-<index:6>-<hash:5>` (FireSquid, what tfchain_graphql
 * runs) or `<height:10>-<hash:5>-<index:6>` (ArrowSquid). The index is the event's place in the block.
 */
export function parseIndexerEventId(id: string): EventId | undefined {
  const a = /^(\d{1,12})-(\d{6})-[0-9a-f]{5}$/.exec(id);
  if (a) return { block: Number(a[1]), index: Number(a[2]) };
  const b = /^(\d{1,12})-[0-9a-f]{5}-(\d{6})$/.exec(id);
  if (b) return { block: Number(b[1]), index: Number(b[2]) };
  return undefined;
}

export interface GraphqlIndexerOptions {
  fetch?: typeof fetch;
  pageSize?: number;
  /** a sanity bound: an address with more transfers than pageSize × maxPages is read only that far */
  maxPages?: number;
  timeoutMs?: number;
  log?: Logger;
}

const TRANSFERS_QUERY = `query JukeboxDeposits($to: String!, $limit: Int!, $offset: Int!) {
  transfers(where: { to_eq: $to }, orderBy: id_ASC, limit: $limit, offset: $offset) { id from to amount }
}`;
const STATUS_QUERY = 'query JukeboxIndexerHeight { squidStatus { height } }';

/**
 * The tfchain GraphQL indexer (`TfGridSettings.urls.graphql`). Its Transfer entity is
 * `{ id, from, to, amount, timestamp }` (timestamp is always 0 there: block times are read from the
 * chain); `squidStatus.height` says how far it has indexed. It does not index bridge mints.
 */
export class GraphqlIndexer implements DepositIndexer {
  private readonly fetch: typeof fetch;
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly timeoutMs: number;
  private readonly log: Logger;

  constructor(
    readonly url: string,
    opts: GraphqlIndexerOptions = {},
  ) {
    this.fetch = opts.fetch ?? fetch;
    this.pageSize = opts.pageSize ?? 500;
    this.maxPages = opts.maxPages ?? 40;
    this.timeoutMs = opts.timeoutMs ?? 20_000;
    this.log = opts.log ?? silentLogger;
  }

  async transfersTo(address: string): Promise<{ transfers: IndexedTransfer[]; height?: number }> {
    // the height first: whatever is indexed by then is in the list read after it
    let height: number | undefined;
    try {
      const s = await this.query<{ squidStatus?: { height?: unknown } }>(STATUS_QUERY, {});
      const h = s.squidStatus?.height;
      if (typeof h === 'number' && Number.isSafeInteger(h)) height = h;
    } catch (err) {
      this.log.warn({ err }, 'indexer: cannot read its height; history it returns is not taken as complete');
    }
    const transfers: IndexedTransfer[] = [];
    for (let page = 0; page < this.maxPages; page++) {
      const d = await this.query<{ transfers?: Array<Record<string, unknown>> }>(TRANSFERS_QUERY, { to: address, limit: this.pageSize, offset: page * this.pageSize });
      const rows = d.transfers;
      if (!Array.isArray(rows)) throw new Error('indexer answered without a transfers list');
      for (const r of rows) {
        const id = typeof r.id === 'string' ? parseIndexerEventId(r.id) : undefined;
        const amount = typeof r.amount === 'string' || typeof r.amount === 'number' ? String(r.amount) : '';
        if (!id || typeof r.from !== 'string' || typeof r.to !== 'string' || !/^\d+$/.test(amount)) {
          this.log.warn({ row: r }, 'indexer: transfer it cannot read; skipped');
          continue;
        }
        transfers.push({ ...id, from: r.from, to: r.to, amount: BigInt(amount) });
      }
      if (rows.length < this.pageSize) return height === undefined ? { transfers } : { transfers, height };
    }
    this.log.warn({ address, pages: this.maxPages }, 'indexer: more transfers than read; the rest is not taken');
    return { transfers };
  }

  private async query<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const res = await this.fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) throw new Error(`indexer answered HTTP ${res.status}`);
    const body = (await res.json()) as { data?: T; errors?: Array<{ message?: string }> };
    if (body.errors?.length) throw new Error(`indexer: ${body.errors.map((e) => e.message).join('; ')}`);
    if (!body.data) throw new Error('indexer answered without data');
    return body.data;
  }
}

// ------------------------------------------------------------------ the adapter

export interface TfChainOptions {
  /** the deposit inbox; without it deposits come from the indexer alone */
  watcher?: ChainWatcher;
  /** where deposits the watcher did not see are looked up */
  indexer?: DepositIndexer;
  /** an address asked about is watched from then on (default true): the watched set feeds itself */
  autoWatch?: boolean;
  log?: Logger;
  /** reads give up after this long with GridError('unavailable'); default 30 s */
  readTimeoutMs?: number;
  /** a transfer not finalized after this long is reported as of unknown outcome; default 3 min */
  finalizeTimeoutMs?: number;
  /** per address, how often the indexer may be asked while its history is incomplete; default 60 s */
  backfillEveryMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Dispatch errors that mean "not enough money", as pallet_balances and the fungible traits name them. */
const INSUFFICIENT = new Set([
  'balances.InsufficientBalance',
  'balances.KeepAlive',
  'balances.Expendability',
  'balances.LiquidityRestrictions',
  'Token.FundsUnavailable',
  'Token.NotExpendable',
  'Token.Frozen',
  'Arithmetic.Underflow',
]);

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

interface Finalized {
  blockHash: string;
  txIndex?: number;
  blockNumber?: number;
  dispatchError?: DispatchErrorLike;
}

export class TfChain implements Chain {
  private readonly log: Logger;
  private readonly readTimeoutMs: number;
  private readonly finalizeTimeoutMs: number;
  private readonly backfillEveryMs: number;
  private readonly autoWatch: boolean;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly keyring = new Keyring({ type: 'sr25519', ss58Format: TFCHAIN_SS58 });
  private readonly backfills = new Map<string, Promise<void>>();
  private readonly backfilledAt = new Map<string, number>();

  constructor(
    private readonly api: ChainApi,
    private readonly opts: TfChainOptions = {},
  ) {
    this.log = opts.log ?? silentLogger;
    this.readTimeoutMs = opts.readTimeoutMs ?? 30_000;
    this.finalizeTimeoutMs = opts.finalizeTimeoutMs ?? 180_000;
    this.backfillEveryMs = opts.backfillEveryMs ?? 60_000;
    this.autoWatch = opts.autoWatch ?? true;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? defaultSleep;
  }

  /** SS58 with TFChain's prefix 42; anything over 64 characters is refused before decoding. */
  isValidAddress(address: string): boolean {
    if (typeof address !== 'string' || address.length === 0 || address.length > 64) return false;
    try {
      return checkAddress(address, TFCHAIN_SS58)[0];
    } catch {
      return false;
    }
  }

  /** The free balance, in units. */
  /**
   * The free balance as of the last block the watcher processed: deposits after it are neither in
   * this balance nor in the inbox yet, so "the balance covers the order" and "these deposits paid
   * it" always agree, and a deposit cannot pay an order unclaimed and later a second prompt. A few
   * seconds behind the chain's best block; where that block's state is gone, the latest.
   */
  async balance(address: string, opts: { latest?: boolean } = {}): Promise<Units> {
    const at = opts.latest ? undefined : this.opts.watcher?.processedHash();
    // only a block whose state is gone falls back to the latest: a timeout must not, as the latest may
    // hold a deposit the inbox does not have yet
    const data = at
      ? await this.accountAt(address, at).catch((err: unknown) => (isPrunedState(err) ? this.account(address) : Promise.reject(err)))
      : await this.account(address);
    return unitsOf(bigOf(data.free, 'free balance'), `the free balance of ${address}`);
  }

  /**
   * What a keep-alive transfer can move: the free balance less what is frozen beyond the reserves,
   * and less the existential deposit the account must keep. The fee is not taken off: see maxWithdrawal.
   */
  async transferable(address: string): Promise<Units> {
    const d = await this.account(address);
    const free = bigOf(d.free, 'free balance');
    const reserved = d.reserved ? bigOf(d.reserved, 'reserved balance') : 0n;
    const ed = bigOf(this.api.consts.balances.existentialDeposit, 'existential deposit');
    let untouchable: bigint;
    if (d.frozen) {
      const frozen = bigOf(d.frozen, 'frozen balance');
      untouchable = frozen > reserved ? frozen - reserved : 0n;
    } else {
      const misc = d.miscFrozen ? bigOf(d.miscFrozen, 'frozen balance') : 0n;
      const fee = d.feeFrozen ? bigOf(d.feeFrozen, 'frozen balance') : 0n;
      untouchable = misc > fee ? misc : fee;
    }
    if (untouchable < ed) untouchable = ed;
    return unitsOf(free > untouchable ? free - untouchable : 0n, `the transferable balance of ${address}`);
  }

  /** The network fee TFChain would charge `from` for this transfer (an estimate from `paymentInfo`). */
  async transferFee(from: Identity | string, to: string, amount: Units): Promise<Units> {
    const sender = this.addressOrThrow(typeof from === 'string' ? from : from.address);
    const dest = this.addressOrThrow(to);
    if (!Number.isSafeInteger(amount) || amount < 0) throw new GridError('invalid', `amount must be a whole number of units, got ${amount}`);
    const info = await this.read(this.api.tx.balances.transferKeepAlive(dest, BigInt(amount)).paymentInfo(sender), 'estimating a fee');
    return unitsOf(bigOf(info.partialFee, 'fee'), 'the fee');
  }

  /** The most a withdrawal from `from` to `to` can send: transferable less the fee; 0 when nothing can go. */
  async maxWithdrawal(from: Identity | string, to: string): Promise<Units> {
    const address = typeof from === 'string' ? from : from.address;
    const can = await this.transferable(address);
    if (can <= 0) return 0;
    const fee = await this.transferFee(address, to, can);
    return Math.max(0, can - fee);
  }

  async incomingTransfers(address: string, after?: string): Promise<Transfer[]> {
    const to = this.addressOrThrow(address);
    if (after !== undefined && !parseTransferId(after)) throw new GridError('invalid', `not a TFChain transfer id: ${after}`);
    const w = this.opts.watcher;
    if (!w) return this.fromIndexerOnly(to, after);
    try {
      await w.ready();
      if (this.autoWatch) await w.watch(to);
    } catch (err) {
      throw new GridError('unavailable', `the chain watcher is not running: ${(err as Error).message}`);
    }
    if (w.inbox.coverage(to).coveredFrom !== 0) await this.backfill(to);
    return w.inbox.list(to, after);
  }

  async transfer(from: Identity, to: string, amount: Units): Promise<Transfer> {
    if (!Number.isSafeInteger(amount) || amount <= 0) throw new GridError('invalid', `amount must be a positive whole number of units, got ${amount}`);
    const dest = this.isValidAddress(to) ? normalizeAddress(to) : undefined;
    if (!dest) throw new GridError('invalid', 'the destination is not a TFChain address');
    const pair = await this.signer(from);
    if (!this.api.isConnected) throw new GridError('unavailable', 'TFChain is not connected; nothing was sent');
    const value = BigInt(amount);
    const fin = await this.submit(this.api.tx.balances.transferKeepAlive(dest, value), pair);
    if (fin.dispatchError) throw this.refusal(fin.dispatchError);
    const { block, index, at } = await this.located(fin, pair.address, dest, value);
    const t: Transfer = { id: transferId(block, index), from: pair.address, to: dest, amount, at };
    this.log.info({ transfer: t.id, from: t.from, to: t.to, amount }, 'tfchain: transfer finalized');
    return t;
  }

  // ---------------------------------------------------------------- internals

  private addressOrThrow(address: string): string {
    const a = this.isValidAddress(address) ? normalizeAddress(address) : undefined;
    if (!a) throw new GridError('invalid', `not a TFChain address: ${typeof address === 'string' && address.length <= 64 ? address : '(too long)'}`);
    return a;
  }

  private async account(address: string): Promise<AccountDataLike> {
    const a = this.addressOrThrow(address);
    const info = await this.read(this.api.query.system.account(a), 'reading a balance');
    return info.data;
  }

  private async accountAt(address: string, hash: string): Promise<AccountDataLike> {
    const a = this.addressOrThrow(address);
    const state = await this.read(this.api.at(hash), 'reading the chain at a block');
    if (!state.query.system.account) return this.account(address); // an API without history reads: the latest
    return (await this.read(state.query.system.account(a), 'reading a balance')).data;
  }

  /** A read that answers within the timeout, or GridError('unavailable'). */
  private async read<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GridError('unavailable', `TFChain did not answer ${what} within ${this.readTimeoutMs} ms`)), this.readTimeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([p, timeout]);
    } catch (err) {
      if (err instanceof GridError) throw err;
      throw new GridError('unavailable', `TFChain ${what} failed: ${(err as Error)?.message ?? String(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private async signer(from: Identity): Promise<KeyringPair> {
    await cryptoReady();
    let pair: KeyringPair;
    try {
      pair = this.keyring.createFromUri(from.mnemonic);
    } catch {
      // the keyring's message could quote its input: never pass it on
      throw new GridError('invalid', 'the wallet key cannot be read (not a valid mnemonic); nothing was sent');
    }
    if (normalizeAddress(from.address) !== pair.address) throw new GridError('invalid', 'the wallet key does not belong to its address; nothing was sent');
    return pair;
  }

  /** Signs, submits and waits for finalization; rejects as described at the top of this file. */
  private submit(tx: SubmittableLike, pair: KeyringPair): Promise<Finalized> {
    return new Promise<Finalized>((resolve, reject) => {
      let done = false;
      let unsub: (() => void) | undefined;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (unsub) callQuietly(unsub);
        f();
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`the transfer was submitted but not finalized within ${Math.round(this.finalizeTimeoutMs / 1000)} s; it may or may not be on chain`))),
        this.finalizeTimeoutMs,
      );
      timer.unref();
      const onStatus = (r: SubmitResultLike) => {
        try {
          const s = r.status;
          if (s.isFinalized) {
            const f: Finalized = { blockHash: s.asFinalized.toString() };
            if (r.txIndex !== undefined) f.txIndex = r.txIndex;
            if (r.blockNumber) f.blockNumber = r.blockNumber.toNumber();
            if (r.dispatchError) f.dispatchError = r.dispatchError;
            else if (r.internalError) {
              // the API could not read the block's events: success or failure is unknown
              finish(() => reject(new Error(`the transfer was finalized in block ${f.blockHash} but its result could not be read: ${r.internalError!.message}`)));
              return;
            }
            finish(() => resolve(f));
          } else if (s.isDropped || s.isInvalid || s.isUsurped || s.isFinalityTimeout) {
            // gone from this node's pool, but another node may have it: unknown, never "refused"
            finish(() => reject(new Error(`the transfer was ${s.type} after it was submitted; it may or may not be on chain`)));
          }
        } catch (err) {
          finish(() => reject(err));
        }
      };
      tx.signAndSend(pair, { nonce: -1 }, onStatus).then(
        (u) => {
          if (done) callQuietly(u);
          else unsub = u;
        },
        (err: unknown) => finish(() => reject(this.submitError(err))),
      );
    });
  }

  /** The pool's "1010: Invalid Transaction" is a refusal before anything was sent; anything else is unknown. */
  private submitError(err: unknown): Error {
    const msg = (err as Error)?.message ?? String(err);
    if (/^1010\b|\bInvalid Transaction\b/.test(msg)) {
      const poor = /pay some fees|balance too low|InsufficientBalance|FundsUnavailable/i.test(msg);
      return new GridError(poor ? 'insufficient_funds' : 'invalid', `TFChain refused the transfer before sending it: ${msg}`);
    }
    return new Error(`sending the transfer failed: ${msg}; it may or may not be on chain`);
  }

  private refusal(e: DispatchErrorLike): GridError {
    let name: string;
    let docs = '';
    if (e.isModule) {
      try {
        const m = this.api.registry.findMetaError(e.asModule);
        name = `${m.section}.${m.name}`;
        docs = m.docs.join(' ').trim();
      } catch {
        name = `Module(${String(e.asModule)})`;
      }
    } else if (e.isToken && e.asToken) name = `Token.${e.asToken.type}`;
    else if (e.isArithmetic && e.asArithmetic) name = `Arithmetic.${e.asArithmetic.type}`;
    else name = e.type || e.toString();
    const code = INSUFFICIENT.has(name) ? 'insufficient_funds' : 'invalid';
    return new GridError(code, `TFChain refused the transfer: ${name}${docs ? ` (${docs})` : ''}`);
  }

  /** Where the finalized transfer's balances.Transfer event is, retried a few times (the transfer went through). */
  private async located(fin: Finalized, from: string, to: string, amount: bigint): Promise<{ block: number; index: number; at: number }> {
    let last: unknown;
    for (let attempt = 0; attempt < 4; attempt++) {
      if (attempt > 0) await this.sleep(1000 * attempt);
      try {
        const at = await this.api.at(fin.blockHash);
        const records = await at.query.system.events();
        let index = -1;
        for (let i = 0; i < records.length; i++) {
          const { phase, event } = records[i]!;
          if (fin.txIndex !== undefined && !(phase.isApplyExtrinsic && phase.asApplyExtrinsic.toNumber() === fin.txIndex)) continue;
          if (event.section !== 'balances' || event.method !== 'Transfer') continue;
          if (normalizeAddress(String(event.data[0])) === from && normalizeAddress(String(event.data[1])) === to && bigOf(event.data[2], 'amount') === amount) {
            index = i;
            break;
          }
        }
        if (index < 0) throw new Error('no matching balances.Transfer event in the block');
        const block = fin.blockNumber ?? (await this.api.rpc.chain.getHeader(fin.blockHash)).number.toNumber();
        const time = blockTimeOf(await this.api.rpc.chain.getBlock(fin.blockHash)) ?? this.now();
        return { block, index, at: time };
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`the transfer went through (finalized in block ${fin.blockHash}) but its event could not be read: ${(last as Error)?.message ?? String(last)}`);
  }

  /** The indexer's transfers into the address that the inbox does not hold, added to it (at most every backfillEveryMs). */
  private backfill(address: string): Promise<void> {
    const running = this.backfills.get(address);
    if (running) return running;
    if (!this.opts.indexer) return Promise.resolve();
    const last = this.backfilledAt.get(address);
    if (last !== undefined && this.now() - last < this.backfillEveryMs) return Promise.resolve();
    this.backfilledAt.set(address, this.now());
    const p = this.fillFromIndexer(address)
      .catch((err: unknown) => this.log.warn({ err, address }, 'tfchain: indexer lookup failed; deposits before the watcher started may show later'))
      .finally(() => this.backfills.delete(address));
    this.backfills.set(address, p);
    return p;
  }

  private async fillFromIndexer(address: string): Promise<void> {
    const w = this.opts.watcher!;
    const before = w.inbox.coverage(address);
    const { transfers, height } = await this.opts.indexer!.transfersTo(address);
    // the watcher's own record wins: the indexer only fills blocks it did not read
    const known = new Set(w.inbox.list(address).map((t) => `${parseTransferId(t.id)?.block}/${t.from}/${t.amount}`));
    const inputs: DepositInput[] = [];
    for (const t of transfers) {
      const from = normalizeAddress(t.from) ?? t.from;
      if (normalizeAddress(t.to) !== address) continue;
      if (before.watched && before.coveredFrom !== undefined && t.block >= before.coveredFrom) continue;
      let amount: Units;
      try {
        amount = unitsOf(t.amount, `indexed transfer ${t.block}-${t.index}`);
      } catch (err) {
        this.log.error({ err, address }, 'tfchain: indexed deposit too large to record; skipped, credit it by hand');
        continue;
      }
      if (known.has(`${t.block}/${from}/${amount}`)) continue;
      inputs.push({ id: transferId(t.block, t.index), kind: 'transfer', from, to: address, amount, at: await this.blockTimeAt(t.block) });
    }
    const fresh = await w.inbox.record(inputs, 'indexer');
    if (fresh.length) this.log.info({ address, deposits: fresh.map((t) => t.id) }, 'tfchain: deposits found by the indexer');
    const now = w.inbox.coverage(address);
    if (height !== undefined && now.watched && now.coveredFrom !== undefined && now.coveredFrom === before.coveredFrom && height >= now.coveredFrom - 1) {
      await w.inbox.markCovered(address);
    }
  }

  /** Without a watcher: the indexer's list, in chain order, after `after`. */
  private async fromIndexerOnly(address: string, after?: string): Promise<Transfer[]> {
    if (!this.opts.indexer) throw new GridError('unavailable', 'no chain watcher and no indexer to read deposits from');
    let list: { transfers: IndexedTransfer[] };
    try {
      list = await this.opts.indexer.transfersTo(address);
    } catch (err) {
      throw new GridError('unavailable', `the indexer cannot be read: ${(err as Error).message}`);
    }
    const a = after === undefined ? undefined : parseTransferId(after)!;
    const out: Transfer[] = [];
    for (const t of [...list.transfers].sort(compareIds)) {
      if (normalizeAddress(t.to) !== address || (a && compareIds(t, a) <= 0)) continue;
      out.push({ id: transferId(t.block, t.index), from: normalizeAddress(t.from) ?? t.from, to: address, amount: unitsOf(t.amount, 'transfer'), at: await this.blockTimeAt(t.block) });
    }
    return out;
  }

  private async blockTimeAt(block: number): Promise<number> {
    try {
      const hash = (await this.read(this.api.rpc.chain.getBlockHash(block), 'reading a block hash')).toString();
      const t = blockTimeOf(await this.read(this.api.rpc.chain.getBlock(hash), 'reading a block'));
      if (t !== undefined) return t;
    } catch (err) {
      this.log.warn({ err, block }, 'tfchain: block time unknown; using now');
      return this.now();
    }
    this.log.warn({ block }, 'tfchain: block without a timestamp; using now');
    return this.now();
  }
}

function callQuietly(fn: () => unknown): void {
  try {
    const r = fn();
    if (r && typeof (r as Promise<unknown>).catch === 'function') (r as Promise<unknown>).catch(() => undefined);
  } catch {
    // unsubscribing from a finished or dead subscription
  }
}

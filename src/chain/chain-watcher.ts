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
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Transfer } from '../grid/port.js';
import { silentLogger, type Logger } from '../log.js';
import {
  bigOf,
  blockTimeOf,
  decodeBlockEvents,
  isPrunedState,
  normalizeAddress,
  unitsOf,
  type ChainApiAt,
  type ChainDeposit,
  type ChainReadApi,
  type ContractChange,
  type EventRecordLike,
} from './chain-events.js';
import { DepositInbox, type DepositInput } from './deposit-inbox.js';

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

  /** The hash of the last block fully processed: every deposit up to it is in the inbox, none after it. */
  processedHash(): string | undefined {
    return this.cursorHash;
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
    if (isPrunedState(err)) {
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

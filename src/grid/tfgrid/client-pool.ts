/**
 * A bounded pool of grid clients, one per identity (see ClientPool in seams.ts).
 *
 * Every open client, or one being created, holds a slot; there are at most `max`. A caller that
 * needs a new client when the slots are full takes the slot of the least recently used idle
 * client (disconnecting it first), or waits, first come first served, until a client is released.
 * A client whose connection was lost under a call leaves the pool at once (new callers get a
 * fresh one) and is disconnected when its last lease ends: a client in use is never closed, except
 * by `close()`.
 */
import type { Logger } from '../../log.js';
import type { Identity } from '../port.js';
import { GridError } from '../port.js';
import { scrubSecrets } from './errors.js';
import type { ClientPool } from './seams.js';

export interface Disconnectable {
  disconnect(): Promise<void>;
}

export interface GridClientPoolOptions<C> {
  create: (identity: Identity) => Promise<C>;
  /** at most this many clients open, counting those being created */
  max: number;
  /** a client unused for this long is disconnected by `sweep()`; Infinity: never (no sweep timer) */
  idleMs: number;
  now?: () => number;
  isConnectionLoss?: (err: unknown) => boolean;
  log?: Pick<Logger, 'debug' | 'warn'>;
}

interface Entry<C> {
  key: string;
  client?: C;
  /** settles when the client is created (or its creation failed) */
  ready?: Promise<Entry<C>>;
  leases: number;
  lastUsed: number;
  /** out of the pool: disconnect when the last lease ends */
  dead: boolean;
  /** disconnected (or its creation failed): its slot is free */
  gone: boolean;
}

const LOST =
  /\bdisconnected\b|WebSocket is not open|ECONNRESET|EPIPE|connection (?:was )?(?:closed|lost|reset)|Abnormal Closure|Unable to establish a connection|couldn't connect to|No response received from RPC endpoint/i;

/**
 * Whether an error means the client's connection (the chain websocket or the relay) went away:
 * grid_client's ConnectionError, polkadot's "disconnected from wss://…: 1006:: Abnormal Closure",
 * ws's "WebSocket is not open", a reset socket. Also looks into `cause`. A GridError is never one.
 */
export function isConnectionLoss(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 4) return false;
  if (err instanceof GridError) return false;
  const e = err as { constructor?: { name?: string }; code?: unknown; message?: unknown; cause?: unknown };
  // @threefold/types errors do not set `name`; their class name survives in the CJS build
  if (e.constructor?.name === 'ConnectionError') return true;
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return true;
  if (typeof e.message === 'string' && LOST.test(e.message)) return true;
  return isConnectionLoss(e.cause, depth + 1);
}

/**
 * tfchain_client and rmb_direct_client register SIGTERM/SIGINT/SIGUSR1/SIGUSR2 handlers on every
 * new connection that disconnect and call process.exit(0) (after process.removeAllListeners()),
 * which would cut the application's own graceful shutdown short. guardGridPackages (client-seam.ts)
 * makes them no-ops and takes them off as they are added, reconnects included; this is the belt:
 * call it after connecting a GridClient or a tfchain Client. It removes only those handlers.
 */
export function removeGridSignalHandlers(): void {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGUSR2'] as const) {
    for (const l of process.listeners(sig)) {
      if (/\bdisconnectAndExit$/.test(l.name)) process.removeListener(sig, l);
    }
  }
}

export class GridClientPool<C extends Disconnectable> implements ClientPool<C> {
  private readonly entries = new Map<string, Entry<C>>();
  /** every entry not yet gone, in the pool or dead but still leased */
  private readonly live = new Set<Entry<C>>();
  private readonly waiters: Array<() => void> = [];
  private readonly now: () => number;
  private readonly lost: (err: unknown) => boolean;
  private readonly timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: GridClientPoolOptions<C>) {
    if (!(opts.max >= 1)) throw new Error('pool max must be at least 1');
    this.now = opts.now ?? Date.now;
    this.lost = opts.isConnectionLoss ?? isConnectionLoss;
    if (Number.isFinite(opts.idleMs)) {
      this.timer = setInterval(() => void this.sweep(), Math.max(1000, opts.idleMs / 2));
      this.timer.unref();
    }
  }

  /** clients open or being opened */
  get size(): number {
    return this.live.size;
  }

  async use<T>(identity: Identity, fn: (client: C) => Promise<T>): Promise<T> {
    let entry = await this.acquire(identity);
    try {
      return await fn(entry.client!);
    } catch (err) {
      if (!this.lost(err) || this.closed) throw err;
      this.opts.log?.warn({ address: identity.address, err: scrubSecrets(String(err), [identity.mnemonic]) }, 'grid client lost its connection; reconnecting');
      this.discard(entry);
    } finally {
      this.release(entry);
    }
    entry = await this.acquire(identity);
    try {
      return await fn(entry.client!);
    } catch (err) {
      if (this.lost(err)) this.discard(entry);
      throw err;
    } finally {
      this.release(entry);
    }
  }

  /** Disconnects the clients nobody used for idleMs. Returns how many it closed. */
  async sweep(): Promise<number> {
    const cutoff = this.now() - this.opts.idleMs;
    const idle = [...this.entries.values()].filter((e) => e.client && e.leases === 0 && e.lastUsed <= cutoff);
    for (const e of idle) this.entries.delete(e.key);
    await Promise.all(idle.map((e) => this.finish(e, 'idle')));
    return idle.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.entries.clear();
    this.wake();
    await Promise.all([...this.live].map((e) => this.finish(e, 'pool closed')));
  }

  private async acquire(identity: Identity): Promise<Entry<C>> {
    const key = identity.address;
    for (;;) {
      if (this.closed) throw new GridError('unavailable', 'the grid client pool is closed');
      const found = this.entries.get(key);
      if (found) {
        found.leases++;
        found.lastUsed = this.now();
        if (found.client) return found;
        try {
          return await found.ready!;
        } catch (err) {
          found.leases--;
          throw err;
        }
      }
      if (this.live.size < this.opts.max) return this.start(identity);
      const victim = this.lruIdle();
      if (victim) {
        // the newcomer takes over the victim's slot; create only after it is disconnected
        this.entries.delete(victim.key);
        victim.dead = true;
        return this.start(identity, this.finish(victim, 'evicted', false));
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private start(identity: Identity, before?: Promise<void>): Promise<Entry<C>> {
    const entry: Entry<C> = { key: identity.address, leases: 1, lastUsed: this.now(), dead: false, gone: false };
    const creating = (async () => {
      await before;
      if (this.closed) throw new GridError('unavailable', 'the grid client pool is closed');
      return this.opts.create(identity);
    })();
    this.entries.set(entry.key, entry);
    this.live.add(entry);
    entry.ready = creating.then(
      async (client) => {
        if (entry.gone) {
          // the pool was closed while it was being created
          await client.disconnect().catch(() => undefined);
          throw new GridError('unavailable', 'the grid client pool is closed');
        }
        entry.client = client;
        this.opts.log?.debug({ address: entry.key, open: this.live.size }, 'grid client opened');
        return entry;
      },
      (err: unknown) => {
        if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
        this.free(entry);
        throw err;
      },
    );
    return entry.ready;
  }

  private lruIdle(): Entry<C> | undefined {
    let best: Entry<C> | undefined;
    for (const e of this.entries.values()) {
      if (e.client && e.leases === 0 && (!best || e.lastUsed < best.lastUsed)) best = e;
    }
    return best;
  }

  private release(entry: Entry<C>): void {
    entry.leases--;
    entry.lastUsed = this.now();
    if (entry.leases > 0) return;
    if (entry.dead) void this.finish(entry, 'connection lost');
    else this.wake();
  }

  private discard(entry: Entry<C>): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    entry.dead = true;
  }

  /** Disconnects the entry's client (best effort) and frees its slot, unless `freeSlot` is false (eviction hands it on). */
  private async finish(entry: Entry<C>, why: string, freeSlot = true): Promise<void> {
    if (entry.gone) return;
    entry.gone = true;
    entry.dead = true;
    const client = entry.client;
    if (client) {
      this.opts.log?.debug({ address: entry.key, why }, 'grid client closed');
      await client.disconnect().catch((err: unknown) => {
        this.opts.log?.debug({ address: entry.key, err: scrubSecrets(String(err)) }, 'grid client disconnect failed');
      });
    }
    this.live.delete(entry);
    if (freeSlot) this.wake();
  }

  /** A slot was freed: the creation that fails also calls this. */
  private free(entry: Entry<C>): void {
    entry.gone = true;
    this.live.delete(entry);
    this.wake();
  }

  /** Lets every waiter look again, in arrival order; those that still find no room queue up again in that order. */
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * The deposit inbox: an append-only, fsynced journal (`deposits.jsonl`) of the deposits the chain
 * watcher recorded and the addresses it watches, indexed in memory by address and deduplicated by
 * transfer id, so a block read twice after a crash records nothing twice.
 */
import { mkdir, open, readFile, rename, rm, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Units } from '../domain/money.js';
import type { Transfer } from '../grid/port.js';
import { compareIds, parseTransferId } from './chain-events.js';

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

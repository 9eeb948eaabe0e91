/**
 * Notices that must survive a restart (reminders), kept in one append-only JSON-lines journal:
 * `add` when queued, `sent` once Telegram accepted it, `dropped` when it never will. Ids sent or
 * dropped stay known for a retention window, so a producer that restarts and queues the same
 * reminder again does not send it twice. Opening replays the journal and rewrites it compacted.
 */
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Button } from '../chat/types.js';

export interface Notice {
  /** stable: the same reminder added twice (say by a pass that restarted) is sent once */
  id: string;
  chatId: number;
  /** HTML */
  text: string;
  buttons?: Button[][];
  /** a payment URI, drawn as a QR code photo when sent (PNGs are not stored); text becomes its caption */
  qr?: string;
}

type Line =
  | { op: 'add'; id: string; notice: Notice; at: number }
  | { op: 'sent'; id: string; at: number }
  | { op: 'dropped'; id: string; reason: string; at: number };

export interface NoticeQueueOptions {
  /** how long a sent or dropped id is remembered; default 7 days */
  retentionMs?: number;
  now?: () => number;
}

const DAY = 24 * 3600_000;
/** dead lines tolerated before a compaction: rewriting the file costs more than a little slack */
const SLACK = 10_000;

function parse(raw: string): Line {
  const l = JSON.parse(raw) as Partial<Line> & { notice?: Partial<Notice> };
  const ok =
    typeof l.id === 'string' &&
    typeof l.at === 'number' &&
    ((l.op === 'add' && typeof l.notice?.chatId === 'number' && typeof l.notice.text === 'string' && l.notice.id === l.id) ||
      l.op === 'sent' ||
      (l.op === 'dropped' && typeof l.reason === 'string'));
  if (!ok) throw new Error('not a journal entry');
  return l as Line;
}

export class NoticeQueue {
  private readonly pending = new Map<string, { notice: Notice; at: number }>();
  /** sent or dropped ids, in the order they ended (so oldest first) */
  private readonly done = new Map<string, { at: number; reason?: string }>();
  private readonly retentionMs: number;
  private readonly now: () => number;
  private fh: FileHandle | undefined;
  private lines = 0;
  private batch: string[] = [];
  private batchWritten: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private prunedAt = 0;

  constructor(
    readonly file: string,
    opts: NoticeQueueOptions = {},
  ) {
    this.retentionMs = opts.retentionMs ?? 7 * DAY;
    this.now = opts.now ?? Date.now;
  }

  async open(): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const text = await readFile(this.file, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? '' : Promise.reject(e)));
    const raws = text.split('\n');
    // a kill -9 mid-write leaves at most the last line without its newline; it was never acknowledged
    raws.pop();
    raws.forEach((raw, i) => {
      if (raw === '') return;
      let l: Line;
      try {
        l = parse(raw);
      } catch (e) {
        throw new Error(`${this.file}:${i + 1}: bad journal line (${(e as Error).message})`);
      }
      if (l.op === 'add') {
        if (!this.pending.has(l.id) && !this.done.has(l.id)) this.pending.set(l.id, { notice: l.notice, at: l.at });
      } else {
        this.pending.delete(l.id);
        this.done.delete(l.id); // re-inserted, to keep the map in the order ids ended
        this.done.set(l.id, { at: l.at, ...(l.op === 'dropped' ? { reason: l.reason } : {}) });
      }
    });
    await this.compact();
  }

  /** Pending notices, oldest first. */
  *list(): IterableIterator<Notice> {
    for (const p of this.pending.values()) yield p.notice;
  }

  get(id: string): Notice | undefined {
    return this.pending.get(id)?.notice;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Resolves once the notice is in the journal: false when it is pending or ended within the retention. */
  async add(notice: Notice): Promise<boolean> {
    // what the journal cannot replay must not get into it: one bad line would stop every start
    if (!notice.id || !Number.isSafeInteger(notice.chatId) || typeof notice.text !== 'string') throw new Error(`not a notice: ${JSON.stringify(notice)}`);
    this.prune();
    if (this.pending.has(notice.id) || this.done.has(notice.id)) return false;
    const at = this.now();
    const copy: Notice = { ...notice };
    this.pending.set(notice.id, { notice: copy, at });
    try {
      await this.append({ op: 'add', id: notice.id, notice: copy, at });
    } catch (err) {
      this.pending.delete(notice.id);
      throw err;
    }
    return true;
  }

  sent(id: string): Promise<void> {
    return this.end({ op: 'sent', id, at: this.now() });
  }

  dropped(id: string, reason: string): Promise<void> {
    return this.end({ op: 'dropped', id, reason, at: this.now() });
  }

  /** Waits for the writes in hand and closes the journal; later writes are refused. */
  async close(): Promise<void> {
    await this.chain;
    await this.fh?.close();
    this.fh = undefined;
  }

  private end(l: Line & { op: 'sent' | 'dropped' }): Promise<void> {
    if (!this.pending.delete(l.id)) return Promise.resolve();
    this.done.set(l.id, { at: l.at, ...(l.op === 'dropped' ? { reason: l.reason } : {}) });
    return this.append(l);
  }

  /**
   * Lines queued while a write is under way go out together in the next one. A write is not
   * fsynced: a killed process keeps what it handed to the OS, and only a power cut could lose the
   * last lines (a notice then sent again, or queued again by its producer).
   */
  private append(l: Line): Promise<void> {
    if (!this.fh) return Promise.reject(new Error(`${this.file} is not open`));
    this.batch.push(`${JSON.stringify(l)}\n`);
    if (!this.batchWritten) {
      const written = this.chain.then(async () => {
        const lines = this.batch;
        [this.batch, this.batchWritten] = [[], undefined];
        if (!this.fh) throw new Error(`${this.file} is closed`);
        await this.fh.write(lines.join(''));
        this.lines += lines.length;
        this.prune();
        if (this.lines - this.live() > 2 * this.live() + SLACK) await this.compact();
      });
      this.chain = written.catch(() => undefined);
      this.batchWritten = written;
    }
    return this.batchWritten;
  }

  private live(): number {
    return this.pending.size + this.done.size;
  }

  /** Forgets ids that ended before the retention; at most once a minute, as ids end in time order. */
  private prune(): void {
    const now = this.now();
    if (now - this.prunedAt < 60_000) return;
    this.prunedAt = now;
    for (const [id, d] of this.done) {
      if (d.at >= now - this.retentionMs) break;
      this.done.delete(id);
    }
  }

  /**
   * Writes the live lines to a temp file and renames it over the journal, so a crash leaves either
   * the old journal or the new one. The temp file's handle becomes the one appends go through.
   */
  private async compact(): Promise<void> {
    this.prunedAt = 0;
    this.prune();
    const tmp = `${this.file}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      const out: string[] = [];
      for (const [id, d] of this.done) out.push(JSON.stringify(d.reason === undefined ? { op: 'sent', id, at: d.at } : { op: 'dropped', id, reason: d.reason, at: d.at }));
      for (const [id, p] of this.pending) out.push(JSON.stringify({ op: 'add', id, notice: p.notice, at: p.at }));
      await fh.write(out.length ? `${out.join('\n')}\n` : '');
      await fh.sync(); // a rename is only as good as the data behind it
      await rename(tmp, this.file);
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw err;
    }
    const old = this.fh;
    [this.fh, this.lines] = [fh, this.live()];
    await old?.close();
  }
}

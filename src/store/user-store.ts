/**
 * One lowdb file per user under <dataDir>/users/<shard>/<id>.json, loaded on demand and kept in a
 * bounded cache. lowdb writes atomically (temp file + rename), and every change of one user goes
 * through `update`, serialized per user, so a chat handler and a job never overwrite each other.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { needsWatching, UserSchema, type User } from '../domain/user.js';
import { Lru } from './lru.js';
import { migrate } from './migrations.js';
import { WatchIndex } from './watch-index.js';
import { KeyedLock } from './keyed-lock.js';

type Doc = Low<unknown>;

export class UserStore {
  private readonly cache: Lru<number, Doc>;
  private readonly locks = new KeyedLock<number>();
  /** users with something the grid bills, kept in step with every update */
  readonly watched: WatchIndex;
  /** hears every change once it is written: the document before (none for a new user) and after (metrics) */
  onChange: ((userId: number, before: User | undefined, after: User) => void) | undefined;

  constructor(private readonly dir: string, cacheSize = 2000) {
    this.cache = new Lru(cacheSize, (id) => !this.locks.has(id));
    this.watched = new WatchIndex(dir, () => this.scanWatched());
  }

  fileOf(userId: number): string {
    return path.join(this.dir, 'users', String(Math.abs(userId) % 1000).padStart(3, '0'), `${userId}.json`);
  }

  async get(userId: number): Promise<User | undefined> {
    const doc = await this.load(userId);
    return (doc.data as User | null) ?? undefined;
  }

  /**
   * Changes one user: `fn` gets a copy to change and may return a result. Nothing is kept if it
   * throws. With `create`, a missing user is made first; otherwise `fn` is not called for one.
   */
  async update<T>(userId: number, fn: (u: User) => T | Promise<T>): Promise<T | undefined> {
    return this.locks.run(userId, async () => {
      const doc = await this.load(userId);
      if (doc.data == null) return undefined;
      const before = doc.data as User;
      const draft = structuredClone(before);
      const result = await fn(draft);
      const watch = needsWatching(draft);
      if (watch) await this.watched.add(userId); // before the file that needs it: never too few
      await this.save(doc, draft);
      this.onChange?.(userId, before, draft);
      if (!watch) await this.watched.remove(userId);
      return result;
    });
  }

  /** Creates the user unless they exist; returns the stored user either way. */
  async create(userId: number, make: () => User | Promise<User>): Promise<User> {
    return this.locks.run(userId, async () => {
      const doc = await this.load(userId);
      if (doc.data == null) {
        const u = UserSchema.parse(await make());
        await mkdir(path.dirname(this.fileOf(userId)), { recursive: true, mode: 0o700 });
        await this.save(doc, u);
        this.onChange?.(userId, undefined, u);
      }
      return doc.data as User;
    });
  }

  /** Every stored user id, read from the directory tree (for scans; never loads the users). */
  async *ids(): AsyncGenerator<number> {
    const root = path.join(this.dir, 'users');
    const shards = await readdir(root).catch(() => [] as string[]);
    for (const shard of shards) {
      for (const f of await readdir(path.join(root, shard)).catch(() => [] as string[])) {
        const m = /^(-?\d+)\.json$/.exec(f);
        if (m) yield Number(m[1]);
      }
    }
  }

  /** Drops the user from the watch index if nothing of theirs is billed, decided under their lock. */
  unwatchIfIdle(userId: number): Promise<void> {
    return this.locks.run(userId, async () => {
      const u = await this.get(userId);
      if (!u || !needsWatching(u)) await this.watched.remove(userId);
    });
  }

  /** Waits for writes in flight. */
  async flush(): Promise<void> {
    await this.locks.idle();
    await this.watched.flush().catch(() => undefined);
  }

  private async *scanWatched(): AsyncGenerator<{ id: number; watched: boolean }> {
    for await (const id of this.ids()) {
      // a file that does not load is listed: the watchdog then reports it, rather than never looking
      const u = await this.get(id).catch(() => null);
      yield { id, watched: u === null || (u !== undefined && needsWatching(u)) };
    }
  }

  private async save(doc: Doc, next: User): Promise<void> {
    const prev = doc.data;
    doc.data = next;
    try {
      await doc.write();
    } catch (e) {
      doc.data = prev;
      throw e;
    }
  }

  private async load(userId: number): Promise<Doc> {
    const hit = this.cache.get(userId);
    if (hit) return hit;
    const doc: Doc = new Low<unknown>(new JSONFile(this.fileOf(userId)), null);
    await doc.read();
    if (doc.data != null) {
      let raw: Record<string, unknown>;
      try {
        raw = migrate(doc.data as Record<string, unknown>);
      } catch (e) {
        throw new Error(`user file ${this.fileOf(userId)}: ${(e as Error).message}`);
      }
      const parsed = UserSchema.safeParse(raw);
      if (!parsed.success) throw new Error(`user file ${this.fileOf(userId)} is invalid: ${parsed.error.message}`);
      doc.data = parsed.data;
    }
    // another caller may have loaded it meanwhile; keep the first so both share one document
    const again = this.cache.get(userId);
    if (again) return again;
    this.cache.set(userId, doc);
    return doc;
  }
}

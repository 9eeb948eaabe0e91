/**
 * The users the watchdog must look at: those with a deployment the grid bills. The watchdog walks
 * this small file instead of every user file (100,000 users, most with nothing running).
 *
 * It is allowed to hold too many ids, never too few: an id is added and written before the user
 * file that needs it, and dropped only after the user file no longer does. A watchdog that loads a
 * user with nothing to watch just drops them. When the file is missing (a data directory from
 * before it existed, or a lost file), it is rebuilt by scanning the user files once.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { JSONFile } from 'lowdb/node';
import { z } from 'zod';

const IndexSchema = z.object({ version: z.literal(1), users: z.array(z.number().int()) });

export class WatchIndex {
  private ids: Set<number> | undefined;
  private loading: Promise<Set<number>> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  readonly file: string;

  constructor(dataDir: string, private readonly scan: () => AsyncIterable<{ id: number; watched: boolean }>) {
    this.file = path.join(dataDir, 'index', 'watched-users.json');
  }

  /** The ids, in ascending order (a pass over them is stable across restarts). */
  async all(): Promise<number[]> {
    return [...(await this.load())].sort((a, b) => a - b);
  }

  async has(id: number): Promise<boolean> {
    return (await this.load()).has(id);
  }

  /** Adds and waits until the file says so: call before writing the user file that needs it. */
  async add(id: number): Promise<void> {
    const ids = await this.load();
    if (ids.has(id)) return;
    ids.add(id);
    await this.persist();
  }

  async addMany(list: Iterable<number>): Promise<void> {
    const ids = await this.load();
    for (const id of list) ids.add(id);
    await this.persist();
  }

  /** Drops without waiting for the disk: a stale extra id costs one look, nothing else. */
  async remove(id: number): Promise<void> {
    const ids = await this.load();
    if (ids.delete(id)) void this.persist().catch(() => undefined);
  }

  async flush(): Promise<void> {
    await this.writing;
  }

  private load(): Promise<Set<number>> {
    if (this.ids) return Promise.resolve(this.ids);
    this.loading ??= (async () => {
      const raw = await readFile(this.file, 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      let ids: Set<number>;
      if (raw === undefined) {
        ids = new Set();
        for await (const u of this.scan()) if (u.watched) ids.add(u.id);
        this.ids = ids;
        await this.persist();
      } else {
        const parsed = IndexSchema.safeParse(JSON.parse(raw));
        if (!parsed.success) throw new Error(`${this.file} is invalid: ${parsed.error.message}`);
        ids = new Set(parsed.data.users);
      }
      this.ids = ids;
      return ids;
    })();
    return this.loading;
  }

  /** One write at a time; changes made while one is running are written by the next. */
  private persist(): Promise<void> {
    this.dirty = true;
    this.writing = this.writing.catch(() => undefined).then(async () => {
      if (!this.dirty || !this.ids) return;
      this.dirty = false;
      await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await new JSONFile(this.file).write({ version: 1, users: [...this.ids] });
    });
    return this.writing;
  }
}

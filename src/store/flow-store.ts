/**
 * Where each chat stands in its conversation: one small file per user under
 * <dataDir>/flows/<id mod 1000>/<id>.json, apart from the user's own file. Every answer rewrites
 * this file (a few hundred bytes, a few KB with a long list of buttons) instead of the user's whole
 * file, which for a user with 1,000 deployments is 2 MB (bench/README.md, `store-scale.ts`).
 *
 * Writes are atomic (a temp file, then rename) and serialized per user; the chat layer already
 * handles one update per chat at a time. A file that does not parse is a conversation that starts
 * over, never an error in the user's face.
 */
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { FlowStateSchema, type FlowState } from '../domain/user.js';
import { Lru } from './lru.js';
import { KeyedLock } from './keyed-lock.js';

const FileSchema = z.object({ version: z.literal(1), flow: FlowStateSchema });

export class FlowStore {
  /** null: known to have no conversation */
  private readonly cache: Lru<number, FlowState | null>;
  private readonly locks = new KeyedLock<number>();
  private seq = 0;

  constructor(private readonly dir: string, cacheSize = 2000) {
    this.cache = new Lru(cacheSize);
  }

  fileOf(userId: number): string {
    return path.join(this.dir, 'flows', String(Math.abs(userId) % 1000).padStart(3, '0'), `${userId}.json`);
  }

  async get(userId: number): Promise<FlowState | undefined> {
    const hit = this.cache.get(userId);
    if (hit !== undefined) return hit ?? undefined;
    const state = await this.read(userId);
    // a write that finished meanwhile knows better than what was read before it
    if (this.cache.get(userId) === undefined) this.cache.set(userId, state ?? null);
    return state;
  }

  /** Saves the conversation, or ends it (removes the file) with `undefined`. */
  set(userId: number, state: FlowState | undefined): Promise<void> {
    return this.locks.run(userId, async () => {
      const file = this.fileOf(userId);
      if (state) {
        await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
        const tmp = `${file}.${process.pid}.${++this.seq}.tmp`;
        await writeFile(tmp, JSON.stringify({ version: 1, flow: state }), { mode: 0o600 });
        await rename(tmp, file);
      } else {
        await unlink(file).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
      }
      this.cache.set(userId, state ?? null);
    });
  }

  /** Waits for writes in flight. */
  async flush(): Promise<void> {
    await this.locks.idle();
  }

  private async read(userId: number): Promise<FlowState | undefined> {
    let text: string;
    try {
      text = await readFile(this.fileOf(userId), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const parsed = FileSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data.flow : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * A snapshot of the data directory as a tar stream (gzip is added by the caller), read file by file
 * while the bot keeps running, never held in memory as a whole.
 *
 * **No file is caught half-written.** Every file under data/ is replaced atomically (temp file +
 * rename) or only appended to (the notice journal, the chain inbox). A file is opened once and read
 * through that descriptor for exactly the size fstat gave: a rename meanwhile swaps the name, not the
 * inode being read, so the copy is one whole version; an appended journal is copied as the prefix it
 * had, which may end in a torn line, as a kill mid-append leaves and its reader ignores.
 *
 * **The files fit together as a crash would leave them.** The files are not read at one instant, so
 * the order is chosen so that each file is read no earlier than the files the app writes before it,
 * which is the order a restart already copes with:
 *   1. jobs in flight (`jobs/*.json`): a job file is written before the change it is for;
 *   2. the user files, so each is at least as new as the journal of its jobs (a journal that says a
 *      step is done while the user file lacks its effect never happens in a crash, the reverse does);
 *   3. jobs that appeared meanwhile, then their users' files again (a later entry of the same path
 *      replaces the earlier one on extraction), until no new job appears;
 *   4. finished and failed jobs (a job copied as in flight in 1. is not copied again from done/);
 *   5. the notice journal (a reminder is queued before the user file records it);
 *   6. the chain cursor, then the chain inbox (the cursor never ahead of the deposits recorded);
 *   7. anything else, then the simulated grid last (the grid acts before the store records).
 * What stays loose is harmless by the same argument as a crash: jobs are journaled and idempotent
 * and re-check the grid before redoing a step, reconcile cancels contracts no deployment owns, and
 * the notice journal refuses an id it already has.
 *
 * **Left out**: `logs/` (big, not state), `index/` (derived: a start without it rebuilds it from the
 * user files, which is the only way to be sure it lists every user a restored file needs watching),
 * temp files (`*.tmp`, lowdb's `.<name>.tmp`), a restore's `.restoring-*` and `.before-restore-*`
 * directories, anything not a regular file, the pid file, a key rotation's lock and pending key, and `master.key`: it
 * decrypts every wallet mnemonic in the user files, and a bucket holding both would hand the wallets
 * to whoever reads the bucket. The key is kept apart (JUKEBOX_MASTER_KEY, a secret manager).
 */
import { open, readdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Header } from 'tar';
import { UserStore } from '../store/user-store.js';

export interface SnapshotStats {
  /** distinct files in the archive */
  files: number;
  /** their bytes (uncompressed, the last copy of each) */
  bytes: number;
  /** paths left out because tar's plain header cannot hold them */
  skipped: string[];
}

/**
 * Top-level entries never backed up: keys (a rotation's pending key too), the running process's pid
 * and a rotation's lock (a restore must not inherit either), and the health probe's scratch file.
 */
const EXCLUDED_TOP = new Set(['logs', 'index', 'master.key', 'master.key.new', 'jukebox.pid', 'rotate-key.lock', '.healthz-probe']);
/** what a restore into a mounted data directory keeps inside it (restore.ts) */
const RESTORE_LEFTOVER = /^\.(restoring|before-restore)-/;
const isTemp = (name: string): boolean => name.endsWith('.tmp');

const CHUNK = 256 * 1024;
const BLOCK = 512;
/** rounds of "jobs that appeared meanwhile" before giving up on a quiet moment */
const MAX_ROUNDS = 5;

export interface SnapshotOptions {
  /** for tests: called before each file is read (may throw, to cut the snapshot short) */
  onFile?: (rel: string) => void | Promise<void>;
}

/** The tar stream of `dataDir` (a Readable of Buffers) and, once it has ended, what it held. */
export function snapshotStream(dataDir: string, opts: SnapshotOptions = {}): { stream: Readable; stats: SnapshotStats } {
  const stats: SnapshotStats = { files: 0, bytes: 0, skipped: [] };
  const stream = Readable.from(tarEntries(path.resolve(dataDir), stats, opts), { objectMode: false, highWaterMark: CHUNK });
  return { stream, stats };
}

async function* tarEntries(root: string, stats: SnapshotStats, opts: SnapshotOptions): AsyncGenerator<Buffer> {
  const sizes = new Map<string, number>();
  const users = new UserStore(root, 1);
  const userRel = (id: number) => path.relative(root, users.fileOf(id)).split(path.sep).join('/');

  // a file, as one tar entry; returns its text when asked to (small job files)
  async function* entry(rel: string, keep?: { text?: string }): AsyncGenerator<Buffer> {
    await opts.onFile?.(rel);
    let fh: FileHandle;
    try {
      fh = await open(path.join(root, rel), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // renamed or removed since the listing
      throw e;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) return;
      const header = new Header({ path: rel, mode: 0o600, uid: 0, gid: 0, size: st.size, mtime: st.mtime, type: 'File' });
      const block = Buffer.alloc(BLOCK);
      if (header.encode(block, 0)) {
        // the path does not fit a plain ustar header; nothing the app writes is that long
        stats.skipped.push(rel);
        return;
      }
      yield block;
      const parts: Buffer[] = [];
      let left = st.size;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
        const { bytesRead } = await fh.read(buf, 0, buf.length, st.size - left);
        // files here are never truncated in place; a shorter read means someone else is writing it
        if (bytesRead === 0) throw new Error(`${rel} shrank while it was being copied`);
        const chunk = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        if (keep) parts.push(chunk);
        left -= bytesRead;
        yield chunk;
      }
      const pad = (BLOCK - (st.size % BLOCK)) % BLOCK;
      if (pad) yield Buffer.alloc(pad);
      if (!sizes.has(rel)) stats.files++;
      stats.bytes += st.size - (sizes.get(rel) ?? 0);
      sizes.set(rel, st.size);
      if (keep) keep.text = Buffer.concat(parts).toString('utf8');
    } finally {
      await fh.close();
    }
  }

  // every regular-looking file under rel, sorted, temp files left out
  async function* walk(rel: string, skip: (rel: string) => boolean = () => false): AsyncGenerator<string> {
    const dirents = await readdir(path.join(root, rel), { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return [];
      throw e;
    });
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of dirents) {
      const child = rel ? `${rel}/${d.name}` : d.name;
      if (isTemp(d.name) || skip(child)) continue;
      if (d.isDirectory()) yield* walk(child, skip);
      else if (d.isFile()) yield child;
    }
  }

  async function* copyAll(paths: AsyncIterable<string>): AsyncGenerator<Buffer> {
    for await (const rel of paths) yield* entry(rel);
  }

  const pendingJobs = async () =>
    (await readdir(path.join(root, 'jobs')).catch(() => [] as string[])).filter((f) => f.endsWith('.json') && !isTemp(f)).sort();

  // 1. jobs in flight
  const jobsSeen = new Set<string>();
  for (const f of await pendingJobs()) {
    jobsSeen.add(f);
    yield* entry(`jobs/${f}`);
  }
  // 2. users
  yield* copyAll(walk('users'));
  // 3. jobs that appeared meanwhile, then their users again
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const fresh = (await pendingJobs()).filter((f) => !jobsSeen.has(f));
    if (fresh.length === 0) break;
    const owners = new Set<number>();
    for (const f of fresh) {
      jobsSeen.add(f);
      const kept: { text?: string } = {};
      yield* entry(`jobs/${f}`, kept);
      const userId = kept.text === undefined ? undefined : (JSON.parse(kept.text) as { userId?: unknown }).userId;
      if (typeof userId === 'number') owners.add(userId);
    }
    for (const id of owners) yield* entry(userRel(id));
  }
  // 4. the rest of jobs/: finished and failed jobs, not those already copied as in flight
  yield* copyAll(
    walk('jobs', (rel) => {
      const parts = rel.split('/');
      return (parts.length === 2 && parts[1]!.endsWith('.json')) || (parts.length === 3 && jobsSeen.has(parts[2]!));
    }),
  );
  // 5–7. the notice journal, the chain (cursor first), anything else, the simulated grid last
  yield* copyAll(walk('outbox'));
  yield* entry('chain/cursor.json');
  yield* copyAll(walk('chain', (rel) => rel === 'chain/cursor.json'));
  const known = new Set(['jobs', 'users', 'outbox', 'chain', 'grid-sim.json']);
  yield* copyAll(walk('', (rel) => !rel.includes('/') && (known.has(rel) || EXCLUDED_TOP.has(rel) || RESTORE_LEFTOVER.test(rel))));
  yield* entry('grid-sim.json');
  // the end of a tar archive: two empty blocks
  yield Buffer.alloc(BLOCK * 2);
}

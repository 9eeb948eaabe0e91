/**
 * Brings a snapshot back as the data directory: downloaded and unpacked into a temp directory next
 * to the target (same file system), its sha256 checked against the manifest once the last byte is
 * in, and only then renamed into place. A non-empty target is refused unless forced, and then moved
 * aside to `<dir>.before-restore-<time>`, never deleted. Run it while the bot is stopped.
 *
 * A data directory that is a mount point (a Docker volume) cannot be renamed; there the temp and
 * the set-aside directories are `.restoring-<time>` and `.before-restore-<time>` inside it (backups
 * leave them out), and the swap is entry by entry.
 */
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';
import { SecretBox } from '../chain/secret-box.js';
import { stampOf, type SnapshotBucket, type Snapshot } from './bucket.js';

export class RestoreRefused extends Error {
  override name = 'RestoreRefused';
}

export interface RestoreOptions {
  bucket: SnapshotBucket;
  snapshot: Snapshot;
  dataDir: string;
  /** replace a non-empty data directory (moved aside, not deleted) */
  force?: boolean;
  now?: number;
  /** swap entries inside the directory rather than the directory itself; by default only for a mount point */
  inPlace?: boolean;
}

export interface RestoreResult {
  dataDir: string;
  /** where the previous data directory went, when there was one */
  movedAside?: string;
  /** files unpacked */
  files: number;
}

async function entries(dir: string): Promise<string[] | undefined> {
  return readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
}

export async function restoreSnapshot(o: RestoreOptions): Promise<RestoreResult> {
  const target = path.resolve(o.dataDir);
  const stamp = stampOf(o.now ?? Date.now());
  const before = await entries(target);
  if (before && before.length > 0 && !o.force) {
    throw new RestoreRefused(`${target} is not empty; restore into an empty directory, or add --force to move it aside first`);
  }
  await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
  // a data directory that is a mount point (a Docker volume) cannot be renamed: then the temp
  // directory goes inside it, and its entries are swapped one by one (each rename still atomic)
  const mounted = before !== undefined && (o.inPlace ?? (await stat(target)).dev !== (await stat(path.dirname(target))).dev);
  const temp = mounted ? path.join(target, `.restoring-${stamp}`) : `${target}.restoring-${stamp}`;
  await mkdir(temp, { mode: 0o700 });
  let files = 0;
  try {
    const { stream, check } = await o.bucket.get(o.snapshot);
    await pipeline(
      stream,
      createGunzip(),
      tar.x({
        cwd: temp,
        strict: true, // a damaged archive fails instead of warning
        // owner-only, whatever the archive or the umask say
        chmod: true,
        processUmask: 0o077,
        dmode: 0o700,
        // only plain files and directories, nothing that could point outside
        filter: (_p, entry) => {
          const type = 'type' in entry ? entry.type : undefined;
          const ok = type === 'File' || type === 'Directory';
          if (ok && type === 'File') files++;
          return ok;
        },
      }),
    );
    check();
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  let movedAside: string | undefined;
  if (mounted) {
    if (before.length > 0) {
      movedAside = path.join(target, `.before-restore-${stamp}`);
      await mkdir(movedAside, { mode: 0o700 });
      for (const name of before) await rename(path.join(target, name), path.join(movedAside, name));
    }
    for (const name of await readdir(temp)) await rename(path.join(temp, name), path.join(target, name));
    await rmdir(temp);
    return { dataDir: target, ...(movedAside ? { movedAside } : {}), files };
  }
  if (before && before.length > 0) {
    movedAside = `${target}.before-restore-${stamp}`;
    await rename(target, movedAside);
  } else if (before) {
    await rmdir(target);
  }
  await rename(temp, target);
  return { dataDir: target, ...(movedAside ? { movedAside } : {}), files };
}

/**
 * Whether `key` opens the wallets in the restored user files: the first sealed mnemonic found is
 * tried. `undefined` when no user has a wallet yet.
 */
export async function keyOpensWallets(dataDir: string, key: Buffer): Promise<boolean | undefined> {
  const box = new SecretBox(key);
  const root = path.join(dataDir, 'users');
  for (const shard of (await entries(root)) ?? []) {
    if (!(await stat(path.join(root, shard))).isDirectory()) continue;
    for (const f of (await entries(path.join(root, shard))) ?? []) {
      if (!f.endsWith('.json')) continue;
      const user = JSON.parse(await readFile(path.join(root, shard, f), 'utf8')) as { identity?: { mnemonicSealed?: string } };
      const sealed = user.identity?.mnemonicSealed;
      if (!sealed) continue;
      try {
        box.open(sealed);
        return true;
      } catch {
        return false;
      }
    }
  }
  return undefined;
}

/** Local mode keeps its generated key in data/master.key, which backups leave out: bring it over from the old directory. */
export async function carryLocalKey(from: string, to: string): Promise<boolean> {
  try {
    await copyFile(path.join(from, 'master.key'), path.join(to, 'master.key'));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

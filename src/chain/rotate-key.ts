/**
 * Rotating the master key (`npm run rotate-key`, scripts/rotate-key.ts): every sealed value in every
 * user file (mnemonics, deployments' secret inputs and generated secrets, secrets in a conversation
 * under way: any string shaped like a sealed value, wherever it sits) is opened with the old key and
 * sealed again with the new one. Conversation files (flows/: a secret typed mid-order is sealed
 * there) and job files are walked the same way; those are rewritten only when they hold one.
 *
 * Safe to interrupt: each file is rewritten atomically (temp file + rename, owner-only) and records
 * the new key's fingerprint (`sealedWith`), so a rerun skips the files already done. A value that
 * opens with the new key already (written by a bot that ran on the new key) is kept as it is; one
 * that opens with neither stops the run, naming the file, before anything of that file is written.
 * While a rotation is unfinished `rotate-key.lock` names the target key: the bot refuses to start,
 * and a rerun with another new key is refused. The bot must be stopped: `jukebox.pid` names a
 * running one, and the rotation refuses to begin.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { keyFingerprint, SecretBox, SEALED_RE } from './secret-box.js';

export const LOCK_FILE = 'rotate-key.lock';
/** The fingerprint of the key the data is sealed with: a bot given another key refuses to start. */
export const KEY_ID_FILE = 'key.id';
export const PID_FILE = 'jukebox.pid';

export interface RotateOptions {
  dataDir: string;
  oldKey: Buffer;
  newKey: Buffer;
  /** progress lines */
  say?: (line: string) => void;
  /** called after each file is done (tests interrupt the run here) */
  afterFile?: (file: string) => void;
}

export interface RotateResult {
  /** files that hold sealed values, or are user files */
  files: number;
  rewritten: number;
  /** already sealed with the new key (an earlier, interrupted run) */
  skipped: number;
  /** values sealed again */
  values: number;
}

export class RotationError extends Error {
  override name = 'RotationError';
}

/** Writes `data` to `file` atomically and owner-only, whatever the umask. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

/** Whether a process with this pid is alive (EPERM: alive, someone else's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The bot's pid file: written at start, removed at a clean stop; a rotation refuses while its process lives. */
export async function writePidFile(dataDir: string): Promise<() => Promise<void>> {
  const file = path.join(dataDir, PID_FILE);
  await writeFileAtomic(file, `${process.pid}\n`);
  return () => rm(file, { force: true });
}

/**
 * Throws when `key` is not the key the data directory is sealed with (a rotation whose new key was
 * not put in place, a forgotten JUKEBOX_MASTER_KEY change, a restore started with a fresh local
 * key): starting would leave every wallet unreadable and seal new values under a second key. A
 * directory without the record (new, or from before it existed) gets it now.
 */
export async function assertKeyMatches(dataDir: string, key: Buffer): Promise<void> {
  const file = path.join(dataDir, KEY_ID_FILE);
  const recorded = (await readFile(file, 'utf8').catch(() => undefined))?.trim();
  const mine = keyFingerprint(key);
  if (recorded === undefined) return writeFileAtomic(file, `${mine}\n`);
  if (recorded !== mine) {
    throw new RotationError(
      `the master key (fingerprint ${mine}) is not the one ${dataDir} is sealed with (${recorded}). ` +
        'Start with the key the data was sealed with; if a `npm run rotate-key` was cut short, run it again to finish it.',
    );
  }
}

/** Throws when a rotation was begun and not finished: the files hold values of two keys. */
export async function assertNoRotationPending(dataDir: string): Promise<void> {
  const lock = await readFile(path.join(dataDir, LOCK_FILE), 'utf8').catch(() => undefined);
  if (lock === undefined) return;
  throw new RotationError(
    `a master key rotation was begun and not finished (${path.join(dataDir, LOCK_FILE)}): some secrets are sealed with the old key, some with the new. ` +
      'Run `npm run rotate-key` again with the same new key to finish it, then start the bot with the new key.',
  );
}

async function* jsonFiles(dir: string): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* jsonFiles(p);
    else if (e.isFile() && e.name.endsWith('.json') && !e.name.startsWith('.')) yield p;
  }
}

/** Re-seals every sealed string in `value` (a parsed JSON document); counts what it changed. */
function reseal(value: unknown, from: SecretBox, to: SecretBox, where: string, counter: { n: number }): unknown {
  if (typeof value === 'string') {
    if (!SEALED_RE.test(value)) return value;
    let plain: string;
    try {
      plain = from.open(value);
    } catch {
      try {
        to.open(value);
        return value; // sealed with the new key already
      } catch {
        throw new RotationError(`${where}: a sealed value opens with neither the old key nor the new one (is the old key right?)`);
      }
    }
    counter.n += 1;
    return to.seal(plain);
  }
  if (Array.isArray(value)) return value.map((v, i) => reseal(v, from, to, `${where}[${i}]`, counter));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = reseal(v, from, to, `${where}.${k}`, counter);
    return out;
  }
  return value;
}

export async function rotateKey(o: RotateOptions): Promise<RotateResult> {
  if (o.oldKey.equals(o.newKey)) throw new RotationError('the new key is the old key');
  const from = new SecretBox(o.oldKey);
  const to = new SecretBox(o.newKey);
  const say = o.say ?? (() => undefined);

  const pid = Number((await readFile(path.join(o.dataDir, PID_FILE), 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
    throw new RotationError(`the bot is running (pid ${pid}, ${path.join(o.dataDir, PID_FILE)}): stop it first`);
  }
  const lockFile = path.join(o.dataDir, LOCK_FILE);
  const lock = await readFile(lockFile, 'utf8').catch(() => undefined);
  if (lock !== undefined) {
    const pending = (JSON.parse(lock) as { to?: string }).to;
    if (pending !== to.keyId) {
      throw new RotationError(`an unfinished rotation to the key with fingerprint ${pending} is pending: run again with that new key to finish it`);
    }
    say(`resuming the rotation to key ${to.keyId}`);
  }
  // the lock goes down before the first file changes: until then there is nothing to finish
  let locked = lock !== undefined;

  const result: RotateResult = { files: 0, rewritten: 0, skipped: 0, values: 0 };
  for (const sub of ['users', 'flows', 'jobs']) {
    for await (const file of jsonFiles(path.join(o.dataDir, sub))) {
      const text = await readFile(file, 'utf8');
      const doc = JSON.parse(text) as unknown;
      const isUser = sub === 'users';
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) continue;
      const rec = doc as Record<string, unknown>;
      if (rec.sealedWith === to.keyId) {
        result.files += 1;
        result.skipped += 1;
        continue;
      }
      if (!isUser && !text.includes('"v1:')) continue; // nothing sealed in it: nothing to mark
      result.files += 1;
      const counter = { n: 0 };
      const next = reseal(rec, from, to, path.relative(o.dataDir, file), counter) as Record<string, unknown>;
      next.sealedWith = to.keyId;
      if (!locked) {
        await writeFileAtomic(lockFile, `${JSON.stringify({ from: from.keyId, to: to.keyId, startedAt: new Date().toISOString() })}\n`);
        locked = true;
      }
      await writeFileAtomic(file, JSON.stringify(next, null, 2));
      result.rewritten += 1;
      result.values += counter.n;
      o.afterFile?.(file);
    }
  }
  // the data's key record moves to the new key before the lock goes: a bot still given the old key
  // (its key file not swapped yet, JUKEBOX_MASTER_KEY not changed) then refuses to start
  await writeFileAtomic(path.join(o.dataDir, KEY_ID_FILE), `${to.keyId}\n`);
  await rm(lockFile, { force: true });
  say(`sealed ${result.values} values again in ${result.rewritten} files (${result.skipped} were done already)`);
  return result;
}

export { keyFingerprint };

/** Rotating the master key: every sealed value moves from key A to key B; an interrupted run finishes on a rerun. */
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cryptoReady } from '../../../src/chain/identity.js';
import { assertKeyMatches, assertNoRotationPending, LOCK_FILE, PID_FILE, rotateKey } from '../../../src/chain/rotate-key.js';
import { SEALED_RE, SecretBox } from '../../../src/chain/secret-box.js';
import { systemClock } from '../../../src/clock.js';
import { UserService } from '../../../src/services/users.js';
import { UserStore } from '../../../src/store/user-store.js';

const A = Buffer.alloc(32, 0xa1);
const B = Buffer.alloc(32, 0xb2);
let dir: string;

beforeAll(() => cryptoReady());
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A data dir with `n` users sealed with key A, each with a mnemonic and secrets in a conversation; plus a job holding one. */
async function dataDirSealedWith(key: Buffer, n: number): Promise<Map<string, string>> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-rotate-'));
  const box = new SecretBox(key);
  const store = new UserStore(dir);
  const users = new UserService(store, box, systemClock);
  const plain = new Map<string, string>(); // where → plaintext
  for (let id = 1; id <= n; id++) {
    const { user } = await users.ensure({ id, first_name: `u${id}` }, id);
    plain.set(`${id}:mnemonic`, users.identityOf(user).mnemonic);
    const secret = `bls-${id}-${randomBytes(8).toString('hex')}`;
    plain.set(`${id}:flow`, secret);
    await store.update(id, (u) => {
      u.flow = { flow: 'deploy', version: 1, step: 'x', token: 't', data: { inputs: { blsKey: box.seal(secret), plain: 'visible' } }, choices: [], page: 0, updatedAt: 0 };
    });
  }
  await store.flush();
  await mkdir(path.join(dir, 'jobs'), { recursive: true });
  await writeFile(path.join(dir, 'jobs', 'j1.json'), JSON.stringify({ id: 'j1', payload: { pw: box.seal('job-secret') } }));
  plain.set('job', 'job-secret');
  return plain;
}

async function sealedValues(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.json')) {
        JSON.stringify(JSON.parse(await readFile(p, 'utf8')), (_k, v: unknown) => {
          if (typeof v === 'string' && SEALED_RE.test(v)) out.push(v);
          return v;
        });
      }
    }
  };
  await walk(dir);
  return out;
}

const opensWith = (key: Buffer, sealed: string): boolean => {
  try {
    new SecretBox(key).open(sealed);
    return true;
  } catch {
    return false;
  }
};

async function expectAllSealedWith(key: Buffer, plain: Map<string, string>, n: number): Promise<void> {
  const sealed = await sealedValues();
  expect(sealed).toHaveLength(2 * n + 1);
  expect(sealed.every((s) => opensWith(key, s))).toBe(true);
  expect(sealed.some((s) => opensWith(key.equals(A) ? B : A, s))).toBe(false);
  // the plaintexts are the same, and the files still load through the store
  const box = new SecretBox(key);
  const store = new UserStore(dir);
  for (let id = 1; id <= n; id++) {
    const u = (await store.get(id))!;
    expect(box.open(u.identity.mnemonicSealed)).toBe(plain.get(`${id}:mnemonic`));
    expect(box.open((u.flow!.data.inputs as { blsKey: string }).blsKey)).toBe(plain.get(`${id}:flow`));
    expect(u.sealedWith).toBe(box.keyId);
    expect((await stat(store.fileOf(id))).mode & 0o077).toBe(0);
  }
}

describe('rotateKey', () => {
  it('re-seals every sealed value from A to B; nothing opens with A afterwards', async () => {
    const plain = await dataDirSealedWith(A, 5);
    const r = await rotateKey({ dataDir: dir, oldKey: A, newKey: B });
    expect(r).toEqual({ files: 6, rewritten: 6, skipped: 0, values: 11 });
    await expectAllSealedWith(B, plain, 5);
    await expect(assertNoRotationPending(dir)).resolves.toBeUndefined();
    // a second run finds everything done
    expect(await rotateKey({ dataDir: dir, oldKey: A, newKey: B })).toEqual({ files: 6, rewritten: 0, skipped: 6, values: 0 });
  });

  it('the data records its key: a bot given another key refuses to start, also when a rotation ended before its new key was put in place', async () => {
    await dataDirSealedWith(A, 3);
    await assertKeyMatches(dir, A); // the first start records it
    await expect(assertKeyMatches(dir, B)).rejects.toThrow(/is not the one .* is sealed with/);
    // the rotation is done, and the process dies before the key file is swapped (or the operator
    // forgets to change JUKEBOX_MASTER_KEY): the old key must not start the bot
    await rotateKey({ dataDir: dir, oldKey: A, newKey: B, say: () => undefined });
    await expect(assertKeyMatches(dir, A)).rejects.toThrow(/rotate-key/);
    await expect(assertKeyMatches(dir, B)).resolves.toBeUndefined();
  });

  it('an interrupted run leaves a lock the bot refuses to start on; a rerun with the same key finishes it', async () => {
    const plain = await dataDirSealedWith(A, 6);
    let done = 0;
    await expect(
      rotateKey({
        dataDir: dir,
        oldKey: A,
        newKey: B,
        afterFile: () => {
          if (++done === 3) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    const sealed = await sealedValues();
    expect(sealed.filter((s) => opensWith(B, s)).length).toBeGreaterThan(0);
    expect(sealed.filter((s) => opensWith(A, s)).length).toBeGreaterThan(0);
    await expect(assertNoRotationPending(dir)).rejects.toThrow(/not finished/);
    await expect(rotateKey({ dataDir: dir, oldKey: A, newKey: randomBytes(32) })).rejects.toThrow(/unfinished rotation/);

    const r = await rotateKey({ dataDir: dir, oldKey: A, newKey: B });
    expect(r.skipped).toBe(3);
    expect(r.rewritten).toBe(4);
    await expectAllSealedWith(B, plain, 6);
    await expect(readFile(path.join(dir, LOCK_FILE))).rejects.toThrow();
  });

  it('refuses a wrong old key without writing anything, and refuses while the bot runs', async () => {
    await dataDirSealedWith(A, 2);
    const before = await sealedValues();
    await expect(rotateKey({ dataDir: dir, oldKey: randomBytes(32), newKey: B })).rejects.toThrow(/opens with neither/);
    expect(await sealedValues()).toEqual(before);
    await expect(assertNoRotationPending(dir)).resolves.toBeUndefined(); // nothing was changed: nothing to finish
    await writeFile(path.join(dir, PID_FILE), `${process.ppid}\n`);
    await expect(rotateKey({ dataDir: dir, oldKey: A, newKey: B })).rejects.toThrow(/the bot is running/);
  });

  it('npm run rotate-key in local mode: the new key replaces data/master.key at the end', async () => {
    const plain = await dataDirSealedWith(A, 2);
    await writeFile(path.join(dir, 'master.key'), `${A.toString('hex')}\n`, { mode: 0o600 });
    const env = { ...process.env, DATA_DIR: dir, JUKEBOX_MASTER_KEY: '', NODE_OPTIONS: '' };
    const { stdout } = await promisify(execFile)(path.resolve('node_modules/.bin/tsx'), ['scripts/rotate-key.ts', '--new-key', B.toString('hex')], { env });
    expect(stdout).toMatch(/now holds the new key/);
    expect((await readFile(path.join(dir, 'master.key'), 'utf8')).trim()).toBe(B.toString('hex'));
    expect((await stat(path.join(dir, 'master.key'))).mode & 0o077).toBe(0);
    await expectAllSealedWith(B, plain, 2);
  }, 30_000);
});

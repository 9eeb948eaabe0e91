/**
 * Backups against a real S3-compatible server on loopback (s3rver): a data directory made by the
 * real bot goes up and comes back, and the bot starts from it; retention; uploads cut short (a
 * failing read, a crash before the manifest, a stop mid-way) leave no snapshot and are cleaned;
 * temp files and secrets stay out; a restore refuses a non-empty directory and a tampered archive.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { JSONFile } from 'lowdb/node';
import { Backup, type BackupSettings } from '../../src/backup/index.js';
import { restoreSnapshot, RestoreRefused } from '../../src/backup/restore.js';
import { snapshotStream } from '../../src/backup/snapshot.js';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { deploy } from '../helpers/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import * as tar from 'tar';
import { pipeline } from 'node:stream/promises';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BUCKET = 'jukebox-backups';
const CREDS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

let server: S3rver;
let endpoint: string;
let client: S3Client;
let tmp: string;
let prefixes = 0;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'jukebox-backup-'));
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(tmp, 's3') });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: CREDS });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
});
afterAll(async () => {
  client.destroy();
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});

/** settings with a prefix of their own, so tests do not see each other's snapshots */
function settings(keep = 5): BackupSettings {
  return { bucket: BUCKET, endpoint, region: 'us-east-1', credentials: CREDS, prefix: `t${++prefixes}/`, forcePathStyle: true, cron: '0 0 1 1 *', keep };
}

async function keys(prefix: string): Promise<string[]> {
  const res = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

async function filesUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await filesUnder(dir, child)));
    else out.push(child);
  }
  return out.sort();
}

/** a small data directory by hand: a user file, a job, and what must stay out */
async function handMadeDataDir(extra: Record<string, string | Buffer> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmp, 'data-'));
  const files: Record<string, string | Buffer> = {
    'users/7/7.json': JSON.stringify({ id: 7 }),
    'jobs/j1.json': JSON.stringify({ id: 'j1', userId: 7 }),
    'jobs/done/j0.json': JSON.stringify({ id: 'j0', userId: 7 }),
    'outbox/notices.jsonl': '{"op":"add"}\n{"op":"se',
    'grid-sim.json': '{"contracts":[]}',
    ...extra,
  };
  for (const [rel, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), body);
  }
  return dir;
}

describe('a backup of the real bot, restored', () => {
  let h: Harness | undefined;
  afterAll(async () => h?.stop());

  it('brings back the users, their deployments and the grid, and the bot starts from it', async () => {
    const source = await mkdtemp(path.join(tmp, 'bot-'));
    h = await startHarness({ dataDir: source });
    const u = h.emu.user({ id: 501, first_name: 'Bea' });
    await deploy(u, { name: 'alpha' });
    await h.stop();
    h = undefined;
    // what must not go up: a torn temp file of lowdb's, our own temp files, logs, the local master key
    await writeFile(path.join(source, 'users/501/.501.json.tmp'), '{"id":501,"deploym');
    await writeFile(path.join(source, 'jobs/x.json.tmp'), '{');
    await mkdir(path.join(source, 'logs'), { recursive: true });
    await writeFile(path.join(source, 'logs/jukebox.log'), '{"msg":"hello"}\n');
    await writeFile(path.join(source, 'master.key'), `${'07'.repeat(32)}\n`);
    // nor a rotation's pending key and lock, nor the running process's pid
    await writeFile(path.join(source, 'master.key.new'), `${'08'.repeat(32)}\n`);
    await writeFile(path.join(source, 'rotate-key.lock'), '{}');
    await writeFile(path.join(source, 'jukebox.pid'), '12345\n');

    const s = settings();
    const backup = new Backup({ dataDir: source, settings: s, log: silentLogger });
    const report = await backup.runNow();
    await backup.stop();
    expect(report.key).toMatch(new RegExp(`^${s.prefix}snapshots/\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d\\.\\d{3}Z\\.tar\\.gz$`));
    expect(report.files).toBeGreaterThanOrEqual(3);
    const [snap] = await backup.list();
    expect(snap).toMatchObject({ key: report.key, files: report.files, bytes: report.bytes, size: report.size });

    const target = path.join(tmp, 'restored', 'data');
    const res = await restoreSnapshot({ bucket: backup.bucket, snapshot: snap!, dataDir: target });
    expect(res.files).toBe(report.files);
    const restored = await filesUnder(target);
    expect(restored).toEqual(expect.arrayContaining(['users/501/501.json', 'grid-sim.json']));
    expect(restored.filter((f) => f.endsWith('.tmp') || f.startsWith('logs/') || f.startsWith('index/') || /^(master\.key|master\.key\.new|rotate-key\.lock|jukebox\.pid)$/.test(f))).toEqual([]);
    expect(restored.length).toBe(report.files);
    expect((await stat(path.join(target, 'users/501/501.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(target, 'users'))).mode & 0o777).toBe(0o700);

    h = await startHarness({ dataDir: target });
    const user = await h.app.store.get(501);
    expect(user?.deployments.find((d) => d.name === 'alpha')?.state).toBe('active');
    const again = h.emu.user({ id: 501, first_name: 'Bea' });
    await again.sendText('/status alpha');
    const status = await again.waitForText('Wallet:');
    expect(status.text).toContain('alpha');
    // the watch index was left out and is rebuilt from the user files
    expect(await h.app.store.watched.has(501)).toBe(true);
  }, 60_000);
});

describe('retention', () => {
  it('keeps the newest N snapshots', async () => {
    const dir = await handMadeDataDir();
    const clock = new ManualClock(Date.now());
    const s = settings(2);
    const backup = new Backup({ dataDir: dir, settings: s, log: silentLogger, clock });
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      made.push((await backup.runNow()).key);
      clock.advance(60_000);
    }
    expect((await backup.list()).map((x) => x.key)).toEqual(made.slice(2));
    expect(await keys(s.prefix)).toHaveLength(4); // two archives, two manifests
    await backup.stop();
  });
});

describe('a big archive', () => {
  it('goes up in parts and comes back whole', async () => {
    const blob = randomBytes(12 * 1024 * 1024); // gzip cannot shrink it: three parts of 5 MiB
    const dir = await handMadeDataDir({ 'blob.bin': blob });
    const backup = new Backup({ dataDir: dir, settings: settings(), log: silentLogger, partSize: 5 * 1024 * 1024 });
    const report = await backup.runNow();
    await backup.stop();
    expect(report.size).toBeGreaterThan(10 * 1024 * 1024);
    const [snap] = await backup.list();
    const target = path.join(await mkdtemp(path.join(tmp, 'big-')), 'data');
    await restoreSnapshot({ bucket: backup.bucket, snapshot: snap!, dataDir: target });
    expect((await readFile(path.join(target, 'blob.bin'))).equals(blob)).toBe(true);
  }, 30_000);
});

describe('an interrupted upload', () => {
  it('cut short while reading (a multipart upload under way) leaves no snapshot', async () => {
    // 12 MB that gzip cannot shrink: at 5 MiB a part, parts are uploaded before the failure
    const dir = await handMadeDataDir({ 'blob.bin': randomBytes(12 * 1024 * 1024) });
    const s = settings();
    const backup = new Backup({
      dataDir: dir,
      settings: s,
      log: silentLogger,
      partSize: 5 * 1024 * 1024,
      hooks: {
        onFile: (rel) => {
          if (rel === 'grid-sim.json') throw new Error('disk gone');
        },
      },
    });
    await expect(backup.runNow()).rejects.toThrow('disk gone');
    expect(await backup.list()).toEqual([]);
    expect(await keys(s.prefix)).toEqual([]);
    await backup.stop();
  }, 30_000);

  it('stopped mid-way (the bot shutting down) leaves no snapshot', async () => {
    const dir = await handMadeDataDir();
    const s = settings();
    let reached!: () => void;
    const atLastFile = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const backup = new Backup({
      dataDir: dir,
      settings: s,
      log: silentLogger,
      hooks: {
        onFile: async (rel) => {
          if (rel !== 'grid-sim.json') return;
          reached();
          await held;
        },
      },
    });
    const run = backup.runNow();
    const outcome = run.then(
      () => 'done',
      () => 'failed',
    );
    await atLastFile;
    const stopped = backup.stop();
    release();
    await stopped;
    expect(await outcome).toBe('failed');
    expect(await backup.list()).toEqual([]);
    await expect(backup.runNow()).rejects.toThrow(/stopped/);
  });

  it('killed between the archive and its manifest: not listed, deleted once an hour old', async () => {
    const dir = await handMadeDataDir();
    const s = settings();
    const clock = new ManualClock(Date.now());
    const crashing = new Backup({
      dataDir: dir,
      settings: s,
      log: silentLogger,
      clock,
      hooks: {
        beforeManifest: () => {
          throw new Error('killed');
        },
      },
    });
    await expect(crashing.runNow()).rejects.toThrow('killed');
    const [orphan] = await keys(s.prefix);
    expect(orphan).toMatch(/\.tar\.gz$/);
    expect(await crashing.list()).toEqual([]);

    const backup = new Backup({ dataDir: dir, settings: s, log: silentLogger, clock });
    clock.advance(30 * 60_000); // younger than an hour: it may be an upload still going on elsewhere
    const first = await backup.runNow();
    expect(first.cleaned).toBe(0);
    expect(await keys(s.prefix)).toContain(orphan);
    clock.advance(2 * 60 * 60_000);
    const second = await backup.runNow();
    expect(second.cleaned).toBe(1);
    expect(await keys(s.prefix)).not.toContain(orphan);
    expect((await backup.list()).map((x) => x.key)).toEqual([first.key, second.key]);
  });
});

describe('restore', () => {
  it('refuses a non-empty directory unless forced, then moves it aside', async () => {
    const dir = await handMadeDataDir();
    const backup = new Backup({ dataDir: dir, settings: settings(), log: silentLogger });
    await backup.runNow();
    const [snap] = await backup.list();
    const target = await mkdtemp(path.join(tmp, 'busy-'));
    await writeFile(path.join(target, 'mine.txt'), 'precious');
    await expect(restoreSnapshot({ bucket: backup.bucket, snapshot: snap!, dataDir: target })).rejects.toThrow(RestoreRefused);
    expect(await readdir(target)).toEqual(['mine.txt']);

    const res = await restoreSnapshot({ bucket: backup.bucket, snapshot: snap!, dataDir: target, force: true });
    expect(res.movedAside).toMatch(/\.before-restore-/);
    expect(await readFile(path.join(res.movedAside!, 'mine.txt'), 'utf8')).toBe('precious');
    expect(await filesUnder(target)).toEqual(['grid-sim.json', 'jobs/done/j0.json', 'jobs/j1.json', 'outbox/notices.jsonl', 'users/7/7.json']);
    // nothing left next to it but the two directories
    const siblings = (await readdir(path.dirname(target))).filter((f) => f.startsWith(path.basename(target)));
    expect(siblings.sort()).toEqual([path.basename(target), path.basename(res.movedAside!)].sort());
    await backup.stop();
  });

  it('swaps the entries of a data directory that is a mount point (a Docker volume)', async () => {
    const dir = await handMadeDataDir();
    const backup = new Backup({ dataDir: dir, settings: settings(), log: silentLogger });
    await backup.runNow();
    await backup.stop();
    const [snap] = await backup.list();
    const target = await mkdtemp(path.join(tmp, 'volume-'));
    await writeFile(path.join(target, 'mine.txt'), 'precious');
    const res = await restoreSnapshot({ bucket: backup.bucket, snapshot: snap!, dataDir: target, force: true, inPlace: true });
    expect(res.movedAside).toBe(path.join(target, path.basename(res.movedAside!)));
    expect(await readFile(path.join(res.movedAside!, 'mine.txt'), 'utf8')).toBe('precious');
    const now = (await filesUnder(target)).filter((f) => !f.startsWith('.before-restore-'));
    expect(now).toEqual(['grid-sim.json', 'jobs/done/j0.json', 'jobs/j1.json', 'outbox/notices.jsonl', 'users/7/7.json']);
    // a backup of it leaves the set-aside directory out
    const again = new Backup({ dataDir: target, settings: settings(), log: silentLogger });
    expect((await again.runNow()).files).toBe(5);
    await again.stop();
  });

  it('refuses an archive that does not match its manifest, and writes nothing', async () => {
    const s = settings();
    const clock = new ManualClock(Date.now());
    const a = new Backup({ dataDir: await handMadeDataDir(), settings: s, log: silentLogger, clock });
    await a.runNow();
    clock.advance(60_000);
    const b = new Backup({ dataDir: await handMadeDataDir({ 'users/8/8.json': '{"id":8}' }), settings: s, log: silentLogger, clock });
    await b.runNow();
    const [first, second] = await a.list();
    // the first snapshot's archive replaced by another valid one: only the hash can tell
    const other = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: second!.key }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: first!.key, Body: await other.Body!.transformToByteArray() }));
    const parent = await mkdtemp(path.join(tmp, 'tampered-'));
    await expect(restoreSnapshot({ bucket: a.bucket, snapshot: first!, dataDir: path.join(parent, 'data') })).rejects.toThrow(
      /does not match its manifest/,
    );
    expect(await readdir(parent)).toEqual([]);
    await a.stop();
    await b.stop();
  });

  it('npm run restore lists, and refuses a non-empty directory', async () => {
    const dir = await handMadeDataDir();
    const s = settings();
    const backup = new Backup({ dataDir: dir, settings: s, log: silentLogger });
    const made = await backup.runNow();
    await backup.stop();
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATA_DIR: dir,
      BACKUP_S3_BUCKET: BUCKET,
      BACKUP_S3_ENDPOINT: endpoint,
      BACKUP_S3_ACCESS_KEY_ID: 'S3RVER',
      BACKUP_S3_SECRET_ACCESS_KEY: 'S3RVER',
      BACKUP_S3_PREFIX: s.prefix,
      BACKUP_S3_FORCE_PATH_STYLE: 'true',
    };
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/backup/restore-cli.ts', ...args], { cwd: ROOT, env });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.once('exit', (code) => resolve({ code, out, err }));
      });
    const list = await run(['--list']);
    expect(list.code).toBe(0);
    expect(list.out).toContain(made.key);
    const refused = await run(['--snapshot', 'latest']);
    expect(refused.code).toBe(4);
    expect(refused.err).toContain('not empty');
    const target = path.join(tmp, 'cli-restore', 'data');
    const ok = await run(['--snapshot', 'latest', '--data-dir', target]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`restored ${made.files} files`);
  }, 60_000);
});

describe('the snapshot itself', () => {
  it('never holds a half-written file while files are rewritten and appended to', async () => {
    const dir = await handMadeDataDir();
    const writers = Array.from({ length: 20 }, (_, i) => new JSONFile<{ id: number; pad: string; n: number }>(path.join(dir, `users/${i}/${i}.json`)));
    await Promise.all(writers.map((w, i) => mkdir(path.dirname(path.join(dir, `users/${i}/${i}.json`)), { recursive: true }).then(() => w.write({ id: i, pad: 'x'.repeat(50_000), n: 0 }))));
    let writing = true;
    const journal = await open(path.join(dir, 'outbox/notices.jsonl'), 'a');
    const churn = (async () => {
      for (let n = 1; writing; n++) {
        await Promise.all([
          ...writers.map((w, i) => w.write({ id: i, pad: 'x'.repeat(50_000 + (n % 7) * 1000), n })),
          journal.write(`${JSON.stringify({ op: 'add', id: `n${n}`, pad: 'y'.repeat(5000) })}\n`),
        ]);
      }
    })();
    const snap = snapshotStream(dir);
    const out = path.join(tmp, `churn-${Date.now()}`);
    await mkdir(out);
    await pipeline(snap.stream, tar.x({ cwd: out, strict: true }));
    writing = false;
    await churn;
    await journal.close();
    // a prefix of the journal: whole lines (after the torn second line the test data began with), at most the last one torn
    const lines = (await readFile(path.join(out, 'outbox/notices.jsonl'), 'utf8')).split('\n');
    expect(lines[0]).toBe('{"op":"add"}');
    for (const l of lines.slice(2, -1)) expect(() => JSON.parse(l)).not.toThrow();
    for (let i = 0; i < 20; i++) {
      const doc = JSON.parse(await readFile(path.join(out, `users/${i}/${i}.json`), 'utf8')) as { id: number };
      expect(doc.id).toBe(i);
    }
    expect((await filesUnder(out)).some((f) => f.endsWith('.tmp'))).toBe(false);
  });
});

/**
 * Backup and restore of a synthetic data directory: `--users` user files (default 100,000, about
 * 2.5 KB each like a user with a deployment), a few jobs, a notice journal, against s3rver on
 * loopback. Prints files/s, MB, the archive's size and the process's peak RSS, and one JSON line.
 *
 *   npx tsx bench/backup.ts [--users 100000] [--keep-dir]
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { Backup } from '../src/backup/index.js';
import { restoreSnapshot } from '../src/backup/restore.js';
import { silentLogger } from '../src/log.js';

const { values } = parseArgs({ options: { users: { type: 'string', default: '100000' } } });
const users = Number(values.users);

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

const tmp = await mkdtemp(path.join(os.tmpdir(), 'jukebox-bench-backup-'));
const dataDir = path.join(tmp, 'data');
const t0 = performance.now();
for (let shard = 0; shard < 1000; shard++) await mkdir(path.join(dataDir, 'users', String(shard)), { recursive: true });
const write: Promise<void>[] = [];
for (let id = 1; id <= users; id++) {
  const user = {
    id,
    chatId: id,
    identity: { address: `5${randomBytes(23).toString('hex')}`, mnemonicSealed: `v1:${randomBytes(12).toString('base64url')}.${randomBytes(16).toString('base64url')}.${randomBytes(120).toString('base64url')}` },
    settings: { autoRedeploy: true },
    deposits: [{ id: `${id}-1`, amount: 1_000_000_000, at: 1_760_000_000_000 }],
    deployments: [
      {
        id: 'd1',
        name: `node${id}`,
        profile: 'dash-full',
        state: 'active',
        nodes: [{ nodeId: id % 5000, farm: 'farm', country: 'BE', contractIds: [id * 3, id * 3 + 1], ips: { ipv4: '185.69.166.1/24' } }],
        audit: Array.from({ length: 8 }, (_, i) => ({ at: 1_760_000_000_000 + i * 60_000, by: id, what: `step ${i}` })),
      },
    ],
  };
  write.push(writeFile(path.join(dataDir, 'users', String(id % 1000), `${id}.json`), JSON.stringify(user, null, 2)));
  if (write.length >= 256) await Promise.all(write.splice(0));
}
await Promise.all(write);
await mkdir(path.join(dataDir, 'jobs', 'done'), { recursive: true });
await mkdir(path.join(dataDir, 'outbox'), { recursive: true });
await writeFile(path.join(dataDir, 'outbox', 'notices.jsonl'), '{"op":"add","id":"x"}\n'.repeat(10_000));
const madeMs = performance.now() - t0;

const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(tmp, 's3') });
const { port } = await server.run();
const settings = {
  bucket: 'bench-backups',
  endpoint: `http://127.0.0.1:${port}`,
  region: 'us-east-1',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  prefix: 'bench/',
  forcePathStyle: true,
  cron: '0 0 1 1 *',
  keep: 3,
};
const client = new S3Client({ region: settings.region, endpoint: settings.endpoint, forcePathStyle: true, credentials: settings.credentials });
await client.send(new CreateBucketCommand({ Bucket: settings.bucket }));

const rssBefore = process.memoryUsage().rss;
peakRss = rssBefore;
const backup = new Backup({ dataDir, settings, log: silentLogger, client });
const report = await backup.runNow();
const backupPeak = peakRss;
const [snap] = await backup.list();
const r0 = performance.now();
const restored = await restoreSnapshot({ bucket: backup.bucket, snapshot: snap!, dataDir: path.join(tmp, 'restored') });
const restoreMs = performance.now() - r0;
clearInterval(sampler);

const mb = (n: number) => Math.round((n / 1e6) * 10) / 10;
const result = {
  users,
  files: report.files,
  dataMB: mb(report.bytes),
  archiveMB: mb(report.size),
  backupMs: report.ms,
  filesPerSecond: Math.round(report.files / (report.ms / 1000)),
  restoreMs: Math.round(restoreMs),
  restoredFiles: restored.files,
  rssBeforeMB: mb(rssBefore),
  peakRssMB: mb(backupPeak),
  peakRssRestoreMB: mb(peakRss),
  node: process.version,
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
};
process.stdout.write(
  `made ${users} user files in ${Math.round(madeMs)} ms\n` +
    `backup: ${result.files} files, ${result.dataMB} MB → ${result.archiveMB} MB gz in ${result.backupMs} ms (${result.filesPerSecond} files/s), peak RSS ${result.peakRssMB} MB (before ${result.rssBeforeMB} MB)\n` +
    `restore: ${result.restoredFiles} files in ${result.restoreMs} ms, peak RSS ${result.peakRssRestoreMB} MB\n` +
    `${JSON.stringify(result)}\n`,
);
client.destroy();
await server.close();
await rm(tmp, { recursive: true, force: true });

/**
 * `npm run restore -- [--list] [--snapshot <key|id|latest>] [--data-dir DIR] [--force]`
 *
 * Lists the snapshots in the backup bucket, or brings one back as the data directory. Reads the same
 * settings as the bot (BACKUP_S3_*, DATA_DIR, JUKEBOX_MASTER_KEY). Stop the bot first.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { s3Client, SnapshotBucket, type Snapshot } from './bucket.js';
import { carryLocalKey, keyOpensWallets, restoreSnapshot, RestoreRefused } from './restore.js';

const USAGE = `usage: npm run restore -- [--list] [--snapshot <key | time | latest>] [--data-dir DIR] [--force]
  --list              list the complete snapshots (the default without --snapshot)
  --snapshot X        restore snapshot X: its key, its time as listed, or "latest"
  --data-dir DIR      where to restore (default: DATA_DIR, else ./data)
  --force             replace a non-empty data directory (it is moved aside, not deleted)
Settings come from the environment, as for the bot: BACKUP_S3_BUCKET, BACKUP_S3_ENDPOINT, …
Stop the bot before restoring.`;

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

function table(list: Snapshot[]): string {
  if (list.length === 0) return 'no snapshots yet\n';
  const rows = list.map((s) => [s.id, s.createdAt, String(s.files), mb(s.size), mb(s.bytes), s.key]);
  const head = ['snapshot', 'taken at', 'files', 'archive', 'data', 'key'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

async function main(argv: string[]): Promise<number> {
  process.umask(0o077);
  const { values } = parseArgs({
    args: argv,
    options: {
      list: { type: 'boolean', default: false },
      snapshot: { type: 'string' },
      'data-dir': { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadConfig();
  if (!config.backup) {
    process.stderr.write('BACKUP_S3_BUCKET is not set: there is no bucket to restore from.\n');
    return 2;
  }
  const bucket = new SnapshotBucket(s3Client(config.backup), config.backup);
  if (values.list || values.snapshot === undefined) {
    process.stdout.write(table(await bucket.list()));
    if (values.snapshot === undefined && !values.list) process.stdout.write(`\n${USAGE}\n`);
    return 0;
  }
  const snapshot = await bucket.find(values.snapshot);
  if (!snapshot) {
    process.stderr.write(`no complete snapshot "${values.snapshot}" in s3://${config.backup.bucket}/${config.backup.prefix}snapshots/ (see --list)\n`);
    return 1;
  }
  const dataDir = path.resolve(values['data-dir'] ?? config.dataDir);
  process.stdout.write(`restoring ${snapshot.key} (${snapshot.createdAt}, ${snapshot.files} files, ${mb(snapshot.size)}) into ${dataDir}\n`);
  const res = await restoreSnapshot({ bucket, snapshot, dataDir, force: values.force });
  process.stdout.write(`restored ${res.files} files into ${res.dataDir}, sha256 checked\n`);
  if (res.movedAside) process.stdout.write(`the previous data directory is now ${res.movedAside}\n`);

  // the wallets in the user files need the master key they were sealed with, which backups leave out
  let key: Buffer | undefined = config.masterKeyHex ? Buffer.from(config.masterKeyHex, 'hex') : undefined;
  if (!key && res.movedAside && (await carryLocalKey(res.movedAside, res.dataDir))) {
    process.stdout.write('brought over the local master.key from the previous data directory\n');
  }
  if (!key) {
    const hex = await readFile(path.join(res.dataDir, 'master.key'), 'utf8').catch(() => undefined);
    if (hex && /^[0-9a-f]{64}\s*$/i.test(hex)) key = Buffer.from(hex.trim(), 'hex');
  }
  // undefined: no user has a wallet yet; otherwise whether the key opens the first one found
  const opens = await keyOpensWallets(res.dataDir, key ?? Buffer.alloc(32));
  if (opens !== undefined && (!key || !opens)) {
    process.stderr.write(
      'WARNING: ' +
        (key ? 'the master key in use does not open the wallets in this snapshot.' : 'no master key is set (JUKEBOX_MASTER_KEY).') +
        ' Start the bot with the JUKEBOX_MASTER_KEY the snapshot was made with, or its wallets cannot be opened.\n',
    );
    return 0;
  }
  process.stdout.write('start the bot on it as usual (npm start)\n');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof RestoreRefused || err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`restore failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof RestoreRefused ? 4 : 1);
  },
);

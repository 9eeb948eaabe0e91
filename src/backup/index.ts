/**
 * Scheduled backups of data/ to an S3-compatible bucket: on `backup.cron`, one at a time (a tick
 * while one runs is skipped), each a streamed tar.gz snapshot (snapshot.ts) uploaded in parts,
 * then its manifest, then the oldest snapshots beyond `keep` deleted. Before each, what interrupted
 * uploads left behind more than an hour ago is deleted. One log line per backup: `backup done`
 * (key, files, bytes, size, ms) or `backup failed`.
 */
import { pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import cron, { type ScheduledTask } from 'node-cron';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { s3Client, SnapshotBucket, stampOf, type BackupSettings, type Snapshot } from './bucket.js';
import { snapshotStream, type SnapshotOptions } from './snapshot.js';

export { SnapshotBucket, s3Client, type BackupSettings, type Snapshot } from './bucket.js';

export interface BackupOptions {
  dataDir: string;
  settings: BackupSettings;
  log: Logger;
  clock?: Clock;
  /** another client (tests); by default one built from the settings */
  client?: S3Client;
  /** multipart part size; 8 MiB by default (S3's minimum is 5 MiB) */
  partSize?: number;
  /** for tests: cut a backup short while reading files, or between the archive and its manifest */
  hooks?: { onFile?: SnapshotOptions['onFile']; beforeManifest?: () => void | Promise<void> };
}

export interface BackupReport {
  key: string;
  files: number;
  bytes: number;
  /** the archive's bytes */
  size: number;
  ms: number;
  /** older snapshots deleted to keep `keep` */
  pruned: number;
  /** leftovers of interrupted uploads deleted */
  cleaned: number;
}

export class Backup {
  readonly bucket: SnapshotBucket;
  private readonly clock: Clock;
  private task: ScheduledTask | undefined;
  private running: Promise<BackupReport> | undefined;
  private abort: AbortController | undefined;
  private closed = false;

  constructor(private readonly o: BackupOptions) {
    if (!cron.validate(o.settings.cron)) throw new Error(`backup: the schedule "${o.settings.cron}" is not a cron expression`);
    this.clock = o.clock ?? systemClock;
    this.bucket = new SnapshotBucket(o.client ?? s3Client(o.settings), o.settings);
  }

  /** Starts the schedule. */
  start(): void {
    if (this.closed) throw new Error('backup: stopped');
    this.task ??= cron.schedule(
      this.o.settings.cron,
      () => {
        if (this.running) {
          this.o.log.warn('backup skipped: the previous one is still running');
          return;
        }
        void this.runNow().catch(() => undefined); // logged in run()
      },
      { name: 'backup' },
    );
  }

  /** Stops the schedule and aborts a backup under way (it leaves no snapshot). */
  async stop(): Promise<void> {
    this.closed = true;
    await this.task?.destroy();
    this.task = undefined;
    this.abort?.abort();
    await this.running?.catch(() => undefined);
  }

  /** A backup now; while one is running, that one's outcome. */
  runNow(): Promise<BackupReport> {
    if (this.closed) return Promise.reject(new Error('backup: stopped'));
    this.running ??= this.run().finally(() => {
      this.running = undefined;
      this.abort = undefined;
    });
    return this.running;
  }

  private async run(): Promise<BackupReport> {
    const { log, settings } = this.o;
    const abort = (this.abort = new AbortController());
    const started = this.clock.now();
    const t0 = performance.now();
    const stamp = stampOf(started);
    const key = this.bucket.archiveKey(stamp);
    try {
      let cleaned = 0;
      try {
        const c = await this.bucket.clean(started);
        cleaned = c.objects.length + c.uploads;
        if (cleaned) log.info({ objects: c.objects, uploads: c.uploads }, 'backup: deleted what interrupted uploads left');
      } catch (err) {
        log.warn({ err }, 'backup: could not clean what interrupted uploads left');
      }
      const snap = snapshotStream(this.o.dataDir, this.o.hooks?.onFile ? { onFile: this.o.hooks.onFile } : {});
      const gzip = createGzip();
      pipeline(snap.stream, gzip, () => undefined); // an error destroys gzip, which fails the upload
      const done = await this.bucket.put(
        stamp,
        gzip,
        () => ({ createdAt: new Date(started).toISOString(), files: snap.stats.files, bytes: snap.stats.bytes, ms: Math.round(performance.now() - t0) }),
        {
          signal: abort.signal,
          ...(this.o.partSize ? { partSize: this.o.partSize } : {}),
          ...(this.o.hooks?.beforeManifest ? { beforeManifest: this.o.hooks.beforeManifest } : {}),
        },
      );
      if (snap.stats.skipped.length) log.warn({ paths: snap.stats.skipped }, 'backup: paths too long for the archive were left out');
      const pruned = await this.bucket.prune(settings.keep);
      const report: BackupReport = {
        key: done.key,
        files: done.files,
        bytes: done.bytes,
        size: done.size,
        ms: Math.round(performance.now() - t0),
        pruned: pruned.length,
        cleaned,
      };
      log.info(report, 'backup done');
      return report;
    } catch (err) {
      log.error({ err, key, ms: Math.round(performance.now() - t0) }, 'backup failed');
      throw err;
    }
  }

  /** Complete snapshots, oldest first. */
  list(): Promise<Snapshot[]> {
    return this.bucket.list();
  }
}

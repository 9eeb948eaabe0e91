/**
 * Snapshots in an S3-compatible bucket: `<prefix>snapshots/<time>.tar.gz`, and beside it
 * `<time>.manifest.json` (files, bytes, size and sha256 of the archive), written last. A snapshot
 * exists only when its manifest does: an upload cut short (process killed, network down) leaves at
 * most an archive without one, which is never listed and is deleted once it is an hour old.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type _Object,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { z } from 'zod';
import type { Config } from '../config.js';

export type BackupSettings = NonNullable<Config['backup']>;

export const ManifestSchema = z.object({
  format: z.literal('jukebox-backup/1'),
  /** the archive's key */
  key: z.string(),
  createdAt: z.string(),
  files: z.number().int(),
  /** the files' bytes, uncompressed */
  bytes: z.number().int(),
  /** the archive's bytes */
  size: z.number().int(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** how long the snapshot took */
  ms: z.number(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export interface Snapshot extends Manifest {
  /** the time part of the key, which sorts like the time: what `--snapshot` accepts besides the key */
  id: string;
  manifestKey: string;
}

const ARCHIVE = '.tar.gz';
const MANIFEST = '.manifest.json';

/** 2026-01-01T00:00:00.000Z → 2026-01-01T00-00-00.000Z: sortable, and safe as a file name on any store */
export const stampOf = (ms: number): string => new Date(ms).toISOString().replace(/:/g, '-');

export function s3Client(s: BackupSettings): S3Client {
  return new S3Client({
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.credentials ? { credentials: s.credentials } : {}),
  });
}

/**
 * Counts and hashes what passes through. (Not `size`: lib-storage reads a body's `size` as its
 * total length, and a 0 there fails every multipart upload.)
 */
export class Digest extends Transform {
  private readonly hash = createHash('sha256');
  byteCount = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.byteCount += chunk.length;
    cb(null, chunk);
  }
  hex(): string {
    return this.hash.digest('hex');
  }
}

export class SnapshotBucket {
  readonly bucket: string;
  private readonly dir: string;
  constructor(readonly client: S3Client, settings: Pick<BackupSettings, 'bucket' | 'prefix'>) {
    this.bucket = settings.bucket;
    this.dir = `${settings.prefix}snapshots/`;
  }

  archiveKey(stamp: string): string {
    return `${this.dir}${stamp}${ARCHIVE}`;
  }

  private async objects(): Promise<_Object[]> {
    const out: _Object[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.dir, ...(token ? { ContinuationToken: token } : {}) }),
      );
      out.push(...(page.Contents ?? []));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  private async readManifest(key: string): Promise<Manifest> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const text = await res.Body!.transformToString('utf8');
    const parsed = ManifestSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${key} is not a snapshot manifest: ${parsed.error.message}`);
    return parsed.data;
  }

  /** Complete snapshots (those with a manifest), oldest first. */
  async list(): Promise<Snapshot[]> {
    const keys = (await this.objects()).map((o) => o.Key!).filter((k) => k.endsWith(MANIFEST));
    const out: Snapshot[] = [];
    for (const manifestKey of keys.sort()) {
      const m = await this.readManifest(manifestKey);
      out.push({ ...m, id: manifestKey.slice(this.dir.length, -MANIFEST.length), manifestKey });
    }
    return out;
  }

  /** A snapshot by archive key, manifest key, time stamp, or "latest". */
  async find(which: string): Promise<Snapshot | undefined> {
    const all = await this.list();
    if (which === 'latest') return all.at(-1);
    return all.find((s) => s.id === which || s.key === which || s.manifestKey === which);
  }

  /**
   * Streams `body` to `<stamp>.tar.gz` (multipart above one part), then writes the manifest.
   * `signal` aborts the upload; a multipart upload that fails is aborted on the server.
   */
  async put(
    stamp: string,
    body: Readable,
    /** what the manifest says besides the archive's own size and hash, asked once the archive is up */
    describe: () => Omit<Manifest, 'format' | 'key' | 'size' | 'sha256'>,
    opts: { signal?: AbortSignal; partSize?: number; beforeManifest?: () => void | Promise<void> } = {},
  ): Promise<Snapshot> {
    const key = this.archiveKey(stamp);
    const digest = new Digest();
    const source = body.pipe(digest);
    // the reason an upload fails is the source's, when it has one (lib-storage would report its own
    // failure to abort the multipart upload instead, where the store refuses that)
    let sourceError: Error | undefined;
    body.once('error', (err) => {
      sourceError = err;
      digest.destroy(err);
    });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: source, ContentType: 'application/gzip' },
      partSize: opts.partSize ?? 8 * 1024 * 1024,
      queueSize: 2,
      // we abort the multipart upload ourselves: lib-storage would report a failed abort (some
      // stores cannot) instead of the reason the upload failed
      leavePartsOnError: true,
    });
    const onAbort = () => {
      void upload.abort();
      body.destroy(new Error('backup aborted'));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      body.destroy();
      if (upload.uploadId) {
        // best effort: what stays behind is cleaned by clean() or the bucket's lifecycle rule
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.uploadId })).catch(() => undefined);
      }
      if (sourceError && sourceError !== err) {
        if (sourceError.cause === undefined) sourceError.cause = err;
        throw sourceError;
      }
      throw err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    if (opts.signal?.aborted) throw new Error('backup aborted');
    await opts.beforeManifest?.();
    const manifest: Manifest = { format: 'jukebox-backup/1', key, size: digest.byteCount, sha256: digest.hex(), ...describe() };
    const manifestKey = `${this.dir}${stamp}${MANIFEST}`;
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: manifestKey, Body: JSON.stringify(manifest, null, 2), ContentType: 'application/json' }),
    );
    return { ...manifest, id: stamp, manifestKey };
  }

  /** The archive's bytes, hashed as they come: `check()` after the stream has ended says whether they match. */
  async get(s: Snapshot): Promise<{ stream: Readable; check(): void }> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: s.key }));
    const digest = new Digest();
    const body = res.Body as Readable;
    body.once('error', (err) => digest.destroy(err));
    const stream = body.pipe(digest).pipe(new PassThrough());
    return {
      stream,
      check() {
        const sha = digest.hex();
        if (digest.byteCount !== s.size || sha !== s.sha256) {
          throw new Error(`${s.key} does not match its manifest (sha256 ${sha}, ${digest.byteCount} bytes; expected ${s.sha256}, ${s.size} bytes)`);
        }
      },
    };
  }

  /** Deletes a snapshot: the manifest first, so a cut-short delete leaves an unlisted archive to be cleaned. */
  async remove(s: Snapshot): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: s.manifestKey }));
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: s.key }));
  }

  /** Keeps the newest `keep` snapshots; returns those deleted. */
  async prune(keep: number): Promise<Snapshot[]> {
    const all = await this.list();
    const old = all.slice(0, Math.max(0, all.length - keep));
    for (const s of old) await this.remove(s);
    return old;
  }

  /**
   * Deletes what interrupted uploads left older than `olderThanMs` (an hour: an upload that old
   * without its manifest is dead): archives with no manifest, and multipart uploads never completed
   * where the store can list them (s3rver cannot; on AWS a lifecycle rule does it too).
   */
  async clean(now: number, olderThanMs = 60 * 60_000): Promise<{ objects: string[]; uploads: number }> {
    const objs = await this.objects();
    const keys = new Set(objs.map((o) => o.Key!));
    const dead = objs.filter(
      (o) =>
        o.Key!.endsWith(ARCHIVE) &&
        !keys.has(`${o.Key!.slice(0, -ARCHIVE.length)}${MANIFEST}`) &&
        (o.LastModified?.getTime() ?? 0) < now - olderThanMs,
    );
    for (const o of dead) await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: o.Key! }));
    let uploads = 0;
    try {
      const res = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.dir }));
      for (const u of res.Uploads ?? []) {
        if ((u.Initiated?.getTime() ?? 0) >= now - olderThanMs) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key!, UploadId: u.UploadId! }));
        uploads++;
      }
    } catch (err) {
      if ((err as { name?: string }).name !== 'NotImplemented') throw err;
    }
    return { objects: dead.map((o) => o.Key!), uploads };
  }
}

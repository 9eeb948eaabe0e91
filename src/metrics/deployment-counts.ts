/**
 * Deployments by state, without reading 100,000 user files per scrape: every store change reports
 * the user's document before and after it, and the difference moves the counts. One scan at start,
 * in the background, adds what was already on disk.
 *
 * How exact: while the scan runs, a change to a user the scan has not reached yet is ignored (the
 * scan will read the changed file), and one to a user it has read is counted. The one gap is a
 * change whose file write is in progress at the very moment the scan reads that user (a few
 * milliseconds): it can be counted twice, or missed. Changes made behind the store's back (a file
 * edited by hand, a restore) are not seen at all. `complete` is false until the scan is done; every
 * start recounts from the files.
 */
import type { User } from '../domain/user.js';

export interface CountableStore {
  ids(): AsyncIterable<number>;
  get(userId: number): Promise<User | undefined>;
}

export class DeploymentCounts {
  private readonly byState = new Map<string, number>();
  /** users the scan has read; dropped (undefined) once it is done */
  private scanned: Set<number> | undefined = new Set();
  private scanning: Promise<void> | undefined;
  private stopped = false;

  get counts(): ReadonlyMap<string, number> {
    return this.byState;
  }

  get complete(): boolean {
    return this.scanned === undefined;
  }

  /** A user's document changed (after it was written). */
  changed(userId: number, before: User | undefined, after: User): void {
    if (this.scanned && !this.scanned.has(userId)) return; // the scan will read it as it is now
    if (before) for (const d of before.deployments) this.add(d.state, -1);
    for (const d of after.deployments) this.add(d.state, 1);
  }

  /**
   * Reads every user once and adds their deployments; `onError` hears about files that do not load
   * (they are skipped). Resolves when done; a second call returns the same scan.
   */
  seed(store: CountableStore, onError: (err: unknown, userId: number) => void = () => undefined): Promise<void> {
    this.scanning ??= (async () => {
      for await (const id of store.ids()) {
        if (this.stopped) return;
        if (this.scanned!.has(id)) continue;
        const u = await store.get(id).catch((err: unknown) => {
          onError(err, id);
          return undefined;
        });
        // read and marked in the same turn: a change reported after this is a change from this state
        this.scanned!.add(id);
        if (u) for (const d of u.deployments) this.add(d.state, 1);
      }
      this.scanned = undefined;
    })();
    return this.scanning;
  }

  /** Stops a scan in progress (shutdown). */
  stop(): void {
    this.stopped = true;
  }

  private add(state: string, n: number): void {
    this.byState.set(state, (this.byState.get(state) ?? 0) + n);
  }
}

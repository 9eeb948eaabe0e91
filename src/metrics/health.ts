/**
 * /healthz: is the bot polling Telegram, can it write its store, does the grid answer. Each check is
 * bounded by a timeout; the grid's answer is kept for a while (30 s) so scrapes never hammer it;
 * concurrent requests share one run of the checks.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Grid } from '../grid/port.js';

export interface CheckResult {
  ok: boolean;
  /** what failed, or what was seen; no secrets, no user ids */
  detail?: string;
}

export interface HealthReport {
  ok: boolean;
  checks: { polling: CheckResult; store: CheckResult; grid: CheckResult };
}

/** Follows the bot's getUpdates loop: started, each success, stopped. */
export class PollingWatch {
  private startedAt: number | undefined;
  private lastAt: number | undefined;
  private stopped = false;

  constructor(private readonly now: () => number = Date.now) {}

  started(): void {
    this.startedAt = this.now();
    this.stopped = false;
  }

  polled(): void {
    this.lastAt = this.now();
  }

  stoppedPolling(): void {
    this.stopped = true;
  }

  /** ms epoch of the last successful getUpdates */
  get last(): number | undefined {
    return this.lastAt;
  }

  /**
   * Alive when polling runs and a getUpdates succeeded within `staleMs` (a long poll returns at least
   * every 50 s); right after the start, the start counts as the last success.
   */
  check(staleMs: number): CheckResult {
    if (this.startedAt === undefined) return { ok: false, detail: 'not polling yet' };
    if (this.stopped) return { ok: false, detail: 'polling stopped' };
    const since = this.lastAt ?? this.startedAt;
    const ageS = Math.round((this.now() - since) / 1000);
    if (this.now() - since > staleMs) return { ok: false, detail: `no successful getUpdates for ${ageS} s` };
    return { ok: true, detail: this.lastAt === undefined ? 'starting' : `last getUpdates ${ageS} s ago` };
  }
}

export interface HealthOptions {
  /** the data directory: the store probe writes, renames and removes a file in it */
  dataDir: string;
  grid: Pick<Grid, 'findNodes'>;
  polling: PollingWatch;
  /** a poll older than this is dead; default 120 s (a long poll is 50 s) */
  pollStaleMs?: number;
  /** how long the grid's answer is kept; default 30 s */
  gridCacheMs?: number;
  /** each check's bound; default 5 s */
  timeoutMs?: number;
  now?: () => number;
}

function bounded(p: Promise<CheckResult>, ms: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${ms / 1000} s` }), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A short reason from an error: its code or first line, never a stack or a path beyond the data dir. */
function reason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const msg = typeof e?.message === 'string' ? e.message.split('\n')[0]!.slice(0, 200) : String(err).slice(0, 200);
  return typeof e?.code === 'string' ? `${e.code}: ${msg}` : msg;
}

export class Health {
  private readonly timeoutMs: number;
  private readonly gridCacheMs: number;
  private readonly pollStaleMs: number;
  private readonly now: () => number;
  private running: Promise<HealthReport> | undefined;
  private storeProbe: Promise<CheckResult> | undefined;
  private gridProbe: Promise<CheckResult> | undefined;
  private gridCached: { at: number; result: CheckResult } | undefined;

  constructor(private readonly o: HealthOptions) {
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.gridCacheMs = o.gridCacheMs ?? 30_000;
    this.pollStaleMs = o.pollStaleMs ?? 120_000;
    this.now = o.now ?? Date.now;
  }

  /** Runs the three checks (or joins the run in progress). */
  check(): Promise<HealthReport> {
    this.running ??= (async () => {
      try {
        const [store, grid] = await Promise.all([this.store(), this.grid()]);
        const polling = this.o.polling.check(this.pollStaleMs);
        return { ok: polling.ok && store.ok && grid.ok, checks: { polling, store, grid } };
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Write, rename and remove a probe file where the store writes. A probe still hung from before is not started again. */
  private store(): Promise<CheckResult> {
    this.storeProbe ??= (async (): Promise<CheckResult> => {
      const file = path.join(this.o.dataDir, '.healthz-probe');
      try {
        await writeFile(`${file}.tmp`, String(this.now()));
        await rename(`${file}.tmp`, file);
        await rm(file);
        return { ok: true };
      } catch (err) {
        await rm(`${file}.tmp`, { force: true }).catch(() => undefined);
        return { ok: false, detail: `cannot write in the data directory (${reason(err)})` };
      }
    })().finally(() => (this.storeProbe = undefined));
    return bounded(this.storeProbe, this.timeoutMs);
  }

  /** One cheap grid query (a node search of one), its answer kept for gridCacheMs, failures included. */
  private async grid(): Promise<CheckResult> {
    const c = this.gridCached;
    if (c && this.now() - c.at < this.gridCacheMs) return c.result;
    this.gridProbe ??= bounded(
      this.o.grid.findNodes({ limit: 1 }).then(
        (nodes): CheckResult => ({ ok: true, detail: nodes.length ? 'answered' : 'answered, but lists no node that is up' }),
        (err: unknown): CheckResult => ({ ok: false, detail: `the grid did not answer (${reason(err)})` }),
      ),
      this.timeoutMs,
    )
      .then((result) => {
        this.gridCached = { at: this.now(), result };
        return result;
      })
      .finally(() => (this.gridProbe = undefined));
    return this.gridProbe;
  }
}

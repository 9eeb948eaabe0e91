/**
 * The job worker: runs journaled jobs outside the update handlers, a few at a time, and resumes
 * every unfinished job at start. A job handler returns when it is done, or asks to run again later
 * (waiting for a payment); a job can also be nudged to run now ("I have paid").
 */
import { randomBytes } from 'node:crypto';
import PQueue from 'p-queue';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { JOB_TYPES, type JobRecord, type JobStore } from './job-store.js';
import { Journal } from './journal.js';

export type JobResult = { done: true } | { retryAfterMs: number };
export type JobHandler = (journal: Journal) => Promise<JobResult>;
export type JobType = JobRecord['type'];

export interface JobQueue {
  /**
   * Starts a job for a change the caller makes in `commit`: the job file is written first, then the
   * change, then the job is scheduled. A crash in between leaves a job that finds nothing to do,
   * never a change without its job. If `commit` throws, the job is discarded.
   */
  enqueue<T>(type: JobType, userId: number, deploymentId: string, commit: () => Promise<T>, params?: Record<string, unknown>): Promise<T>;
  /** runs the deployment's waiting job now instead of at its next turn */
  nudge(userId: number, deploymentId: string): void;
  /** whether a job (of one of those types) for the deployment is queued, waiting or running */
  hasActive(userId: number, deploymentId: string, types?: JobType | readonly JobType[]): boolean;
}

const MAX_BACKOFF_MS = 5 * 60_000;
/** Unexpected failures before a job is set aside for an operator (about an hour of retries). */
export const MAX_FAILURES = 16;

export class JobWorker implements JobQueue {
  /** one queue per type, so long provisioning never holds up a deletion that stops billing */
  private readonly queues: Record<JobType, PQueue>;
  private readonly active = new Map<string, JobRecord>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  /** nudged while running: runs again as soon as it returns, instead of at its next turn */
  private readonly nudged = new Set<string>();
  private stopping = false;
  /** hears each job that ends: done, or set aside after failing too often (metrics) */
  onJobEnd: ((type: JobType, outcome: 'done' | 'set_aside') => void) | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly handlers: Partial<Record<JobType, JobHandler>>,
    private readonly clock: Clock,
    private readonly log: Logger,
    concurrency: number,
    private readonly retry = { maxFailures: MAX_FAILURES, baseBackoffMs: 1000 },
  ) {
    this.queues = Object.fromEntries(JOB_TYPES.map((t) => [t, new PQueue({ concurrency })])) as Record<JobType, PQueue>;
  }

  /** Resumes what a previous run left unfinished. */
  async start(): Promise<number> {
    await this.store.init();
    const jobs = await this.store.pending();
    for (const job of jobs) {
      this.log.info({ job: job.id, type: job.type, deployment: job.deploymentId }, 'resuming job');
      this.active.set(job.id, job);
      this.schedule(job);
    }
    return jobs.length;
  }

  async enqueue<T>(type: JobType, userId: number, deploymentId: string, commit: () => Promise<T>, params?: Record<string, unknown>): Promise<T> {
    const job: JobRecord = {
      id: `${type}-${userId}-${deploymentId}-${randomBytes(3).toString('hex')}`,
      type,
      userId,
      deploymentId,
      createdAt: this.clock.now(),
      failures: 0,
      ...(params ? { params } : {}),
      journal: [],
    };
    // claimed before the first await: a caller that checks hasActive and then enqueues cannot be
    // overtaken by another doing the same (the watchdog and a chain event replacing one node twice)
    this.active.set(job.id, job);
    let result: T;
    try {
      await this.store.save(job);
      result = await commit();
    } catch (err) {
      this.active.delete(job.id);
      await this.store.discard(job);
      throw err;
    }
    this.schedule(job);
    return result;
  }

  nudge(userId: number, deploymentId: string): void {
    for (const job of this.active.values()) {
      if (job.userId !== userId || job.deploymentId !== deploymentId) continue;
      if (this.running.has(job.id)) this.nudged.add(job.id);
      else if (this.timers.has(job.id)) {
        clearTimeout(this.timers.get(job.id));
        this.timers.delete(job.id);
        this.schedule(job);
      }
    }
  }

  hasActive(userId: number, deploymentId: string, types?: JobType | readonly JobType[]): boolean {
    const wanted = types === undefined ? undefined : ([] as JobType[]).concat(types);
    for (const job of this.active.values()) {
      if (job.userId === userId && job.deploymentId === deploymentId && (!wanted || wanted.includes(job.type))) return true;
    }
    return false;
  }

  /** Resolves when no job is running or queued (jobs waiting on a timer don't count). */
  async idle(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.onIdle()));
  }

  pendingCount(): number {
    return this.active.size;
  }

  /** Jobs in memory by type and state: running, queued to run, or waiting (a timer, a backoff, being written). */
  stateCounts(): { type: JobType; state: 'queued' | 'running' | 'waiting'; count: number }[] {
    const counts = new Map<string, { type: JobType; state: 'queued' | 'running' | 'waiting'; count: number }>();
    for (const job of this.active.values()) {
      const state = this.running.has(job.id) ? 'running' : this.queued.has(job.id) ? 'queued' : 'waiting';
      const key = `${job.type}/${state}`;
      const c = counts.get(key);
      if (c) c.count++;
      else counts.set(key, { type: job.type, state, count: 1 });
    }
    return [...counts.values()];
  }

  /**
   * Starts no new step and gives running ones `graceMs` to finish. A step still running after that
   * is abandoned safely: its journal says where it stood, and it resumes at the next start.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const q of Object.values(this.queues)) q.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  private schedule(job: JobRecord, delayMs = 0): void {
    if (this.stopping) return;
    if (delayMs > 0) {
      this.timers.set(
        job.id,
        setTimeout(() => {
          this.timers.delete(job.id);
          this.schedule(job);
        }, delayMs),
      );
      return;
    }
    if (this.queued.has(job.id)) return;
    this.queued.add(job.id);
    void this.queues[job.type].add(async () => {
      this.queued.delete(job.id);
      await this.run(job);
    });
  }

  private async run(job: JobRecord): Promise<void> {
    const journal = new Journal(job, (j) => this.store.save(j), this.clock);
    this.running.add(job.id);
    try {
      const handler = this.handlers[job.type];
      if (!handler) throw new Error(`no handler for ${job.type} jobs`);
      const result = await handler(journal);
      if ('done' in result) {
        await this.store.finish(job);
        this.active.delete(job.id);
        this.log.info({ job: job.id }, 'job finished');
        this.onJobEnd?.(job.type, 'done');
      } else {
        this.schedule(job, this.nudged.has(job.id) ? 0 : result.retryAfterMs);
      }
    } catch (err) {
      job.failures += 1;
      if (job.failures >= this.retry.maxFailures) {
        this.log.fatal({ err, job: job.id, failures: job.failures }, 'job keeps failing; set aside in jobs/failed/ for an operator');
        await this.store.abandon(job).catch(() => undefined);
        this.active.delete(job.id);
        this.onJobEnd?.(job.type, 'set_aside');
        return;
      }
      const backoff = Math.min(MAX_BACKOFF_MS, this.retry.baseBackoffMs * 2 ** Math.min(job.failures, 10));
      this.log.error({ err, job: job.id, failures: job.failures, retryInMs: backoff }, 'job step failed; will retry');
      await this.store.save(job).catch(() => undefined);
      this.schedule(job, backoff);
    } finally {
      this.running.delete(job.id);
      this.nudged.delete(job.id);
    }
  }
}

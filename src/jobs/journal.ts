/**
 * A job's journal: every step with a side effect is recorded before ("begin") and after ("done"),
 * and each record is on disk before the job goes on. A resumed job reads it to know what happened:
 * done steps are skipped, a begun-but-not-done step is checked against the grid before retrying.
 */
import type { Clock } from '../clock.js';
import type { JobRecord, JournalEntry } from './job-store.js';

export class Journal {
  constructor(
    readonly job: JobRecord,
    private readonly persist: (job: JobRecord) => Promise<void>,
    private readonly clock: Clock,
  ) {}

  private last(step: string, phase: JournalEntry['phase']): JournalEntry | undefined {
    return this.job.journal.findLast((e) => e.step === step && e.phase === phase);
  }

  isDone(step: string): boolean {
    return this.last(step, 'done') !== undefined;
  }

  /** The data recorded when the step was done. */
  result<T>(step: string): T | undefined {
    return this.last(step, 'done')?.data as T | undefined;
  }

  /** The data recorded when the step was last begun. */
  begunWith<T>(step: string): T | undefined {
    return this.last(step, 'begin')?.data as T | undefined;
  }

  /** Begun and not done since: an earlier run stopped in the middle of it. */
  isInterrupted(step: string): boolean {
    const begun = this.job.journal.findLastIndex((e) => e.step === step && e.phase === 'begin');
    return begun >= 0 && !this.job.journal.slice(begun).some((e) => e.step === step && e.phase === 'done');
  }

  /** How many times the step was begun: a step begun but not done was interrupted. */
  attempts(step: string): number {
    return this.job.journal.filter((e) => e.step === step && e.phase === 'begin').length;
  }

  /** The latest `note` of a step (small facts a job keeps, such as its progress message id). */
  note<T>(step: string): T | undefined {
    return this.last(step, 'note')?.data as T | undefined;
  }

  begin(step: string, data?: unknown): Promise<void> {
    return this.append({ step, phase: 'begin', data });
  }

  done(step: string, data?: unknown): Promise<void> {
    return this.append({ step, phase: 'done', data });
  }

  record(step: string, data?: unknown): Promise<void> {
    return this.append({ step, phase: 'note', data });
  }

  private async append(e: Omit<JournalEntry, 'at'>): Promise<void> {
    this.job.journal.push({ at: this.clock.now(), ...e });
    await this.persist(this.job);
  }
}

/**
 * Jobs in flight, one file each under <dataDir>/jobs/ (written atomically by lowdb's adapter), so
 * the directory itself is the list of work to resume after a crash. Finished jobs move to
 * jobs/done/ with their whole journal, for the record; jobs that kept failing move to jobs/failed/
 * for an operator to look at.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { JSONFile } from 'lowdb/node';
import { z } from 'zod';

/**
 * provisioning an order, deleting one, replacing a node, /extend (a top-up, more nodes), a withdrawal
 * from the wallet, an admin's broadcast (its `userId` is the admin's, its `deploymentId` `broadcast-<id>`)
 */
export const JOB_TYPES = ['provision', 'teardown', 'redeploy', 'extend', 'withdraw', 'broadcast'] as const;

/** Jobs that move a deployment's state or swap its nodes: the watchdog and /redeploy wait for them. */
export const RESHAPING_JOBS = ['provision', 'teardown', 'redeploy'] as const;

export const JournalEntrySchema = z.object({
  at: z.number(),
  step: z.string(),
  phase: z.enum(['begin', 'done', 'note']),
  data: z.unknown().optional(),
});
export type JournalEntry = z.infer<typeof JournalEntrySchema>;

export const JobRecordSchema = z.object({
  id: z.string(),
  type: z.enum(JOB_TYPES),
  userId: z.number().int(),
  deploymentId: z.string(),
  createdAt: z.number(),
  /** unexpected failures so far; the worker backs off on them */
  failures: z.number().int().default(0),
  /** what the job is for beyond its deployment (which node to replace, how many to add, where to withdraw to) */
  params: z.record(z.string(), z.unknown()).optional(),
  journal: z.array(JournalEntrySchema),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;

export class JobStore {
  private readonly dir: string;
  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'jobs');
  }

  async init(): Promise<void> {
    await mkdir(path.join(this.dir, 'done'), { recursive: true, mode: 0o700 });
    await mkdir(path.join(this.dir, 'failed'), { recursive: true, mode: 0o700 });
  }

  save(job: JobRecord): Promise<void> {
    return new JSONFile<JobRecord>(path.join(this.dir, `${job.id}.json`)).write(job);
  }

  async finish(job: JobRecord): Promise<void> {
    await this.save(job);
    await rename(path.join(this.dir, `${job.id}.json`), path.join(this.dir, 'done', `${job.id}.json`));
  }

  async abandon(job: JobRecord): Promise<void> {
    await this.save(job);
    await rename(path.join(this.dir, `${job.id}.json`), path.join(this.dir, 'failed', `${job.id}.json`));
  }

  /** Removes a job that never started (the change it was for did not happen). */
  async discard(job: JobRecord): Promise<void> {
    await rm(path.join(this.dir, `${job.id}.json`), { force: true });
  }

  async pending(): Promise<JobRecord[]> {
    const files = (await readdir(this.dir)).filter((f) => f.endsWith('.json'));
    const jobs: JobRecord[] = [];
    for (const f of files) {
      const raw = await new JSONFile<unknown>(path.join(this.dir, f)).read();
      const parsed = JobRecordSchema.safeParse(raw);
      if (parsed.success) jobs.push(parsed.data);
      else throw new Error(`job file ${f} is invalid: ${parsed.error.message}`);
    }
    return jobs.sort((a, b) => a.createdAt - b.createdAt);
  }
}

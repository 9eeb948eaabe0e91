/** The job journal, the job files and the worker (resume, retry later, nudge, failures, stop). */
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../src/clock.js';
import { JobStore, type JobRecord } from '../../../src/jobs/job-store.js';
import { Journal } from '../../../src/jobs/journal.js';
import { nodesOfOrder } from '../../../src/jobs/provision.js';
import { JobWorker, type JobHandler, type JobResult } from '../../../src/jobs/worker.js';
import { silentLogger } from '../../../src/log.js';

let dir: string;
let clock: ManualClock;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'jobs-'));
  clock = new ManualClock(Date.UTC(2026, 0, 1));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function job(over: Partial<JobRecord> = {}): JobRecord {
  return { id: 'provision-7-d1-abc123', type: 'provision', userId: 7, deploymentId: 'd1', createdAt: clock.now(), failures: 0, journal: [], ...over };
}

const jobsDir = () => path.join(dir, 'jobs');
const doneDir = () => path.join(dir, 'jobs', 'done');
async function readJob(file: string): Promise<JobRecord> {
  return JSON.parse(await readFile(file, 'utf8')) as JobRecord;
}
async function pendingFiles(): Promise<string[]> {
  return (await readdir(jobsDir())).filter((f) => f.endsWith('.json'));
}

/** A handler driven by a script of results; each call resolves the next `called` promise. */
function scripted(results: (JobResult | Error)[]) {
  const calls: Journal[] = [];
  const waiters: ((j: Journal) => void)[] = [];
  const called = (n: number) =>
    new Promise<Journal>((resolve) => {
      if (calls.length >= n) resolve(calls[n - 1]!);
      else waiters[n - 1] = resolve;
    });
  const handler: JobHandler = async (journal) => {
    calls.push(journal);
    waiters[calls.length - 1]?.(journal);
    const r = results[Math.min(calls.length, results.length) - 1]!;
    if (r instanceof Error) throw r;
    return r;
  };
  return { handler, calls, called };
}

function worker(handler: JobHandler): JobWorker {
  return new JobWorker(new JobStore(dir), { provision: handler, teardown: handler }, clock, silentLogger, 2);
}

describe('Journal', () => {
  it('records begin / done / note and answers attempts, isDone, result and note', async () => {
    const saved: JobRecord[] = [];
    const j = new Journal(job(), async (rec) => void saved.push(structuredClone(rec)), clock);

    expect(j.isDone('deploy')).toBe(false);
    expect(j.attempts('deploy')).toBe(0);
    await j.begin('deploy', { node: 12 });
    clock.advance(1_000);
    await j.begin('deploy', { node: 12 }); // the first try was interrupted
    expect(j.attempts('deploy')).toBe(2);
    expect(j.isDone('deploy')).toBe(false);
    expect(j.result('deploy')).toBeUndefined();

    clock.advance(1_000);
    await j.done('deploy', { contractId: 99 });
    expect(j.isDone('deploy')).toBe(true);
    expect(j.result<{ contractId: number }>('deploy')).toEqual({ contractId: 99 });
    expect(j.attempts('deploy')).toBe(2);

    await j.record('progress', { messageId: 5 });
    await j.record('progress', { messageId: 6 });
    expect(j.note('progress')).toEqual({ messageId: 6 }); // the latest note
    expect(j.isDone('progress')).toBe(false); // notes are not steps
    expect(j.attempts('other')).toBe(0);

    // every entry was persisted, one save per entry, with the clock's time
    expect(saved).toHaveLength(5);
    expect(saved.at(-1)?.journal.map((e) => [e.step, e.phase, e.at])).toEqual([
      ['deploy', 'begin', Date.UTC(2026, 0, 1)],
      ['deploy', 'begin', Date.UTC(2026, 0, 1) + 1_000],
      ['deploy', 'done', Date.UTC(2026, 0, 1) + 2_000],
      ['progress', 'note', Date.UTC(2026, 0, 1) + 2_000],
      ['progress', 'note', Date.UTC(2026, 0, 1) + 2_000],
    ]);
    expect(saved[0]?.journal).toHaveLength(1);
  });

  it('a step is not reported as recorded before it is persisted', async () => {
    let finishSave!: () => void;
    const j = new Journal(job(), () => new Promise<void>((r) => (finishSave = r)), clock);
    let settled = false;
    const p = j.begin('pay').then(() => (settled = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe(false);
    finishSave();
    await p;
    expect(settled).toBe(true);
  });

  it('a failed save is reported to the step (the job does not go on as if it were recorded)', async () => {
    const j = new Journal(job(), async () => Promise.reject(new Error('disk full')), clock);
    await expect(j.done('deploy')).rejects.toThrow('disk full');
  });
});

describe('JobStore', () => {
  it('saves a job to its own file and lists pending jobs oldest first', async () => {
    const store = new JobStore(dir);
    await store.init();
    await store.save(job({ id: 'b', createdAt: 2 }));
    await store.save(job({ id: 'a', createdAt: 1 }));
    expect((await store.pending()).map((j) => j.id)).toEqual(['a', 'b']);
    expect(await readJob(path.join(jobsDir(), 'a.json'))).toMatchObject({ id: 'a', createdAt: 1 });
  });

  it('finish moves the job, with its journal, to jobs/done/', async () => {
    const store = new JobStore(dir);
    await store.init();
    const j = job({ journal: [{ at: 1, step: 'x', phase: 'done' }] });
    await store.save(j);
    await store.finish(j);
    expect(await pendingFiles()).toEqual([]);
    expect((await readJob(path.join(doneDir(), `${j.id}.json`))).journal).toEqual(j.journal);
    expect(await store.pending()).toEqual([]);
  });

  it('refuses to resume from an invalid job file, naming it', async () => {
    const store = new JobStore(dir);
    await store.init();
    await writeFile(path.join(jobsDir(), 'broken.json'), JSON.stringify({ id: 'broken', type: 'mine' }));
    await expect(store.pending()).rejects.toThrow('job file broken.json is invalid');
  });
});

describe('JobWorker', () => {
  it('resumes a pending job at start, handing the handler the journal as it was saved', async () => {
    const saved = job({
      journal: [
        { at: 1, step: 'pay', phase: 'begin' },
        { at: 2, step: 'pay', phase: 'done', data: { amount: 5 } },
        { at: 3, step: 'deploy', phase: 'begin', data: { node: 12 } },
      ],
    });
    await mkdir(jobsDir(), { recursive: true });
    await writeFile(path.join(jobsDir(), `${saved.id}.json`), JSON.stringify(saved));

    const h = scripted([{ done: true }]);
    const w = worker(h.handler);
    expect(await w.start()).toBe(1);
    const journal = await h.called(1);
    expect(journal.job).toEqual(saved);
    expect(journal.isDone('pay')).toBe(true);
    expect(journal.result('pay')).toEqual({ amount: 5 });
    expect(journal.isDone('deploy')).toBe(false);
    expect(journal.attempts('deploy')).toBe(1); // begun, not done: interrupted

    await w.idle();
    expect(await pendingFiles()).toEqual([]);
    expect(await readdir(doneDir())).toEqual([`${saved.id}.json`]);
    expect(w.pendingCount()).toBe(0);
    await w.stop();
  });

  it('a job counts as active from the moment it is enqueued, so two callers checking first cannot both start one', async () => {
    const h = scripted([{ done: true }]);
    const w = worker(h.handler);
    await w.start();
    let release!: () => void;
    const committing = new Promise<void>((r) => (release = r));
    const starts: Promise<string>[] = [];
    const tryStart = () => {
      if (w.hasActive(7, 'd1', 'provision')) return Promise.resolve('refused');
      return w.enqueue('provision', 7, 'd1', async () => {
        await committing;
        return 'started';
      });
    };
    starts.push(tryStart(), tryStart());
    release();
    expect(await Promise.all(starts)).toEqual(['started', 'refused']);

    // a commit that fails gives the slot back
    await w.idle();
    await expect(w.enqueue('provision', 7, 'd2', async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(w.hasActive(7, 'd2')).toBe(false);
    expect(await pendingFiles()).toEqual([]);
    await w.stop();
  });

  it('a new job is saved before it runs and moves to done/ when finished', async () => {
    const h = scripted([{ done: true }]);
    let filesWhileRunning: string[] = [];
    const w = worker(async (j) => {
      filesWhileRunning = await pendingFiles();
      return h.handler(j);
    });
    await w.start();
    await w.enqueue('teardown', 8, 'd9', async () => undefined);
    const journal = await h.called(1);
    expect(journal.job).toMatchObject({ type: 'teardown', userId: 8, deploymentId: 'd9', failures: 0, journal: [] });
    expect(filesWhileRunning).toEqual([`${journal.job.id}.json`]);
    await w.idle();
    expect(await pendingFiles()).toEqual([]);
    expect(await readdir(doneDir())).toEqual([`${journal.job.id}.json`]);
    await w.stop();
  });

  it('retryAfterMs reschedules the job, and nudge runs it at once', async () => {
    const h = scripted([{ retryAfterMs: 60_000 }, { done: true }]);
    const w = worker(h.handler);
    await w.start();
    await w.enqueue('provision', 7, 'd1', async () => undefined);
    await h.called(1);
    await w.idle();
    expect(h.calls).toHaveLength(1);
    expect(w.pendingCount()).toBe(1);
    expect(await pendingFiles()).toHaveLength(1); // still on disk: it would resume after a restart

    w.nudge(7, 'another-deployment'); // not this one: nothing runs
    await w.idle();
    expect(h.calls).toHaveLength(1);

    w.nudge(7, 'd1'); // "I have paid": only this can explain a second run within the test's time
    await h.called(2);
    await w.idle();
    expect(w.pendingCount()).toBe(0);
    expect(await pendingFiles()).toEqual([]);
    expect(await readdir(doneDir())).toHaveLength(1);
    await w.stop();
  });

  it('a nudge that arrives while the job is running makes it run again right after', async () => {
    let release!: () => void;
    let handler: JobHandler = async () => ({ done: true });
    const inFirstRun = new Promise<void>((entered) => {
      let calls = 0;
      handler = async () => {
        calls += 1;
        if (calls === 1) {
          entered();
          await new Promise<void>((r) => (release = r));
          return { retryAfterMs: 60_000 };
        }
        return { done: true };
      };
    });
    const w = worker((j) => handler(j));
    await w.start();
    await w.enqueue('provision', 7, 'd1', async () => undefined);
    await inFirstRun;
    w.nudge(7, 'd1'); // "I have paid" while the payment check is in flight
    release();
    await w.idle();
    expect(w.pendingCount()).toBe(0); // ran again at once, not in 60 s
    await w.stop();
  });

  it("a nudge for one user's deployment does not run another user's job with the same deployment id", async () => {
    const h = scripted([{ retryAfterMs: 60_000 }, { done: true }]);
    const w = worker(h.handler);
    await w.start();
    await w.enqueue('provision', 7, 'd1', async () => undefined);
    await h.called(1);
    await w.idle();
    w.nudge(8, 'd1'); // deployment ids are per user: user 8's "1" is not user 7's "1"
    await w.idle();
    expect(h.calls).toHaveLength(1);
    w.nudge(7, 'd1');
    await h.called(2);
    await w.stop();
  });

  it('writes the job file before the change it is for, and discards it when the change is refused', async () => {
    const w = worker(async () => ({ done: true }));
    await w.start();
    let filesDuringCommit: string[] = [];
    await w.enqueue('teardown', 7, 'd1', async () => {
      filesDuringCommit = await pendingFiles();
    });
    expect(filesDuringCommit).toHaveLength(1); // a crash during the change would leave the job to resume
    await expect(
      w.enqueue('teardown', 7, 'd2', async () => {
        throw new Error('not deletable');
      }),
    ).rejects.toThrow('not deletable');
    await w.idle();
    expect(await pendingFiles()).toEqual([]);
    expect(await readdir(doneDir())).toHaveLength(1); // only d1 ran
    await w.stop();
  });

  it('sets a job that keeps failing aside in jobs/failed/ instead of retrying forever', async () => {
    let runs = 0;
    const w = new JobWorker(
      new JobStore(dir),
      {
        provision: async () => {
          runs += 1;
          throw new Error('always broken');
        },
        teardown: async () => ({ done: true }),
      },
      clock,
      silentLogger,
      2,
      { maxFailures: 3, baseBackoffMs: 1 },
    );
    await w.start();
    await w.enqueue('provision', 7, 'd1', async () => undefined);
    const failedDir = path.join(dir, 'jobs', 'failed');
    while ((await readdir(failedDir)).length === 0) await w.idle().then(() => new Promise((r) => setImmediate(r)));
    expect(runs).toBe(3);
    expect(await pendingFiles()).toEqual([]);
    expect(w.pendingCount()).toBe(0);
    await w.stop();
  });

  it('a handler that throws is retried later, with the failure counted on disk', async () => {
    const h = scripted([new Error('grid unreachable'), { done: true }]);
    const w = worker(h.handler);
    await w.start();
    await w.enqueue('provision', 7, 'd1', async () => undefined);
    await h.called(1);
    await w.idle();

    const [file] = await pendingFiles();
    expect((await readJob(path.join(jobsDir(), file!))).failures).toBe(1);
    expect(w.pendingCount()).toBe(1); // kept, waiting for its backoff

    // the retry is scheduled (a nudge finds its timer); it runs with the failure count kept
    w.nudge(7, 'd1');
    const second = await h.called(2);
    expect(second.job.failures).toBe(1);
    await w.idle();
    expect((await readJob(path.join(doneDir(), file!))).failures).toBe(1);
    await w.stop();
  });

  it('failures survive a restart: a new worker resumes the job with its count', async () => {
    const h1 = scripted([new Error('boom')]);
    const w1 = worker(h1.handler);
    await w1.start();
    await w1.enqueue('provision', 7, 'd1', async () => undefined);
    await h1.called(1);
    await w1.idle();
    await w1.stop();

    const h2 = scripted([{ done: true }]);
    const w2 = worker(h2.handler);
    expect(await w2.start()).toBe(1);
    expect((await h2.called(1)).job.failures).toBe(1);
    await w2.idle();
    await w2.stop();
    expect(await pendingFiles()).toEqual([]);
  });

  it('after stop, nothing runs again (timers cleared, nudges and new jobs ignored) and the job stays for the next start', async () => {
    const h = scripted([{ retryAfterMs: 60_000 }]);
    const w = worker(h.handler);
    await w.start();
    await w.enqueue('provision', 7, 'd1', async () => undefined);
    await h.called(1);
    await w.idle();
    await w.stop();

    w.nudge(7, 'd1');
    await w.idle();
    expect(h.calls).toHaveLength(1);
    expect(await pendingFiles()).toHaveLength(1);

    const h2 = scripted([{ done: true }]);
    const next = worker(h2.handler);
    expect(await next.start()).toBe(1);
    await h2.called(1);
    await next.idle();
    await next.stop();
  });

  it('stop waits for a running step to finish', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const running = new Promise<void>((r) => (entered = r));
    let finished = false;
    const w = worker(async (j) => {
      entered();
      await gate;
      await j.done('step');
      finished = true;
      return { done: true };
    });
    await w.start();
    await w.enqueue('provision', 7, 'd1', async () => undefined);
    await running;
    const stopped = w.stop(30_000).then(() => finished);
    release();
    expect(await stopped).toBe(true);
    expect(await readdir(doneDir())).toHaveLength(1);
  });
});

describe('replacement nodes', () => {
  it('avoid every node the order planned, tried, or already took as a replacement', async () => {
    const rec = job({
      journal: [
        { at: 0, step: 'node:1', phase: 'begin', data: { nodeId: 11 } },
        { at: 0, step: 'replace:1', phase: 'done', data: { nodeId: 41 } },
        { at: 0, step: 'node:1', phase: 'begin', data: { nodeId: 41 } },
        { at: 0, step: 'node:1', phase: 'done', data: { nodeId: 41 } },
        { at: 0, step: 'node:2', phase: 'begin', data: { nodeId: 12 } },
        { at: 0, step: 'progress-message', phase: 'note', data: 99 },
      ],
    });
    const j = new Journal(rec, async () => undefined, clock);
    const plan = [11, 12].map((nodeId) => ({ nodeId, farmId: 1, country: 'Belgium', city: 'Ghent', certified: false, hourlyCost: 1 }));
    // node 2's replacement must not land on node 1's replacement (41)
    expect(nodesOfOrder(j, plan).sort((a, b) => a - b)).toEqual([11, 12, 41]);
  });
});

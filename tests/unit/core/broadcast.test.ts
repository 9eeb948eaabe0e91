/** The broadcast job: batches in id order, records how far it got, and a run cut short repeats nobody. */
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../src/clock.js';
import type { User } from '../../../src/domain/user.js';
import { broadcastJob, noticeId } from '../../../src/jobs/broadcast.js';
import type { JobRecord } from '../../../src/jobs/job-store.js';
import { Journal } from '../../../src/jobs/journal.js';
import { silentLogger } from '../../../src/log.js';
import { UserStore } from '../../../src/store/user-store.js';
import type { Notice } from '../../../src/telegram/notice-queue.js';

const user = (id: number, unreachable = false): User => ({
  schema: 1,
  id,
  chatId: id,
  createdAt: 0,
  identity: { address: `5Addr${id}`, mnemonicSealed: 'x' },
  settings: {},
  credits: [],
  deployments: [],
  nextDeploymentId: 1,
  reminders: { epoch: 0, sent: [] },
  ...(unreachable ? { unreachableSince: 1 } : {}),
});

describe('broadcast job', () => {
  it('walks the users in batches, resumes from its progress, and never queues an id twice', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-broadcast-'));
    try {
      const store = new UserStore(dir);
      const ids = [5, 1003, 7, 2, 999, 1, 40, 12];
      for (const id of ids) await store.create(id, () => user(id, id === 40));
      const queued = new Map<string, Notice>();
      let offered = 0;
      const notices = {
        notice: async (n: Notice) => {
          offered++;
          if (queued.has(n.id)) return false;
          queued.set(n.id, n);
          return true;
        },
      };
      const reports: string[] = [];
      const outbox = { send: async (_chat: number, m: { text: string }) => (reports.push(m.text), 1) };
      const run = broadcastJob({ store, notices, outbox, log: silentLogger, batch: 2, batchesPerRun: 1 });
      const record: JobRecord = {
        id: 'broadcast-1-broadcast-b1-x',
        type: 'broadcast',
        userId: 1,
        deploymentId: 'broadcast-b1',
        createdAt: 0,
        failures: 0,
        params: { broadcastId: 'b1', adminChatId: 1, html: 'hello' },
        journal: [],
      };
      const saved: JobRecord[] = [];
      const journal = () => new Journal(record, async (j) => void saved.push(structuredClone(j)), new ManualClock());

      // first run: the two lowest ids, then it yields with its progress recorded
      expect(await run(journal())).toEqual({ retryAfterMs: 0 });
      expect([...queued.keys()]).toEqual([noticeId('b1', 1), noticeId('b1', 2)]);
      expect(saved.at(-1)!.journal.at(-1)).toMatchObject({ step: 'progress', phase: 'note', data: { after: 2, queued: 2 } });

      // a crash after queuing the next batch but before recording it: the rerun queues those again, refused
      await notices.notice({ id: noticeId('b1', 5), chatId: 5, text: 'hello' });
      await notices.notice({ id: noticeId('b1', 7), chatId: 7, text: 'hello' });
      let result;
      let runs = 1;
      do {
        result = await run(journal());
        runs++;
      } while ('retryAfterMs' in result);
      expect(runs).toBe(4); // 8 users, 2 at a time
      const expected = [1, 2, 5, 7, 12, 999, 1003].map((id) => noticeId('b1', id));
      expect([...queued.keys()].sort()).toEqual(expected.sort());
      expect(offered).toBe(7 + 2); // each reachable id offered once by the job, plus the two of the "crashed" run
      expect(record.journal.find((e) => e.step === 'queue' && e.phase === 'done')!.data).toEqual({ after: 1003, queued: 5, skipped: 1, repeated: 2 });
      expect(reports).toHaveLength(1);
      expect(reports[0]).toContain('is queued: 7 notices');

      // a finished job run again (resumed before the worker moved it to done/) reports nothing twice
      expect(await run(journal())).toEqual({ done: true });
      expect(reports).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

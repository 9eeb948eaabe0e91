/**
 * An admin's broadcast (src/services/admin.ts): one durable notice per reachable user, id
 * `broadcast:<broadcast id>:<user id>`, so the outbox paces them at Telegram's limits behind every
 * reply and a restart neither drops nor repeats one.
 *
 * The users are walked in ascending id, `BATCH` files at a time; after each run of a few batches the
 * job records how far it got (`progress`: the last id done and the totals) and gives its queue a
 * turn, so a stop never waits on 100,000 users and a restart goes on from there. Ids the outbox has
 * already seen (a run cut short after queuing, before recording) are refused by it, not sent again.
 * Users who join after the broadcast started are past the walk's end only if their id is higher:
 * a broadcast is for the users there were when it started, roughly, and never twice for anyone.
 */
import type { OutMessage } from '../chat/types.js';
import type { Logger } from '../log.js';
import type { BroadcastParams } from '../services/admin.js';
import type { UserStore } from '../store/user-store.js';
import type { Notice } from '../telegram/notice-queue.js';
import type { JobHandler } from './worker.js';

export interface BroadcastDeps {
  store: UserStore;
  notices: { notice(n: Notice): Promise<boolean> };
  outbox: { send(chatId: number, msg: OutMessage, priority?: 'interactive' | 'notice'): Promise<number | undefined> };
  log: Logger;
  /** users loaded and queued together (one journal write for their notices) */
  batch?: number;
  /** batches per run before the job records its progress and yields */
  batchesPerRun?: number;
}

interface Progress {
  /** every user id up to this one is done */
  after: number;
  queued: number;
  /** unreachable (blocked the bot) or unreadable */
  skipped: number;
  /** already queued or sent under this broadcast (a resumed run) */
  repeated: number;
}

export const noticeId = (broadcastId: string, userId: number): string => `broadcast:${broadcastId}:${userId}`;

export function broadcastJob(d: BroadcastDeps): JobHandler {
  const BATCH = d.batch ?? 250;
  const PER_RUN = d.batchesPerRun ?? 8;
  return async (journal) => {
    const p = journal.job.params as unknown as BroadcastParams;
    if (journal.isDone('queue')) {
      await report(d, journal.job.userId, p, journal.result<Progress>('queue')!, journal);
      return { done: true };
    }
    const at: Progress = journal.note<Progress>('progress') ?? { after: Number.MIN_SAFE_INTEGER, queued: 0, skipped: 0, repeated: 0 };
    const ids: number[] = [];
    for await (const id of d.store.ids()) if (id > at.after) ids.push(id);
    ids.sort((a, b) => a - b);
    for (let b = 0; b < PER_RUN && ids.length; b++) {
      const slice = ids.splice(0, BATCH);
      await Promise.all(
        slice.map(async (id) => {
          const u = await d.store.get(id).catch((err: unknown) => {
            d.log.error({ err, user: id }, 'broadcast: a user file would not load; skipped');
            return null;
          });
          if (u === undefined) return; // gone since the listing
          if (u === null || u.unreachableSince !== undefined) {
            at.skipped++;
            return;
          }
          const fresh = await d.notices.notice({ id: noticeId(p.broadcastId, u.id), chatId: u.chatId, text: p.html });
          if (fresh) at.queued++;
          else at.repeated++;
        }),
      );
      at.after = slice.at(-1)!;
    }
    if (ids.length) {
      await journal.record('progress', at);
      return { retryAfterMs: 0 };
    }
    await journal.done('queue', at);
    await report(d, journal.job.userId, p, at, journal);
    return { done: true };
  };
}

/** Tells the admin, once (a crash between sending and recording it may repeat it; that is all). */
async function report(d: BroadcastDeps, adminId: number, p: BroadcastParams, at: Progress, journal: Parameters<JobHandler>[0]): Promise<void> {
  if (journal.isDone('report')) return;
  const lines = [
    `📣 Broadcast <code>${p.broadcastId}</code> is queued: ${at.queued + at.repeated} notices, sent at Telegram's limits behind replies.`,
    ...(at.skipped ? [`${at.skipped} users skipped: they blocked the bot (or their file would not load; the log names it).`] : []),
  ];
  try {
    await d.outbox.send(p.adminChatId, { text: lines.join('\n') }, 'interactive');
  } catch (err) {
    d.log.warn({ err, admin: adminId }, 'could not report a broadcast to its admin');
  }
  await journal.done('report');
  d.log.info({ broadcast: p.broadcastId, ...at, after: undefined }, 'broadcast queued');
}

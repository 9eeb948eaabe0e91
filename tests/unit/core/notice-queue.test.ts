/** The reminders' journal: what survives a reopen, what is refused, torn and bad lines, compaction. */
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NoticeQueue, type Notice } from '../../../src/telegram/notice-queue.js';

const DAY = 24 * 3600_000;
let dir: string;
let file: string;
let clock: number;

const notice = (id: string, chatId = 1001): Notice => ({ id, chatId, text: `reminder ${id}` });
const ids = (q: NoticeQueue) => [...q.list()].map((n) => n.id);
const journal = async () => (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { op: string; id: string });

async function open(retentionMs?: number): Promise<NoticeQueue> {
  const q = new NoticeQueue(file, { now: () => clock, ...(retentionMs ? { retentionMs } : {}) });
  await q.open();
  return q;
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'jukebox-notices-'));
  file = path.join(dir, 'outbox', 'notices.jsonl');
  clock = 1_800_000_000_000;
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('NoticeQueue', () => {
  it('keeps pending notices across a reopen, in the order they were added, and forgets the sent ones', async () => {
    const q = await open();
    for (const id of ['c', 'a', 'd', 'b']) expect(await q.add(notice(id, id.charCodeAt(0)))).toBe(true);
    await q.sent('a');
    await q.dropped('d', 'blocked');
    await q.close();

    const again = await open();
    expect(ids(again)).toEqual(['c', 'b']);
    expect(again.size).toBe(2);
    expect(again.get('c')).toEqual({ id: 'c', chatId: 'c'.charCodeAt(0), text: 'reminder c' });
    // the same reminder queued again by a pass that restarted is not sent twice
    expect(await again.add(notice('a'))).toBe(false);
    expect(await again.add(notice('d'))).toBe(false);
    expect(ids(again)).toEqual(['c', 'b']);
    await again.close();
  });

  it('refuses an id that is already pending, and keeps buttons and the QR URI as given', async () => {
    const q = await open();
    const n: Notice = { id: 'low-7', chatId: 7, text: '<b>Top up</b>', buttons: [[{ label: 'Wallet', data: 'a:wallet' }]], qr: 'TFT:5Abc?amount=3&sender=me' };
    expect(await q.add(n)).toBe(true);
    expect(await q.add({ ...n, text: 'another text' })).toBe(false);
    await q.close();
    const again = await open();
    expect([...again.list()]).toEqual([n]);
    await again.close();
  });

  it('ignores a last line torn by a kill -9, and the next open repairs the file', async () => {
    const q = await open();
    await q.add(notice('one'));
    await q.close();
    await appendFile(file, '{"op":"add","id":"two","notice":{"id":"two","chatId":10');

    const again = await open();
    expect(ids(again)).toEqual(['one']);
    expect(await again.add(notice('three'))).toBe(true);
    await again.close();
    expect((await journal()).map((l) => l.id)).toEqual(['one', 'three']);
  });

  it('refuses to start on a bad line that is not the last, naming the file and the line', async () => {
    const q = await open();
    await q.add(notice('one'));
    await q.close();
    await appendFile(file, 'garbage\n{"op":"sent","id":"one","at":1}\n');
    await expect(open()).rejects.toThrow(`${file}:2:`);
  });

  it('refuses a notice it could not replay', async () => {
    const q = await open();
    await expect(q.add({ id: 'x', chatId: Number.NaN, text: 'hi' })).rejects.toThrow(/not a notice/);
    expect(q.size).toBe(0);
    await q.close();
  });

  it('compacts on open: sent ids within the retention stay known, older ones are gone from memory and the file', async () => {
    const q = await open();
    await q.add(notice('old'));
    await q.sent('old');
    clock += 8 * DAY;
    await q.add(notice('recent'));
    await q.sent('recent');
    await q.add(notice('waiting'));
    await q.close();

    const again = await open();
    expect(await journal()).toEqual([
      { op: 'sent', id: 'recent', at: clock },
      { op: 'add', id: 'waiting', notice: notice('waiting'), at: clock },
    ]);
    expect(await again.add(notice('recent'))).toBe(false);
    expect(await again.add(notice('old'))).toBe(true); // a week later, the same id is a new reminder
    expect(ids(again)).toEqual(['waiting', 'old']);
    await again.close();
  });

  it('compacts while running once dead lines far outnumber live ones', async () => {
    const q = await open(60_000);
    for (let i = 0; i < 12_000; i++) {
      await Promise.all([q.add(notice(`n${i}`)), q.sent(`n${i}`)]);
      if (i === 5_999) clock += 61_000; // the first half leaves the retention
    }
    const lines = (await journal()).length;
    // 24,000 lines were appended; the first 6,000 sent ids have been rewritten away
    expect(lines).toBeLessThan(20_000);
    expect(await q.add(notice('n0'))).toBe(true);
    expect(await q.add(notice('n11999'))).toBe(false);
    await q.close();
  });

  it('creates the journal owner-only', async () => {
    const q = await open();
    await q.add(notice('one'));
    await q.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
  });

  it('an empty or missing journal opens empty', async () => {
    const q = await open();
    expect(q.size).toBe(0);
    await q.close();
    await writeFile(file, '');
    const again = await open();
    expect(ids(again)).toEqual([]);
    await again.close();
  });
});

/**
 * The chain watcher on a scripted chain: deposits recorded once across restarts, catch-up in order,
 * retries that never skip a block, the polling fallback, contract events, and the inbox file.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeBlockEvents, type ContractChange } from '../../../src/chain/chain-events.js';
import { ChainWatcher } from '../../../src/chain/chain-watcher.js';
import { DepositInbox } from '../../../src/chain/deposit-inbox.js';
import type { Transfer } from '../../../src/grid/port.js';
import { addr, contractEv, depositEv, FakeChain, mintEv, T0, TFT, transferEv } from './fake-tfchain.js';

const alice = addr(1);
const bob = addr(2);
const carol = addr(3);
const feeAccount = addr(9);
const POLL = 1000;
const RETRY = 1;

let dir: string;
let chain: FakeChain;
let now: number;
const watchers: ChainWatcher[] = [];

/** Waits only for the retry pause (immediately); the poll loop never wakes on its own: tests poll by hand. */
const sleep = (ms: number) => (ms === RETRY ? Promise.resolve() : new Promise<void>(() => undefined));

function watcher(opts: { concurrency?: number; staleMs?: number } = {}): ChainWatcher {
  const w = new ChainWatcher(chain, { dir, pollMs: POLL, retryMs: RETRY, sleep, now: () => now, ...opts });
  watchers.push(w);
  return w;
}

async function started(opts: { concurrency?: number; staleMs?: number } = {}) {
  const w = watcher(opts);
  const contracts: ContractChange[] = [];
  const deposits: Transfer[] = [];
  w.onContractEvent((e) => void contracts.push(e));
  w.onDeposit((t) => void deposits.push(t));
  await w.start();
  await w.idle();
  return { w, contracts, deposits };
}

const ids = (list: Transfer[]) => list.map((t) => t.id);
const cursorOnDisk = async () => (JSON.parse(await readFile(path.join(dir, 'cursor.json'), 'utf8')) as { block: number }).block;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'jukebox-chain-'));
  chain = new FakeChain(6); // blocks 0..5, 5 finalized
  now = T0;
});

afterEach(async () => {
  for (const w of watchers.splice(0)) await w.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('ChainWatcher', () => {
  it('starts at the finalized head, records transfers and mints to watched addresses once, ignores the rest', async () => {
    const { w, deposits } = await started();
    expect(w.stats()).toMatchObject({ cursor: 5, head: 5, subscribed: true });
    await w.watch(alice);
    expect(w.inbox.coverage(alice)).toEqual({ watched: true, coveredFrom: 6 });

    chain.addBlock([
      transferEv(carol, alice, 10 * TFT, 1),
      transferEv(alice, bob, 3 * TFT, 2), // out of alice: not a deposit
      transferEv(carol, bob, 1 * TFT, 3), // bob is not watched
    ]);
    // a Stellar bridge mint of 50 TFT: 49 reach alice, the 1 TFT fee goes to the fee account
    chain.addBlock([depositEv(alice, 49 * TFT, 1), depositEv(feeAccount, 1 * TFT, 1), mintEv(alice, 50 * TFT, 1), transferEv(bob, carol, 7, 2)]);
    chain.finalize(7);
    await w.idle();

    const list = w.inbox.list(alice);
    expect(list).toEqual([
      { id: '6-0', from: carol, to: alice, amount: 10 * TFT, at: T0 + 6 * 6000 },
      { id: '7-2', from: 'tft-bridge', to: alice, amount: 49 * TFT, at: T0 + 7 * 6000 },
    ]);
    expect(ids(deposits)).toEqual(['6-0', '7-2']);
    expect(w.inbox.list(bob)).toEqual([]);
    expect(ids(w.inbox.list(alice, '6-0'))).toEqual(['7-2']);
    expect(await cursorOnDisk()).toBe(7);
  });

  it('credits a mint less the bridge deposit fee when the mint carries no Deposit event', async () => {
    const { w } = await started();
    await w.watch(alice);
    chain.addBlock([mintEv(alice, 50 * TFT, 1)], { depositFee: 1n * BigInt(TFT) });
    chain.finalize();
    await w.idle();
    expect(w.inbox.list(alice).map((t) => t.amount)).toEqual([49 * TFT]);
  });

  it('emits contract grace and cancel events with the contract, twin, node and block', async () => {
    const { w, contracts } = await started();
    chain.addBlock([
      contractEv('ContractGracePeriodStarted', 42, 7, 99, 6),
      contractEv('ContractBilled', 42),
      contractEv('ContractGracePeriodEnded', 42, 7, 99),
    ]);
    chain.addBlock([contractEv('ContractGracePeriodElapsed', 43, 201600), contractEv('NodeContractCanceled', 43, 8, 100)]);
    chain.finalize();
    await w.idle();
    expect(contracts).toEqual([
      { kind: 'grace_started', contractId: 42, nodeId: 7, twinId: 99, block: 6 },
      { kind: 'grace_ended', contractId: 42, nodeId: 7, twinId: 99, block: 6 },
      { kind: 'grace_elapsed', contractId: 43, block: 7 },
      { kind: 'canceled', contractId: 43, nodeId: 8, twinId: 100, block: 7 },
    ]);
  });

  it('reads a block again after a crash before its cursor was saved, and records nothing twice', async () => {
    const first = await started();
    await first.w.watch(alice);
    chain.addBlock([transferEv(carol, alice, 10 * TFT, 1)]);
    chain.addBlock([transferEv(carol, alice, 2 * TFT, 1)]);
    chain.finalize();
    await first.w.idle();
    await first.w.stop();
    expect(ids(first.w.inbox.list(alice))).toEqual(['6-0', '7-0']);

    // the crash: block 7's deposit reached the inbox, the cursor still says 6; and a torn line
    await writeFile(path.join(dir, 'cursor.json'), JSON.stringify({ version: 1, block: 6, savedAt: T0 }));
    await appendFile(path.join(dir, 'deposits.jsonl'), '{"op":"dep","id":"8-');
    chain.reads.length = 0;

    const again = await started();
    expect(chain.reads).toEqual([7]); // read again, from cursor + 1
    expect(ids(again.w.inbox.list(alice))).toEqual(['6-0', '7-0']);
    expect(again.deposits).toEqual([]); // nothing new to tell
    expect(again.w.isWatched(alice)).toBe(true); // the watched set survived the restart
    expect(await cursorOnDisk()).toBe(7);

    const lines = (await readFile(path.join(dir, 'deposits.jsonl'), 'utf8')).split('\n').filter(Boolean);
    expect(lines.filter((l) => l.includes('"op":"dep"'))).toHaveLength(2);
    expect(lines.every((l) => JSON.parse(l))).toBe(true); // the torn line was cut off, not continued
  });

  it('catches up after downtime: every missed block, in order, a few at a time', async () => {
    const first = await started();
    await first.w.watch(alice);
    await first.w.stop();

    for (let n = 6; n <= 20; n++) {
      const records = [];
      if (n % 4 === 1) records.push(transferEv(carol, alice, n * TFT, 1));
      if (n % 5 === 0) records.push(contractEv('ContractGracePeriodStarted', 1000 + n, 1, 2, n));
      chain.addBlock(records);
    }
    chain.finalize(20, true); // nobody subscribed: the watcher was down
    chain.reads.length = 0;

    const { w, contracts } = await started({ concurrency: 3 });
    expect(chain.reads).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(chain.maxInFlight).toBe(3);
    expect(ids(w.inbox.list(alice))).toEqual(['9-0', '13-0', '17-0']);
    expect(contracts.map((e) => e.block)).toEqual([10, 15, 20]);
    expect(w.inbox.coverage(alice)).toEqual({ watched: true, coveredFrom: 6 }); // no gap: coverage kept
    expect(await cursorOnDisk()).toBe(20);
  });

  it('retries a failing block and never moves the cursor past it', async () => {
    const { w } = await started({ concurrency: 4 });
    await w.watch(alice);
    const cursorsWhenReading12: number[] = [];
    chain.onRead = (n) => {
      if (n === 12) cursorsWhenReading12.push(w.stats().cursor);
    };
    for (let n = 6; n <= 14; n++) chain.addBlock([transferEv(carol, alice, n, 1)]);
    chain.failEvents.set(12, 2);
    chain.finalize();
    await w.idle();

    expect(cursorsWhenReading12.length).toBe(3); // two failures, then it read
    expect(Math.max(...cursorsWhenReading12)).toBeLessThanOrEqual(11);
    expect(ids(w.inbox.list(alice))).toEqual(['6-0', '7-0', '8-0', '9-0', '10-0', '11-0', '12-0', '13-0', '14-0']);
    expect(await cursorOnDisk()).toBe(14);
  });

  it('falls back to polling when the subscription drops, and subscribes again', async () => {
    const { w } = await started();
    await w.watch(alice);
    chain.emit('disconnected');
    expect(w.stats().subscribed).toBe(false);
    expect(chain.subscribers.size).toBe(0);

    chain.subscribeFails = 1;
    chain.addBlock([transferEv(carol, alice, 1 * TFT, 1)]);
    chain.finalize(); // nobody hears it
    await w.idle();
    expect(w.inbox.list(alice)).toEqual([]);

    await w.pollOnce(); // finds block 6; subscribing fails once
    await w.idle();
    expect(ids(w.inbox.list(alice))).toEqual(['6-0']);
    expect(w.stats().subscribed).toBe(false);

    chain.addBlock([transferEv(carol, alice, 2 * TFT, 1)]);
    chain.finalize();
    await w.pollOnce(); // finds block 7, subscribes again
    await w.idle();
    expect(ids(w.inbox.list(alice))).toEqual(['6-0', '7-0']);
    expect(w.stats().subscribed).toBe(true);

    chain.addBlock([transferEv(carol, alice, 3 * TFT, 1)]);
    chain.finalize(); // heard through the new subscription
    await w.idle();
    expect(ids(w.inbox.list(alice))).toEqual(['6-0', '7-0', '8-0']);
  });

  it('treats a subscription that went silent as dropped', async () => {
    const { w } = await started({ staleMs: 30_000 });
    await w.watch(alice);
    chain.subscribers.clear(); // the socket is up but heads stopped coming
    chain.addBlock([transferEv(carol, alice, 1 * TFT, 1)]);
    chain.finalize();

    now += 10_000;
    await w.pollOnce(); // still fresh enough: nothing to do
    await w.idle();
    expect(w.inbox.list(alice)).toEqual([]);

    now += 30_000;
    await w.pollOnce();
    await w.idle();
    expect(ids(w.inbox.list(alice))).toEqual(['6-0']);
    expect(w.stats().subscribed).toBe(true);
    expect(chain.subscribers.size).toBe(1);
  });

  it('skips blocks whose state the node pruned, and marks watched addresses as covered only after them', async () => {
    const { w } = await started();
    await w.watch(alice);
    chain.addBlock([transferEv(carol, alice, 1 * TFT, 1)]);
    chain.addBlock([transferEv(carol, alice, 2 * TFT, 1)]);
    chain.failEvents.set(6, new Error('4003: Client error: Api called for an unknown Block: State already discarded for 0x06'));
    chain.finalize();
    await w.idle();
    expect(ids(w.inbox.list(alice))).toEqual(['7-0']);
    expect(w.inbox.coverage(alice)).toEqual({ watched: true, coveredFrom: 7 });
    expect(await cursorOnDisk()).toBe(7);
  });

  it('starts again at the head of a network that was reset, and waits for a node that is behind', async () => {
    const first = await started();
    await first.w.watch(alice);
    chain.addBlock([]);
    chain.addBlock([]);
    chain.finalize();
    await first.w.idle();
    await first.w.stop();

    chain = new FakeChain(4); // a node still syncing: no block 7 yet
    const behind = await started();
    expect(chain.reads).toEqual([]);
    expect(behind.w.stats().cursor).toBe(7);
    await behind.w.stop();

    chain = new FakeChain(12, 1); // the same heights, other blocks: the network was reset
    const reset = await started();
    expect(chain.reads).toEqual([11]);
    expect(reset.w.inbox.coverage(alice)).toEqual({ watched: true, coveredFrom: 11 });
    expect(await cursorOnDisk()).toBe(11);
  });

  it('keeps going when a listener throws', async () => {
    const { w } = await started();
    w.onContractEvent(() => {
      throw new Error('listener bug');
    });
    w.onContractEvent(async () => Promise.reject(new Error('async listener bug')));
    chain.addBlock([contractEv('NodeContractCanceled', 1, 2, 3)]);
    chain.addBlock([contractEv('NodeContractCanceled', 4, 5, 6)]);
    chain.finalize();
    await w.idle();
    expect(w.stats().cursor).toBe(7);
  });

  it('counts coverage from the next block decoded; unwatching and watching again keeps it only if nothing was read between', async () => {
    const { w } = await started();
    await w.watch(alice);
    await w.unwatch(alice);
    await w.watch(alice);
    expect(w.inbox.coverage(alice).coveredFrom).toBe(6);
    await w.unwatch(alice);
    chain.addBlock([transferEv(carol, alice, 1 * TFT, 1)]);
    chain.finalize();
    await w.idle();
    expect(w.inbox.list(alice)).toEqual([]); // not watched at block 6
    await w.watch(alice);
    expect(w.inbox.coverage(alice)).toEqual({ watched: true, coveredFrom: 7 });
  });
});

describe('DepositInbox', () => {
  it('lists deposits the indexer filled in later after those recorded before them', async () => {
    const inbox = new DepositInbox(path.join(dir, 'inbox', 'deposits.jsonl'));
    await inbox.open();
    const dep = (id: string, amount: number) => ({ id, kind: 'transfer' as const, from: carol, to: alice, amount, at: T0 });
    expect(ids(await inbox.record([dep('105-0', 1), dep('110-3', 2)], 'chain'))).toEqual(['105-0', '110-3']);
    expect(await inbox.record([dep('105-0', 1)], 'chain')).toEqual([]);
    expect(ids(await inbox.record([dep('95-2', 3), dep('110-3', 2)], 'indexer'))).toEqual(['95-2']);

    expect(ids(inbox.list(alice))).toEqual(['105-0', '110-3', '95-2']);
    expect(ids(inbox.list(alice, '110-3'))).toEqual(['95-2']); // recorded after the last one seen
    expect(inbox.list(alice, '95-2')).toEqual([]);
    expect(ids(inbox.list(alice, '100-0'))).toEqual(['105-0', '110-3']); // unknown id: chain order
    expect(() => inbox.list(alice, 'sim-3')).toThrow(/not a TFChain transfer id/);
    await inbox.close();

    const again = new DepositInbox(inbox.file);
    await again.open();
    expect(ids(again.list(alice, '110-3'))).toEqual(['95-2']);
    await again.close();
  });

  it('compacts a journal of many watch changes on open and keeps the state', async () => {
    const file = path.join(dir, 'deposits.jsonl');
    const inbox = new DepositInbox(file);
    await inbox.open();
    await inbox.record([{ id: '3-1', kind: 'mint', from: 'tft-bridge', to: alice, amount: 5, at: T0 }], 'chain');
    for (let i = 0; i < 700; i++) {
      await inbox.watch(bob, i);
      await inbox.unwatch(bob, i + 1);
    }
    await inbox.watch(alice, 10);
    await inbox.close();

    const reopened = new DepositInbox(file);
    await reopened.open();
    expect((await readFile(file, 'utf8')).split('\n').filter(Boolean).length).toBeLessThan(10);
    expect(reopened.coverage(alice)).toEqual({ watched: true, coveredFrom: 11 });
    expect(reopened.coverage(bob)).toEqual({ watched: false, coveredFrom: 1 }); // each watch came before any other block was read
    expect(ids(reopened.list(alice))).toEqual(['3-1']);
    await reopened.watch(bob, 700); // nothing decoded since it was unwatched: coverage kept
    expect(reopened.coverage(bob)).toEqual({ watched: true, coveredFrom: 1 });
    await reopened.close();
  });

  it('refuses a journal with a bad line in the middle', async () => {
    const file = path.join(dir, 'deposits.jsonl');
    await writeFile(file, '{"op":"gap","through":3}\n{"op":"dep","id":"x"}\n{"op":"gap","through":4}\n');
    await expect(new DepositInbox(file).open()).rejects.toThrow(/deposits\.jsonl:2: bad inbox line/);
  });
});

describe('decodeBlockEvents', () => {
  it('skips an event it cannot read and keeps the rest', () => {
    const bad = transferEv(carol, 'not-an-address', 5, 1);
    const { deposits, skipped } = decodeBlockEvents(9, [bad, transferEv(carol, alice, 6, 1)]);
    expect(deposits.map((d) => d.id)).toEqual(['9-1']);
    expect(skipped).toEqual([expect.stringContaining('balances.Transfer #0')]);
  });
});

/**
 * The TFChain adapter on a scripted chain: balances in units, address checks, transfers with their
 * `<block>-<index>` ids and the chain's refusals, deposits from the watcher's inbox with the
 * indexer filling in what the watcher did not see, and the GraphQL indexer client.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import { ChainWatcher } from '../../../src/chain/chain-watcher.js';
import { createIdentity, cryptoReady } from '../../../src/chain/identity.js';
import { GraphqlIndexer, parseIndexerEventId, TfChain, type DepositIndexer, type IndexedTransfer } from '../../../src/chain/tfchain.js';
import { GridError, type Identity } from '../../../src/grid/port.js';
import { addr, FakeChain, T0, TFT, transferEv } from './fake-tfchain.js';

const carol = addr(3);
const dave = addr(4);

let chain: FakeChain;
let me: Identity;

beforeAll(async () => {
  await cryptoReady();
  me = await createIdentity();
});

beforeEach(() => {
  chain = new FakeChain(6);
});

/** Everything an error says, to check no secret is in it. */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('balances', () => {
  it('reads the free balance in units and refuses what a number cannot hold exactly', async () => {
    const tf = new TfChain(chain);
    chain.accounts.set(me.address, { free: 123_456_789n });
    expect(await tf.balance(me.address)).toBe(123_456_789);
    expect(await tf.balance(carol)).toBe(0); // an account the chain never saw

    chain.accounts.set(carol, { free: BigInt(Number.MAX_SAFE_INTEGER) + 1n });
    await expect(tf.balance(carol)).rejects.toThrow(/9007199254740992 units, more than Jukebox can count exactly/);
    await expect(tf.balance('nonsense')).rejects.toMatchObject({ code: 'invalid' });
  });

  it('says what a keep-alive transfer can move and what a withdrawal of everything can send', async () => {
    const tf = new TfChain(chain);
    chain.accounts.set(me.address, { free: 10n * BigInt(TFT), reserved: 1n * BigInt(TFT), frozen: 3n * BigInt(TFT) });
    expect(await tf.transferable(me.address)).toBe(8 * TFT); // 3 frozen, of which 1 is covered by the reserve
    chain.accounts.set(carol, { free: 10n * BigInt(TFT) });
    expect(await tf.transferable(carol)).toBe(10 * TFT - 500); // keeps the existential deposit
    chain.accounts.set(dave, { free: 300n });
    expect(await tf.transferable(dave)).toBe(0);

    expect(await tf.transferFee(me, carol, 5 * TFT)).toBe(123_000);
    expect(chain.feeQueries.at(-1)).toEqual({ from: me.address, dest: carol, value: 5n * BigInt(TFT) });
    expect(await tf.maxWithdrawal(me, carol)).toBe(8 * TFT - 123_000);
    expect(await tf.maxWithdrawal(dave, carol)).toBe(0);
  });

  it('reports a chain that does not answer as unavailable', async () => {
    const tf = new TfChain(chain, { readTimeoutMs: 5 });
    chain.query.system.account = () => new Promise(() => undefined);
    await expect(tf.balance(carol)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('did not answer') });
    chain.query.system.account = () => Promise.reject(new Error('WebSocket is not connected'));
    await expect(tf.balance(carol)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('WebSocket is not connected') });
  });
});

describe('isValidAddress', () => {
  it('takes TFChain SS58 addresses (prefix 42) and nothing else', () => {
    const tf = new TfChain(chain);
    const key = decodeAddress(me.address);
    expect(tf.isValidAddress(me.address)).toBe(true);
    expect(tf.isValidAddress('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY')).toBe(true); // //Alice, the dev account
    expect(tf.isValidAddress(encodeAddress(key, 0))).toBe(false); // the same key as a Polkadot address
    expect(tf.isValidAddress(encodeAddress(key, 2))).toBe(false); // as a Kusama one
    expect(tf.isValidAddress(`${me.address.slice(0, -1)}${me.address.endsWith('a') ? 'b' : 'a'}`)).toBe(false); // bad checksum
    expect(tf.isValidAddress('0x' + Buffer.from(key).toString('hex'))).toBe(false); // a raw public key
    expect(tf.isValidAddress('GDCJIHD3623OCYNH65UUQC3NLG2D6YCNCDPZULRLCLOA76TBQRL6A3TF')).toBe(false); // Stellar
    for (const junk of ['', ' ', 'hello', '5'.repeat(48), 'x'.repeat(5000)]) expect(tf.isValidAddress(junk)).toBe(false);
  });
});

describe('transfer', () => {
  it('signs with the identity, waits for finalization and returns the Transfer event as <block>-<index>', async () => {
    const tf = new TfChain(chain);
    const t = await tf.transfer(me, carol, 7 * TFT);
    const block = chain.blocks.length - 1;
    expect(t).toEqual({ id: `${block}-3`, from: me.address, to: carol, amount: 7 * TFT, at: T0 + block * 6000 });
    expect(chain.sent).toEqual([{ from: me.address, dest: carol, value: 7n * BigInt(TFT), nonce: -1 }]);
  });

  it('turns a dispatch error into a refusal naming the module error, without the mnemonic', async () => {
    const tf = new TfChain(chain);
    chain.nextSubmit = { kind: 'dispatch', section: 'balances', name: 'InsufficientBalance', docs: ['Balance too low to send value.'] };
    const poor = await failure(tf.transfer(me, carol, 7 * TFT));
    expect(poor).toBeInstanceOf(GridError);
    expect(poor).toMatchObject({ code: 'insufficient_funds', message: 'TFChain refused the transfer: balances.InsufficientBalance (Balance too low to send value.)' });

    chain.nextSubmit = { kind: 'dispatch', section: 'balances', name: 'ExistentialDeposit' };
    expect(await failure(tf.transfer(me, carol, 100))).toMatchObject({ code: 'invalid', message: expect.stringContaining('balances.ExistentialDeposit') });
    expect(`${poor.message} ${poor.stack}`).not.toContain(me.mnemonic);
  });

  it('takes the pool refusing the transaction as a refusal, and anything unclear as unknown', async () => {
    const tf = new TfChain(chain);
    chain.nextSubmit = { kind: 'reject', message: '1010: Invalid Transaction: Inability to pay some fees , e.g. account balance too low' };
    expect(await failure(tf.transfer(me, carol, 7 * TFT))).toMatchObject({ code: 'insufficient_funds' });

    chain.nextSubmit = { kind: 'reject', message: '1014: Priority is too low: (140 vs 140)' };
    const unclear = await failure(tf.transfer(me, carol, 7 * TFT));
    expect(unclear).not.toBeInstanceOf(GridError); // may be on chain: the withdrawal job must not send again
    expect(unclear.message).toMatch(/may or may not be on chain/);

    chain.nextSubmit = { kind: 'dropped' };
    const dropped = await failure(tf.transfer(me, carol, 7 * TFT));
    expect(dropped).not.toBeInstanceOf(GridError);
    expect(dropped.message).toMatch(/Dropped after it was submitted/);
  });

  it('gives up waiting for finalization as an unknown outcome', async () => {
    const tf = new TfChain(chain, { finalizeTimeoutMs: 5 });
    chain.nextSubmit = { kind: 'hang' };
    const e = await failure(tf.transfer(me, carol, 7 * TFT));
    expect(e).not.toBeInstanceOf(GridError);
    expect(e.message).toMatch(/not finalized within .* may or may not be on chain/);
  });

  it('sends nothing with a bad destination, amount, key or connection', async () => {
    const tf = new TfChain(chain);
    expect(await failure(tf.transfer(me, encodeAddress(decodeAddress(carol), 0), TFT))).toMatchObject({ code: 'invalid' });
    expect(await failure(tf.transfer(me, carol, 0))).toMatchObject({ code: 'invalid' });
    expect(await failure(tf.transfer(me, carol, 1.5))).toMatchObject({ code: 'invalid' });
    const other = await createIdentity();
    expect(await failure(tf.transfer({ mnemonic: other.mnemonic, address: me.address }, carol, TFT))).toMatchObject({ code: 'invalid', message: expect.stringContaining('does not belong') });
    const badKey = await failure(tf.transfer({ mnemonic: 'correct horse battery staple', address: me.address }, carol, TFT));
    expect(badKey).toMatchObject({ code: 'invalid' });
    expect(badKey.message).not.toContain('horse');
    chain.isConnected = false;
    expect(await failure(tf.transfer(me, carol, TFT))).toMatchObject({ code: 'unavailable', message: expect.stringContaining('nothing was sent') });
    expect(chain.sent).toEqual([]);
  });
});

describe('incomingTransfers', () => {
  let dir: string;
  let watcher: ChainWatcher;
  let now: number;

  /** An indexer answering from a list the test changes; counts its calls. */
  function indexer(height: number | undefined, transfers: IndexedTransfer[]) {
    const ix = { height, transfers, calls: 0 };
    const api: DepositIndexer = {
      transfersTo: async (address) => {
        ix.calls++;
        const list = ix.transfers.filter((t) => t.to === address);
        return ix.height === undefined ? { transfers: list } : { transfers: list, height: ix.height };
      },
    };
    return { ix, api };
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'jukebox-tfchain-'));
    now = T0;
    watcher = new ChainWatcher(chain, { dir, sleep: () => new Promise(() => undefined), now: () => now });
    await watcher.start();
    await watcher.idle();
  });

  afterEach(async () => {
    await watcher.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('watches the address it is asked about and returns its deposits once, after the last one seen', async () => {
    const tf = new TfChain(chain, { watcher });
    expect(await tf.incomingTransfers(me.address)).toEqual([]);
    expect(watcher.isWatched(me.address)).toBe(true);

    chain.addBlock([transferEv(carol, me.address, 5 * TFT, 1), transferEv(carol, dave, 1, 2)]);
    chain.addBlock([transferEv(dave, me.address, 2 * TFT, 4)]);
    chain.finalize();
    await watcher.idle();
    const all = await tf.incomingTransfers(me.address);
    expect(all).toEqual([
      { id: '6-0', from: carol, to: me.address, amount: 5 * TFT, at: T0 + 36_000 },
      { id: '7-0', from: dave, to: me.address, amount: 2 * TFT, at: T0 + 42_000 },
    ]);
    expect((await tf.incomingTransfers(me.address, '6-0')).map((t) => t.id)).toEqual(['7-0']);
    expect(await tf.incomingTransfers(me.address, '7-0')).toEqual([]);
    await expect(tf.incomingTransfers(me.address, 'sim-3')).rejects.toMatchObject({ code: 'invalid' });
    await expect(tf.incomingTransfers('garbage')).rejects.toMatchObject({ code: 'invalid' });
  });

  it('reads the balance where the watcher stands, so a deposit not yet recorded is not in the balance either', async () => {
    const tf = new TfChain(chain, { watcher });
    await tf.incomingTransfers(me.address);
    // the transfer is in the best block, not yet finalized: the inbox does not have it
    chain.accounts.set(me.address, { free: 100n * BigInt(TFT) });
    chain.addBlock([transferEv(carol, me.address, 100 * TFT, 1)]);
    expect(await tf.incomingTransfers(me.address)).toEqual([]);
    expect(await tf.balance(me.address)).toBe(0);
    chain.finalize();
    await watcher.idle();
    expect((await tf.incomingTransfers(me.address)).map((t) => t.amount)).toEqual([100 * TFT]);
    expect(await tf.balance(me.address)).toBe(100 * TFT);
  });

  it('fills in deposits from before the watcher from the indexer, once, and then trusts the inbox', async () => {
    // blocks 0..5 happened before the watcher started (it began at 5)
    chain.blocks[2]!.records = [transferEv(carol, me.address, 9 * TFT, 3)];
    const { ix, api } = indexer(5, [
      { block: 2, index: 3, from: carol, to: me.address, amount: 9n * BigInt(TFT) },
      { block: 3, index: 1, from: carol, to: dave, amount: 1n },
    ]);
    const tf = new TfChain(chain, { watcher, indexer: api, now: () => now });

    const first = await tf.incomingTransfers(me.address);
    expect(first).toEqual([{ id: '2-3', from: carol, to: me.address, amount: 9 * TFT, at: T0 + 12_000 }]);
    expect(watcher.inbox.coverage(me.address)).toEqual({ watched: true, coveredFrom: 0 });

    chain.addBlock([transferEv(dave, me.address, TFT, 1)]);
    chain.finalize();
    await watcher.idle();
    now += 3_600_000;
    expect((await tf.incomingTransfers(me.address, '2-3')).map((t) => t.id)).toEqual(['6-0']);
    expect(ix.calls).toBe(1); // covered: the indexer is not asked again
  });

  it('returns a deposit the indexer found late after the ones already seen, and never one the watcher has twice', async () => {
    const { ix, api } = indexer(3, []); // the indexer lags behind the watcher's start
    const tf = new TfChain(chain, { watcher, indexer: api, now: () => now, backfillEveryMs: 60_000 });
    expect(await tf.incomingTransfers(me.address)).toEqual([]);
    expect(watcher.inbox.coverage(me.address).coveredFrom).toBe(6); // not complete yet

    chain.addBlock([transferEv(carol, me.address, 3 * TFT, 1)]);
    chain.finalize();
    await watcher.idle();
    now += 10_000;
    expect((await tf.incomingTransfers(me.address)).map((t) => t.id)).toEqual(['6-0']);
    expect(ix.calls).toBe(1); // asked at most once a minute

    // the indexer caught up: a deposit from before the watcher, and the one the watcher has
    ix.height = 6;
    ix.transfers = [
      { block: 4, index: 2, from: dave, to: me.address, amount: 4n * BigInt(TFT) },
      { block: 6, index: 0, from: carol, to: me.address, amount: 3n * BigInt(TFT) },
    ];
    now += 60_000;
    expect((await tf.incomingTransfers(me.address, '6-0')).map((t) => t.id)).toEqual(['4-2']);
    expect(await tf.incomingTransfers(me.address, '4-2')).toEqual([]);
    expect(watcher.inbox.coverage(me.address).coveredFrom).toBe(0);
    expect((await tf.incomingTransfers(me.address)).map((t) => t.id)).toEqual(['6-0', '4-2']);
  });

  it('still answers from the inbox when the indexer fails', async () => {
    const tf = new TfChain(chain, { watcher, indexer: { transfersTo: () => Promise.reject(new Error('502')) } });
    chain.addBlock([transferEv(carol, me.address, 3 * TFT, 1)]);
    chain.finalize();
    await watcher.idle();
    await watcher.watch(me.address);
    chain.addBlock([transferEv(carol, me.address, 1 * TFT, 1)]);
    chain.finalize();
    await watcher.idle();
    expect((await tf.incomingTransfers(me.address)).map((t) => t.id)).toEqual(['7-0']);
  });

  it('works from the indexer alone without a watcher, in chain order', async () => {
    const { api } = indexer(10, [
      { block: 4, index: 1, from: carol, to: me.address, amount: 2n },
      { block: 2, index: 5, from: dave, to: me.address, amount: 1n },
    ]);
    const tf = new TfChain(chain, { indexer: api });
    expect((await tf.incomingTransfers(me.address)).map((t) => [t.id, t.amount, t.at])).toEqual([
      ['2-5', 1, T0 + 12_000],
      ['4-1', 2, T0 + 24_000],
    ]);
    expect((await tf.incomingTransfers(me.address, '2-5')).map((t) => t.id)).toEqual(['4-1']);
    await expect(new TfChain(chain).incomingTransfers(me.address)).rejects.toMatchObject({ code: 'unavailable' });
  });
});

describe('GraphqlIndexer', () => {
  it('pages through transfers to the address by event id and reads the indexer height', async () => {
    const bodies: Array<{ query: string; variables: Record<string, unknown> }> = [];
    const pages = [
      [
        { id: '0000000002-000003-abcde', from: carol, to: me.address, amount: '90000000' },
        { id: '0000000004-0a1b2-000001', from: dave, to: me.address, amount: '5' },
      ],
      [{ id: 'weird', from: dave, to: me.address, amount: '5' }],
    ];
    const fetchFake = (async (_url: string, init: { body: string }) => {
      const body = JSON.parse(init.body) as { query: string; variables: Record<string, unknown> };
      bodies.push(body);
      const data = body.query.includes('squidStatus') ? { squidStatus: { height: 1234 } } : { transfers: pages[(body.variables.offset as number) / 2] ?? [] };
      return new Response(JSON.stringify({ data }), { status: 200 });
    }) as unknown as typeof fetch;
    const ix = new GraphqlIndexer('https://graphql.example/graphql', { fetch: fetchFake, pageSize: 2 });
    const got = await ix.transfersTo(me.address);
    expect(got).toEqual({
      height: 1234,
      transfers: [
        { block: 2, index: 3, from: carol, to: me.address, amount: 90_000_000n },
        { block: 4, index: 1, from: dave, to: me.address, amount: 5n },
      ],
    });
    const q = bodies.find((b) => b.query.includes('transfers('))!;
    expect(q.query).toMatch(/transfers\(where: \{ to_eq: \$to \}, orderBy: id_ASC, limit: \$limit, offset: \$offset\) \{ id from to amount \}/);
    expect(bodies.filter((b) => b.query.includes('transfers(')).map((b) => b.variables)).toEqual([
      { to: me.address, limit: 2, offset: 0 },
      { to: me.address, limit: 2, offset: 2 },
    ]);
  });

  it('fails on GraphQL errors and HTTP errors, and does without the height', async () => {
    const answer = (status: number, body: unknown) => (async () => new Response(JSON.stringify(body), { status })) as unknown as typeof fetch;
    await expect(new GraphqlIndexer('u', { fetch: answer(502, {}) }).transfersTo(me.address)).rejects.toThrow(/HTTP 502/);
    await expect(new GraphqlIndexer('u', { fetch: answer(200, { errors: [{ message: 'Cannot query field "transfers"' }] }) }).transfersTo(me.address)).rejects.toThrow(/Cannot query field/);
    const noHeight = (async (_u: string, init: { body: string }) =>
      new Response(JSON.stringify(init.body.includes('squidStatus') ? { errors: [{ message: 'no squidStatus' }] } : { data: { transfers: [] } }), { status: 200 })) as unknown as typeof fetch;
    expect(await new GraphqlIndexer('u', { fetch: noHeight }).transfersTo(me.address)).toEqual({ transfers: [] });
  });

  it('reads both subsquid event id layouts', () => {
    expect(parseIndexerEventId('0000012345-000007-1f2e3')).toEqual({ block: 12345, index: 7 });
    expect(parseIndexerEventId('0000012345-1f2e3-000007')).toEqual({ block: 12345, index: 7 });
    expect(parseIndexerEventId('12345-7')).toBeUndefined();
  });
});

/**
 * The chain watcher's own cost, against an in-memory TFChain with no network latency: what the
 * watcher itself spends per block and per deposit, and how its files behave at scale.
 *
 *   npx tsx bench/chain-watcher.ts [--watched 100000] [--blocks 14400] [--concurrency 4]
 *
 * 1. start on a fresh data dir, then watch --watched addresses (each one a line in deposits.jsonl);
 * 2. stop; the chain moves --blocks blocks (14,400 = one day of 6 s blocks) while the bot is down,
 *    each block with the usual inherent events plus one transfer to a watched address and one to
 *    an address nobody watches;
 * 3. start again: catching up reads every block once, in order; the time is the watcher's CPU per
 *    block (a real node adds its round trips: see the estimate printed);
 * 4. restart once more: opening the inbox (watched addresses + deposits) is what every start pays;
 * 5. incomingTransfers for random watched addresses: what a deposit poll costs.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ChainWatcher } from '../src/chain/chain-watcher.js';
import { TfChain } from '../src/chain/tfchain.js';
import { addr, ev, FakeChain, successEv, TFT, transferEv } from '../tests/unit/chain/fake-tfchain.js';
import { encodeAddress } from '@polkadot/util-crypto';

const { values: args } = parseArgs({
  options: {
    watched: { type: 'string', default: '100000' },
    blocks: { type: 'string', default: '14400' },
    concurrency: { type: 'string', default: '4' },
  },
});
const WATCHED = Number(args.watched);
const BLOCKS = Number(args.blocks);
const CONCURRENCY = Number(args.concurrency);

const addressOf = (i: number) => {
  const key = new Uint8Array(32);
  new DataView(key.buffer).setUint32(0, i + 1);
  return encodeAddress(key, 42);
};
const ms = (t0: number) => Math.round(performance.now() - t0);
const mb = (n: number) => `${Math.round(n / 1024 / 1024)} MB`;

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-bench-chain-'));
  const chain = new FakeChain(1);
  const never = () => new Promise<void>(() => undefined); // the poll loop never wakes by itself: finalize() drives it
  const open = async () => {
    const w = new ChainWatcher(chain, { dir, concurrency: CONCURRENCY, sleep: never });
    await w.start();
    await w.idle();
    return w;
  };
  const out: Record<string, number | string> = { watched: WATCHED, blocks: BLOCKS, concurrency: CONCURRENCY };

  let w = await open();
  const addresses = Array.from({ length: WATCHED }, (_, i) => addressOf(i));
  let t0 = performance.now();
  for (const a of addresses) await w.watch(a);
  out.watchMs = ms(t0);
  await w.stop();

  const stranger = addr(250);
  for (let b = 0; b < BLOCKS; b++) {
    chain.addBlock([
      ev('timestamp', 'Set', [], 0),
      successEv(0),
      transferEv(stranger, addresses[(b * 7919) % WATCHED]!, 5 * TFT, 1),
      successEv(1),
      transferEv(stranger, addr(251), 3 * TFT, 2),
      successEv(2),
    ]);
  }
  chain.finalize(chain.blocks.length - 1, true);

  const rss0 = process.memoryUsage().rss;
  t0 = performance.now();
  w = await open();
  out.catchUpMs = ms(t0);
  out.perBlockUs = Math.round(((out.catchUpMs as number) * 1000) / BLOCKS);
  out.cursor = w.stats().cursor;
  out.rssCatchUp = mb(Math.max(rss0, process.memoryUsage().rss));
  await w.stop();

  t0 = performance.now();
  w = await open();
  out.reopenMs = ms(t0);
  out.inboxFile = mb((await stat(path.join(dir, 'deposits.jsonl'))).size);

  const tf = new TfChain(chain, { watcher: w });
  const lat: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const a = addresses[(i * 104729) % WATCHED]!;
    const t = performance.now();
    await tf.incomingTransfers(a);
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  out.lookupP50Us = Math.round(lat[499]! * 1000);
  out.lookupP99Us = Math.round(lat[989]! * 1000);
  await w.stop();
  await rm(dir, { recursive: true, force: true });

  // a real node: about two round trips per block (hash, then the events at it), CONCURRENCY at once
  const rttMs = 50;
  out.estimatedRealCatchUpS = Math.round((BLOCKS * 2 * rttMs) / CONCURRENCY / 1000 + (out.catchUpMs as number) / 1000);

  console.table(out);
  console.log(JSON.stringify(out));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

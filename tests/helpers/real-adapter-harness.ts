/**
 * The real bot on the real-grid adapters, end to end: telegraf polling the in-repo Bot API emulator
 * over HTTP, `TfGrid` as the Grid (a real `GridClientPool` whose clients are fake grid_clients onto
 * one `GridWorld`), and `TfChain` + a real `ChainWatcher` as the Chain, over a scripted TFChain
 * (`FakeChain`, the @polkadot api seam) whose blocks the test produces. Only the outermost seams are
 * fakes: grid_client (and its KYC client), the twin registrar, @polkadot's api, the GraphQL indexer
 * and the prober.
 *
 * It is assembled the way src/grid/tfgrid/open.ts and src/main.ts assemble the real thing: the
 * operator's client connects first and its `tfclient.api` is the chain TfChain and the watcher read;
 * the watcher's contract events go to `app.watchdog.onContractEvent` (grace_elapsed excepted).
 *
 * Time: nothing sleeps. The watcher follows the finalized-heads subscription, which the fake chain
 * calls when a block is finalized; its polling loop never wakes by itself (its sleep never ends), and
 * `block()` / `deposit()` resolve once the watcher has processed the block and the watchdog has
 * handled its contract events. `restart()` stops the app and the adapters and builds new ones on the
 * same data directory, world and chain, as a process restart would.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { normalizeAddress, type EventRecordLike } from '../../src/chain/chain-events.js';
import { ChainWatcher } from '../../src/chain/chain-watcher.js';
import { TfChain, type ChainApi, type DepositIndexer, type IndexedTransfer } from '../../src/chain/tfchain.js';
import type { ProbeSpec } from '../../src/catalog/types.js';
import type { Identity } from '../../src/grid/port.js';
import type { GridClientLike, LooseChainApi } from '../../src/grid/tfgrid/client-seam.js';
import { GridClientPool, isConnectionLoss } from '../../src/grid/tfgrid/client-pool.js';
import type { TfGridSettings, TwinRegistrar } from '../../src/grid/tfgrid/seams.js';
import { TfGrid } from '../../src/grid/tfgrid/tfgrid.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { ProbeResult, ProbeTarget, Prober } from '../../src/probes/prober.js';
import { BotApiEmulator } from '../../src/telegram/emulator/index.js';
import { addr, contractEv, depositEv, ev, FakeChain, mintEv, transferEv } from '../unit/chain/fake-tfchain.js';
import { eventually } from './eventually.js';
import { DEV_SETTINGS, fakeGridClient, fakeKyc, gridNode, GridWorld, nodeContractResourcesOf, T, type ContractChange, type FakeGridClient } from './fake-grid-client.js';
import { TEST_KEY } from './harness.js';

export const OPERATOR: Identity = { mnemonic: 'operator words that must never reach a log line', address: addr(250) };
export const OPERATOR_TWIN = 1;
/** Where test deposits come from: some other TFChain account. */
export const FUNDER = addr(77);

export const SETTINGS: TfGridSettings = { ...DEV_SETTINGS, poolSize: 8 };

/** Twins on the chain, registered on request; counts every call. */
export class FakeRegistrar implements TwinRegistrar {
  readonly twins = new Map<string, number>([[OPERATOR.address, OPERATOR_TWIN]]);
  readonly calls: string[] = [];
  private next = 4001;

  async ensureTwin(id: Identity): Promise<number> {
    this.calls.push(id.address);
    let twin = this.twins.get(id.address);
    if (twin === undefined) this.twins.set(id.address, (twin = this.next++));
    return twin;
  }
}

/** A prober whose answer the test sets; 'unreachable' (a node we cannot reach from here) by default. */
export class FakeProber implements Prober {
  answer: ProbeResult = { state: 'unreachable' };
  readonly asked: Array<{ spec: ProbeSpec; target: ProbeTarget }> = [];

  async probe(spec: ProbeSpec, target: ProbeTarget): Promise<ProbeResult> {
    this.asked.push({ spec, target });
    return this.answer;
  }
}

/** The GraphQL indexer over the fake chain's finalized blocks: every balances.Transfer into the address. */
export class ChainIndexer implements DepositIndexer {
  calls = 0;
  constructor(private readonly chain: FakeChain) {}

  async transfersTo(address: string): Promise<{ transfers: IndexedTransfer[]; height?: number }> {
    this.calls++;
    const transfers: IndexedTransfer[] = [];
    for (const b of this.chain.blocks.slice(0, this.chain.finalized + 1)) {
      for (let i = 0; i < b.records.length; i++) {
        const { section, method, data } = b.records[i]!.event;
        if (section !== 'balances' || method !== 'Transfer' || normalizeAddress(String(data[1])) !== address) continue;
        transfers.push({ block: b.number, index: i, from: String(data[0]), to: String(data[1]), amount: BigInt(String(data[2])) });
      }
    }
    return { transfers, height: this.chain.finalized };
  }
}

export interface RealAdapterHarnessOptions {
  dataDir?: string;
  emu?: BotApiEmulator;
  /** the grid's nodes; default six in three farms, room for any one profile */
  nodes?: GridWorld['nodes'];
  log?: Logger;
  paymentTimeoutMs?: number;
  recovery?: { maxTries: number; backoffMs: number };
  /** the Stellar bridge payment prompts offer; main.ts sets the network's bridge on a real grid (the default), null for none */
  bridgeAddress?: string | null;
}

export interface RealAdapterHarness {
  emu: BotApiEmulator;
  dataDir: string;
  /** the grid behind grid_client: contracts, nodes, workloads */
  world: GridWorld;
  /** TFChain behind @polkadot's api: blocks, accounts */
  chain: FakeChain;
  registrar: FakeRegistrar;
  prober: FakeProber;
  indexer: ChainIndexer;
  /** every client the pools opened, in order, with the identity it was opened for */
  clients: Array<{ address: string; client: FakeGridClient }>;
  readonly app: App;
  readonly grid: TfGrid;
  readonly tfchain: TfChain;
  readonly watcher: ChainWatcher;
  readonly pool: GridClientPool<GridClientLike>;
  /** contract events the chain has not put in a block yet (the next `block()` carries them) */
  readonly pendingEvents: EventRecordLike[];
  /** the twin registered for an address, if any */
  twinOf(address: string): number | undefined;
  /** resolves once the watcher follows the address (a deposit before that is the indexer's to find) */
  untilWatched(address: string): Promise<void>;
  /** a finalized block with these records and the pending contract events; resolves once it is processed */
  block(records?: EventRecordLike[]): Promise<number>;
  /**
   * A transfer of `amount` units into `to` in a new block. The balance counts it as soon as the block
   * is imported (storage is read at the best block); the watcher reads it once it is finalized:
   * at once, and this resolves when the watcher has it, unless `finalized: false` (then `finalize()`).
   */
  deposit(to: string, amount: number, opts?: { from?: string; finalized?: boolean }): Promise<{ block: number; id: string }>;
  /** finalizes every block imported so far; resolves once they are processed */
  finalize(): Promise<void>;
  /**
   * A deposit from Stellar through the TFT bridge, in a new finalized block: the bridge mints `gross`
   * units, keeps its fee and credits the rest to `to` (a balances.Deposit in the mint's extrinsic).
   */
  bridgeDeposit(to: string, gross: number, fee?: number): Promise<{ block: number; id: string; credited: number }>;
  /** a contract cancelled outside the bot, or its grace period started, as TFChain reports it in a block */
  contractEvent(kind: 'canceled' | 'grace_started', contractId: number): Promise<void>;
  /** the watcher idle, the watchdog done with the events it was given, the jobs idle */
  settled(): Promise<void>;
  /**
   * Stops the app and the adapters and starts new ones on the same data. `rewindCursorTo`: the chain
   * cursor the new watcher finds on disk (as a crash after recording a block's deposits but before
   * saving the cursor leaves it), so it reads the blocks after it again.
   */
  restart(opts?: { rewindCursorTo?: number }): Promise<void>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/** Six nodes in three farms and two countries, each with room for a Dash node. */
export function defaultNodes(): GridWorld['nodes'] {
  return [
    gridNode(11, { farmId: 1, farmName: 'ghent1', uptime: 40 * 86_400 }),
    gridNode(12, { farmId: 1, farmName: 'ghent1', uptime: 20 * 86_400 }),
    gridNode(21, { farmId: 2, farmName: 'vienna2', location: { country: 'Austria', city: 'Vienna' }, uptime: 35 * 86_400 }),
    gridNode(22, { farmId: 2, farmName: 'vienna2', location: { country: 'Austria', city: 'Vienna' }, uptime: 10 * 86_400 }),
    gridNode(31, { farmId: 3, farmName: 'gent3', certificationType: 'Certified', uptime: 50 * 86_400 }),
    gridNode(32, { farmId: 3, farmName: 'gent3', uptime: 5 * 86_400 }),
  ];
}

/** Never resolves: the watcher's polling loop and retry pauses wait for its stop only. */
const never = () => new Promise<void>(() => undefined);

export async function startRealAdapterHarness(opts: RealAdapterHarnessOptions = {}): Promise<RealAdapterHarness> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'jukebox-real-')));
  const emu = opts.emu ?? (await BotApiEmulator.start());
  const log = opts.log ?? silentLogger;
  const bridgeAddress = opts.bridgeAddress === undefined ? SETTINGS.bridgeAddress : opts.bridgeAddress;

  const world = new GridWorld();
  world.nodes = opts.nodes ?? defaultNodes();
  const chain = new FakeChain(1);
  // grid_client's chain connection is the one TfChain reads (open.ts): the same api, with the query the adapter asks of it
  Object.assign(chain.query, { smartContractModule: { nodeContractResources: nodeContractResourcesOf(world) } });
  world.balanceOf = (address) => Number(chain.accounts.get(address)?.free ?? 0n) / 1e7;
  const registrar = new FakeRegistrar();
  const prober = new FakeProber();
  const indexer = new ChainIndexer(chain);
  const clients: RealAdapterHarness['clients'] = [];

  // what TFChain emits about contracts, waiting for the next block
  const pendingEvents: EventRecordLike[] = [];
  world.onContractChange.push((c: ContractChange) => {
    const { contractID, nodeID, twinId } = c.row;
    if (c.kind === 'canceled') pendingEvents.push(contractEv('NodeContractCanceled', contractID, nodeID, twinId));
    else if (c.kind === 'grace_started') pendingEvents.push(contractEv('ContractGracePeriodStarted', contractID, nodeID, twinId, chain.blocks.length));
    else pendingEvents.push(contractEv('ContractGracePeriodEnded', contractID, nodeID, twinId));
  });

  /** the watchdog's handling of contract events, so tests can wait for it */
  const handling = new Set<Promise<void>>();

  interface Built {
    app: App;
    grid: TfGrid;
    tfchain: TfChain;
    watcher: ChainWatcher;
    pool: GridClientPool<GridClientLike>;
  }

  const build = async (): Promise<Built> => {
    const pool = new GridClientPool<GridClientLike>({
      create: async (id) => {
        const twin = registrar.twins.get(id.address);
        // what grid_client's connect throws for an account without a twin
        if (twin === undefined) throw new T.TwinNotExistError(`Couldn't find a user for the provided mnemonic ${id.mnemonic} on dev network.`);
        const client = fakeGridClient(world, twin, { address: id.address, api: chain as unknown as LooseChainApi });
        clients.push({ address: id.address, client });
        return client;
      },
      max: SETTINGS.poolSize,
      idleMs: SETTINGS.poolIdleMs,
      isConnectionLoss,
      log: log.child({ mod: 'grid-pool' }),
    });
    // the KYC service grid_client would ask is the world's: every account verified unless a test says otherwise
    const grid = new TfGrid({ settings: SETTINGS, pool, registrar, operator: OPERATOR, log: log.child({ mod: 'tfgrid' }), kyc: fakeKyc(world) });
    const api = await pool.use(OPERATOR, async (c) => c.tfclient.api as unknown as ChainApi);
    const watcher = new ChainWatcher(api, { dir: path.join(dataDir, 'chain'), log: log.child({ mod: 'chain-watcher' }), sleep: never });
    await watcher.start();
    const tfchain = new TfChain(api, { watcher, indexer, log: log.child({ mod: 'tfchain' }) });
    const app = await createApp({
      dataDir,
      log,
      grid,
      chain: tfchain,
      prober,
      masterKey: TEST_KEY,
      telegram: { token: emu.token, apiRoot: emu.apiRoot },
      paymentTimeoutMs: opts.paymentTimeoutMs ?? 30 * 60_000,
      depositPollMs: 25,
      readyPollMs: 10,
      outboxLimits: { perChatPerSecond: 1000, perChatBurst: 1000, perSecond: 1000 },
      watchdog: 'manual',
      recovery: opts.recovery ?? { maxTries: 3, backoffMs: 10 * 60_000 },
      ...(bridgeAddress ? { bridgeAddress } : {}),
    });
    // as main.ts: the chain says at once what polling would find within minutes
    watcher.onContractEvent((e) => {
      if (e.kind === 'grace_elapsed') return undefined;
      const p = app.watchdog.onContractEvent(e);
      handling.add(p);
      void p.finally(() => handling.delete(p));
      return p;
    });
    await app.start();
    return { app, grid, tfchain, watcher, pool };
  };

  let built = await build();
  let stopped = false;

  const closeAdapters = async (b: Built) => {
    await b.app.stop();
    await Promise.allSettled([...handling]);
    await b.watcher.stop();
    await b.pool.close();
  };

  const settled = async () => {
    await built.watcher.idle();
    while (handling.size > 0) await Promise.allSettled([...handling]);
    await built.app.worker.idle();
  };

  const importBlock = (records: EventRecordLike[]): number => {
    // the timestamp inherent first, as in every block
    const n = chain.addBlock([ev('system', 'ExtrinsicSuccess', ['{}'], 0), ...records, ...pendingEvents.splice(0)]);
    // block times are the chain's clock, which is the wall clock (payments count deposits made after the prompt)
    chain.blocks[n]!.time = Date.now();
    return n;
  };
  const finalize = async (): Promise<void> => {
    chain.finalize(chain.blocks.length - 1);
    await built.watcher.idle();
    while (handling.size > 0) await Promise.allSettled([...handling]);
  };
  const block = async (records: EventRecordLike[] = []): Promise<number> => {
    const n = importBlock(records);
    await finalize();
    return n;
  };

  const h: RealAdapterHarness = {
    emu,
    dataDir,
    world,
    chain,
    registrar,
    prober,
    indexer,
    clients,
    pendingEvents,
    get app() {
      return built.app;
    },
    get grid() {
      return built.grid;
    },
    get tfchain() {
      return built.tfchain;
    },
    get watcher() {
      return built.watcher;
    },
    get pool() {
      return built.pool;
    },
    twinOf: (address) => registrar.twins.get(address),
    untilWatched: (address) => eventually(`the chain watcher follows ${address}`, () => built.watcher.isWatched(address)),
    block,
    finalize,
    async deposit(to, amount, { from = FUNDER, finalized = true } = {}) {
      const account = chain.accounts.get(to) ?? {};
      chain.accounts.set(to, { ...account, free: (account.free ?? 0n) + BigInt(amount) });
      // the transfer is the block's second event (index 1): its id is `<block>-1`
      const n = importBlock([transferEv(from, to, amount, 1)]);
      if (finalized) await finalize();
      return { block: n, id: `${n}-1` };
    },
    async bridgeDeposit(to, gross, fee = 1e7) {
      const credited = gross - fee;
      const account = chain.accounts.get(to) ?? {};
      chain.accounts.set(to, { ...account, free: (account.free ?? 0n) + BigInt(credited) });
      // the mint's extrinsic: the deposit to the target, the fee to the bridge's account, then MintCompleted (index 3)
      const n = await block([depositEv(to, credited, 1), depositEv(addr(78), fee, 1), mintEv(to, gross, 1)]);
      return { block: n, id: `${n}-3`, credited };
    },
    async contractEvent(kind, contractId) {
      if (kind === 'canceled') world.cancelFromOutside(contractId);
      else world.setGrace(contractId, true, Date.now() + 14 * 86_400_000);
      await block();
    },
    settled,
    async restart({ rewindCursorTo } = {}) {
      await closeAdapters(built);
      if (rewindCursorTo !== undefined) {
        const b = chain.blocks[rewindCursorTo];
        if (!b) throw new Error(`no block ${rewindCursorTo} to rewind the cursor to`);
        await writeFile(path.join(dataDir, 'chain', 'cursor.json'), `${JSON.stringify({ version: 1, block: b.number, hash: b.hash, savedAt: Date.now() })}\n`);
      }
      built = await build();
    },
    async stop({ keepData = false } = {}) {
      if (stopped) return;
      stopped = true;
      await closeAdapters(built);
      if (!opts.emu) await emu.stop();
      if (!keepData && !opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}

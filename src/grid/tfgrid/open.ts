/**
 * The real ThreeFold Grid, assembled: the users' client pool, the operator's own client, the twin
 * registrar, the Grid adapter, and TFChain (balances, deposits, contract events).
 * main.ts opens it when GRID_NETWORK is set; the live contract suite opens it the same way.
 *
 * TFChain is read over a connection of its own (connectTfChain: it reconnects by itself), not over
 * the one grid_client holds. tfchain_client keeps one chain socket per URL for the whole process,
 * and grid_client closes it for every client at once: GridClient.disconnect does, and so does
 * rmb_direct_client's disconnect, through its own tfchain client; once closed, its provider never
 * reconnects. So the clients here never call either (their disconnect closes their relay only, see
 * closeRelay in client-seam.ts), and that shared socket is closed once, at shutdown.
 */
import path from 'node:path';
import { addressOf, cryptoReady } from '../../chain/identity.js';
import { ChainWatcher } from '../../chain/chain-watcher.js';
import { connectTfChain, GraphqlIndexer, TfChain } from '../../chain/tfchain.js';
import type { Logger } from '../../log.js';
import { RpcProber } from '../../probes/rpc-prober.js';
import type { Prober } from '../../probes/prober.js';
import type { Identity } from '../port.js';
import { GridClientPool, isConnectionLoss } from './client-pool.js';
import { closeGridChain, createGridClient, type GridClientLike } from './client-seam.js';
import type { TfGridSettings } from './seams.js';
import { TfGrid } from './tfgrid.js';
import { createTwinRegistrar } from './twin-registrar.js';

export interface RealGrid {
  grid: TfGrid;
  chain: TfChain;
  /** follows finalized blocks: deposits into users' wallets, contract events for the watchdog */
  watcher: ChainWatcher;
  prober: Prober;
  close(): Promise<void>;
}

export async function openTfGrid(o: { settings: TfGridSettings; operatorMnemonic: string; dataDir: string; log: Logger }): Promise<RealGrid> {
  const { settings, log } = o;
  await cryptoReady();
  const operator: Identity = { mnemonic: o.operatorMnemonic, address: addressOf(o.operatorMnemonic) };
  const create = (id: Identity): Promise<GridClientLike> => createGridClient(id.mnemonic, settings);
  const pool = new GridClientPool<GridClientLike>({
    create,
    max: settings.poolSize,
    idleMs: settings.poolIdleMs,
    isConnectionLoss,
    log: log.child({ mod: 'grid-pool' }),
  });
  // the operator's client, outside the users' pool: never evicted, never waiting for a slot (node
  // search and pricing run inside chat handlers); reconnected like the others when its link drops
  const operatorPool = new GridClientPool<GridClientLike>({ create, max: 1, idleMs: Infinity, isConnectionLoss, log: log.child({ mod: 'grid-operator' }) });
  const grid = new TfGrid({
    settings,
    pool,
    operatorPool,
    registrar: createTwinRegistrar(settings, { log: log.child({ mod: 'twins' }) }),
    operator,
    log: log.child({ mod: 'tfgrid' }),
  });

  let chainLink: Awaited<ReturnType<typeof connectTfChain>> | undefined;
  const closeClients = async () => {
    await Promise.all([pool.close(), operatorPool.close()]);
    // the shared chain socket, last: nothing reads the chain through it any more
    await closeGridChain(settings.urls.substrate).catch(() => undefined);
  };
  try {
    // the operator's client connects first: it proves the settings and the funding identity
    await operatorPool.use(operator, async () => undefined);
    chainLink = await connectTfChain(settings.urls.substrate);
    const watcher = new ChainWatcher(chainLink.api, { dir: path.join(o.dataDir, 'chain'), log: log.child({ mod: 'chain-watcher' }) });
    await watcher.start();
    const chain = new TfChain(chainLink.api, { watcher, indexer: new GraphqlIndexer(settings.urls.graphql, { log }), log: log.child({ mod: 'tfchain' }) });
    log.info({ network: settings.network, operator: operator.address }, 'connected to the ThreeFold Grid');
    const link = chainLink;
    return {
      grid,
      chain,
      watcher,
      prober: new RpcProber(),
      async close() {
        await watcher.stop();
        await closeClients();
        await link.disconnect().catch(() => undefined);
      },
    };
  } catch (err) {
    await closeClients().catch(() => undefined);
    await chainLink?.disconnect().catch(() => undefined);
    throw err;
  }
}

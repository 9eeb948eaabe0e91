/**
 * The real ThreeFold Grid, assembled: the client pool, the twin registrar, the Grid adapter, and
 * TFChain (balances, deposits, contract events) over the chain connection grid_client already holds.
 * main.ts opens it when GRID_NETWORK is set; the live contract suite opens it the same way.
 */
import path from 'node:path';
import { addressOf, cryptoReady } from '../../chain/identity.js';
import { ChainWatcher } from '../../chain/chain-watcher.js';
import { GraphqlIndexer, TfChain, type ChainApi } from '../../chain/tfchain.js';
import type { Logger } from '../../log.js';
import { RpcProber } from '../../probes/rpc-prober.js';
import type { Prober } from '../../probes/prober.js';
import type { Identity } from '../port.js';
import { GridClientPool, isConnectionLoss } from './client-pool.js';
import { createGridClient, type GridClientLike } from './client-seam.js';
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

/**
 * A pooled client whose disconnect closes only its relay connection. tfchain_client keeps one chain
 * socket per URL for the whole process and GridClient.disconnect closes it, which would cut every
 * other client's calls in the middle (and the pool would run them again); the socket is closed once,
 * at shutdown.
 */
function pooled(client: GridClientLike): GridClientLike {
  const relayOnly = async () => {
    await client.rmbClient?.disconnect();
  };
  return Object.assign(Object.create(client) as GridClientLike, { disconnect: relayOnly });
}

export async function openTfGrid(o: { settings: TfGridSettings; operatorMnemonic: string; dataDir: string; log: Logger }): Promise<RealGrid> {
  const { settings, log } = o;
  await cryptoReady();
  const operator: Identity = { mnemonic: o.operatorMnemonic, address: addressOf(o.operatorMnemonic) };
  let last: GridClientLike | undefined;
  const pool = new GridClientPool<GridClientLike>({
    create: async (id) => {
      last = await createGridClient(id.mnemonic, settings);
      return pooled(last);
    },
    max: settings.poolSize,
    idleMs: settings.poolIdleMs,
    isConnectionLoss,
    log: log.child({ mod: 'grid-pool' }),
  });
  const grid = new TfGrid({ settings, pool, registrar: createTwinRegistrar(settings, { log: log.child({ mod: 'twins' }) }), operator, log: log.child({ mod: 'tfgrid' }) });

  // the operator's client connects first: it proves the settings and the funding identity, and its
  // chain connection is the one every client shares, so TFChain is read over it too
  const api = await pool.use(operator, async (c) => c.tfclient.api as unknown as ChainApi);
  const watcher = new ChainWatcher(api, { dir: path.join(o.dataDir, 'chain'), log: log.child({ mod: 'chain-watcher' }) });
  await watcher.start();
  const chain = new TfChain(api, { watcher, indexer: new GraphqlIndexer(settings.urls.graphql, { log }), log: log.child({ mod: 'tfchain' }) });
  log.info({ network: settings.network, operator: operator.address }, 'connected to the ThreeFold Grid');

  return {
    grid,
    chain,
    watcher,
    prober: new RpcProber(),
    async close() {
      await watcher.stop();
      await pool.close();
      // the shared chain socket, last: nothing reads the chain any more
      await last?.tfclient.disconnect().catch(() => undefined);
    },
  };
}

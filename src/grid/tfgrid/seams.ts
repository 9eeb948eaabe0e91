/**
 * The seams of the real-grid adapter: what the Grid adapter (tfgrid.ts), the client pool
 * (client-pool.ts), the twin registrar (twin-registrar.ts) and the chain adapter (src/chain/)
 * agree on. Tests replace what is behind each seam with fakes of the same shape.
 */
import type { Identity } from '../port.js';

export type GridNetwork = 'dev' | 'qa' | 'test' | 'main';

/** Where the network's services live; each one can be overridden (a local proxy, a private node). */
export interface GridUrls {
  proxy: string;
  substrate: string;
  relay: string;
  graphql: string;
  activation: string;
}

/** The default service URLs of a network, as grid_client derives them (mainnet has no `<net>.` prefix). */
export function defaultUrls(network: GridNetwork): GridUrls {
  const n = network === 'main' ? '' : `${network}.`;
  return {
    proxy: `https://gridproxy.${n}grid.tf`,
    substrate: `wss://tfchain.${n}grid.tf/ws`,
    relay: `wss://relay.${n}grid.tf`,
    graphql: `https://graphql.${n}grid.tf/graphql`,
    activation: `https://activation.${n}grid.tf/activation/activate`,
  };
}

/** Everything the real-grid adapters are configured with (src/config.ts builds it from the environment). */
export interface TfGridSettings {
  network: GridNetwork;
  urls: GridUrls;
  /** grid_client's deploymentTimeoutMinutes: how long a deployment may take before it is rolled back */
  deploymentTimeoutMinutes: number;
  /** how many GridClients (each a chain and a relay connection) may be open at once */
  poolSize: number;
  /** a client nobody used for this long is disconnected */
  poolIdleMs: number;
  /** the Stellar bridge address for this network; deposits to it with memo twin_<id> land on that twin */
  bridgeAddress: string;
}

/**
 * GridClients per identity: created on demand, shared by concurrent callers of the same identity,
 * disconnected when idle, at most `poolSize` open. `use` reconnects once when the connection was
 * lost under the call, so a job does not fail on a dropped websocket.
 */
export interface ClientPool<C> {
  use<T>(identity: Identity, fn: (client: C) => Promise<T>): Promise<T>;
  /** how many clients are open now */
  readonly size: number;
  close(): Promise<void>;
}

/** Gives an identity its twin on TFChain: activation, terms, twin; safe to repeat, never two twins. */
export interface TwinRegistrar {
  ensureTwin(identity: Identity): Promise<number>;
}

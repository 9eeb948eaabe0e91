/**
 * The connections grid_client's packages share across the process, with their real classes:
 * a client's disconnect closes its own relay websocket and never tfchain_client's process-wide
 * chain socket (which the packages' own disconnects close: they are guarded), relay clients shared
 * by several GridClients of one mnemonic close with the last, a failed connect leaves the chain
 * alone, the chain socket closes once at shutdown, storeSecret keeps connect from opening a second
 * client, and the packages' exit-on-signal handlers are disarmed. Nothing here opens a socket to
 * the grid.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { createRequire } from 'node:module';
import { GridClientPool } from '../../../../src/grid/tfgrid/client-pool.js';
import {
  closeGridChain,
  closeRelay,
  createGridClient,
  forgetContracts,
  guardGridPackages,
  loadGridClientPackage,
  type GridClientLike,
} from '../../../../src/grid/tfgrid/client-seam.js';
import { DEV_SETTINGS } from '../../../helpers/fake-grid-client.js';

process.env.POLKADOTJS_DISABLE_ESM_CJS_WARNING = '1';
const req = createRequire(import.meta.url);
type AnyCtor = new (...a: any[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any
const { QueryClient, Client: ChainClient } = req('@threefold/tfchain_client') as {
  QueryClient: AnyCtor & { connections: Map<string, { api: unknown; disconnectHandler: () => void }> };
  Client: AnyCtor;
};
const rmb = req('@threefold/rmb_direct_client') as { Client: AnyCtor & { connections: Map<string, unknown> } };

const settings = DEV_SETTINGS;
const CHAIN = settings.urls.substrate;
const RELAY = settings.urls.relay;
const MNEMONIC = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk';

/** The ApiPromise tfchain_client shares per URL: every client's chain calls go over it. */
function sharedChainSocket() {
  let connected = true;
  const api = {
    get isConnected() {
      return connected;
    },
    on() {},
    off() {},
    disconnect: jest.fn(async () => {
      connected = false;
    }),
  };
  QueryClient.connections.set(CHAIN, { api, disconnectHandler: () => undefined });
  return api;
}

/** A relay websocket as rmb_direct_client holds it (ws, OPEN). */
function relaySocket() {
  return { readyState: 1, CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3, close: jest.fn(), removeAllListeners: jest.fn(), on: jest.fn(), onmessage: () => undefined };
}

let hexSeed: string;
let pkg: ReturnType<typeof loadGridClientPackage>;
let connect: (this: any) => Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(() => {
  pkg = loadGridClientPackage();
  hexSeed = pkg.toHexSeed(MNEMONIC);
  connect = (pkg.GridClient.prototype as { connect: typeof connect }).connect;
});

beforeEach(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined); // tfchain_client's "disconnecting"
});

afterEach(() => {
  (pkg.GridClient.prototype as { connect: typeof connect }).connect = connect;
  QueryClient.connections.clear();
  rmb.Client.connections.clear();
  jest.restoreAllMocks();
});

/**
 * What GridClient.connect leaves behind, without the network: a tfchain client on the shared
 * socket and the mnemonic's rmb_direct_client Client (rmb_direct_client hands out one per mnemonic),
 * its relay open. `fail` throws after the relay client was made, as a failed connect may.
 */
function stubConnect(fail?: Error, relayConnect?: Promise<void>) {
  (pkg.GridClient.prototype as { connect: typeof connect }).connect = async function (this: any) { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.tfclient = new ChainClient({ url: CHAIN, mnemonicOrSecret: this.clientOptions.mnemonic, keypairType: 'sr25519' });
    this.rmbClient = new rmb.Client(CHAIN, RELAY, this.clientOptions.mnemonic, 'session', 'sr25519', 5);
    // the chain and GraphQL checks, then the relay's connect, take a while
    await relayConnect;
    this.rmbClient.con ??= relaySocket();
    if (fail) throw fail;
    this.twinId = 7;
    this.config = { projectName: '' };
  };
}

describe('closing a relay (rmb_direct_client Client)', () => {
  it("rmb_direct_client's own disconnect (it calls it itself when a relay reconnect fails) leaves the shared chain socket open", async () => {
    const api = sharedChainSocket();
    const relay = new rmb.Client(CHAIN, RELAY, hexSeed, 'session', 'sr25519', 5);
    const con = relaySocket();
    relay.con = con;
    await relay.disconnect(); // unguarded, it calls its tfchain client's disconnect: the shared socket
    expect(con.close).toHaveBeenCalledTimes(1);
    expect(api.disconnect).not.toHaveBeenCalled();
    expect(api.isConnected).toBe(true);
  });

  it("neither does GridClient's own disconnect; closeGridChain closes it, once, at shutdown", async () => {
    const api = sharedChainSocket();
    stubConnect();
    const client = await createGridClient(MNEMONIC, settings);
    await (pkg.GridClient.prototype as unknown as { disconnect: () => Promise<void> }).disconnect.call(client);
    expect(api.disconnect).not.toHaveBeenCalled();
    await closeGridChain(CHAIN);
    expect(api.disconnect).toHaveBeenCalledTimes(1);
    expect(api.isConnected).toBe(false);
  });

  it('closes only its own websocket, stops its ping, and leaves the cache of relay clients', async () => {
    const api = sharedChainSocket();
    const relay = new rmb.Client(CHAIN, RELAY, hexSeed, 'session', 'sr25519', 5);
    const con = relaySocket();
    relay.con = con;
    let pinged = false;
    relay.__pingPongTimeout = setTimeout(() => (pinged = true), 30);
    relay.responses.set('ping', {});
    expect(rmb.Client.connections.get(`${RELAY}:${hexSeed}:sr25519`)).toBe(relay);

    closeRelay(relay);

    expect(api.disconnect).not.toHaveBeenCalled();
    expect(api.isConnected).toBe(true);
    expect(con.removeAllListeners).toHaveBeenCalled();
    expect(con.close).toHaveBeenCalledTimes(1);
    expect(relay.responses.size).toBe(0);
    expect([...rmb.Client.connections.values()]).not.toContain(relay);
    // a ping that was waiting cannot bring it back
    relay.reconnect();
    relay.createConnection();
    expect(relay.con).toBe(con);
    await new Promise((r) => setTimeout(r, 60));
    expect(pinged).toBe(false);
    // the next client of that mnemonic gets a relay of its own, not the closed one
    expect(new rmb.Client(CHAIN, RELAY, hexSeed, 'session2', 'sr25519', 5)).not.toBe(relay);
  });

  it('closes a socket still connecting without an unhandled error event', async () => {
    const WebSocket = createRequire(req.resolve('@threefold/rmb_direct_client'))('ws') as AnyCtor;
    const relay = new rmb.Client(CHAIN, RELAY, hexSeed, 'session', 'sr25519', 5);
    const ws = new WebSocket('ws://127.0.0.1:9');
    ws.on('error', () => console.error); // what rmb_direct_client attaches
    relay.con = ws;
    closeRelay(relay);
    await new Promise((r) => setTimeout(r, 50));
    expect(ws.readyState).toBe(ws.CLOSED);
  });
});

describe('createGridClient', () => {
  it("a client's disconnect closes its relay, never the shared chain socket", async () => {
    const api = sharedChainSocket();
    stubConnect();
    const client = await createGridClient(MNEMONIC, settings);
    const con = (client.rmbClient as { con: ReturnType<typeof relaySocket> }).con;
    await client.disconnect();
    expect(con.close).toHaveBeenCalledTimes(1);
    expect(api.disconnect).not.toHaveBeenCalled();
    expect(api.isConnected).toBe(true);
    await client.disconnect(); // twice is once
    expect(con.close).toHaveBeenCalledTimes(1);
  });

  it('a relay shared by two clients of one mnemonic closes with the last of them', async () => {
    sharedChainSocket();
    stubConnect();
    const a = await createGridClient(MNEMONIC, settings);
    const b = await createGridClient(MNEMONIC, settings);
    expect(b.rmbClient).toBe(a.rmbClient); // rmb_direct_client's cache
    const con = (a.rmbClient as { con: ReturnType<typeof relaySocket> }).con;
    await a.disconnect();
    expect(con.close).not.toHaveBeenCalled();
    await b.disconnect();
    expect(con.close).toHaveBeenCalledTimes(1);
  });

  it('a relay shared with a client still connecting stays open when the older client lets go of it', async () => {
    sharedChainSocket();
    stubConnect();
    const old = await createGridClient(MNEMONIC, settings);
    const relay = old.rmbClient as { con: ReturnType<typeof relaySocket> };
    let connected!: () => void;
    stubConnect(undefined, new Promise<void>((r) => (connected = r)));
    const connecting = createGridClient(MNEMONIC, settings);
    await new Promise((r) => setImmediate(r));
    // the older client's last lease ends while the new one connects, on the same cached instance
    await old.disconnect();
    connected();
    const fresh = await connecting;
    expect(fresh.rmbClient).toBe(relay);
    expect(relay.con.close).not.toHaveBeenCalled();
    expect(Object.hasOwn(relay, 'createConnection') || Object.hasOwn(relay, 'reconnect')).toBe(false);
    expect([...rmb.Client.connections.values()]).toContain(relay);
    await fresh.disconnect();
    expect(relay.con.close).toHaveBeenCalledTimes(1);
  });

  it("through the pool: the client replacing a lost one keeps the relay when the lost one's last lease ends", async () => {
    sharedChainSocket();
    stubConnect();
    const id = { mnemonic: MNEMONIC, address: 'alice' };
    const pool = new GridClientPool<GridClientLike>({ create: (i) => createGridClient(i.mnemonic, settings), max: 4, idleMs: Infinity });
    let endLong!: () => void;
    let started!: () => void;
    const isStarted = new Promise<void>((r) => (started = r));
    // a long call (a deploy) holds the first client
    const long = pool.use(id, async (c) => {
      started();
      await new Promise<void>((r) => (endLong = r));
      return c;
    });
    await isStarted;
    let connected!: () => void;
    stubConnect(undefined, new Promise<void>((r) => (connected = r)));
    let calls = 0;
    // another call loses the connection: the pool discards the first client and opens a second
    const retried = pool.use(id, async (c) => {
      if (++calls === 1) throw new Error('disconnected from wss://tfchain.dev.grid.tf/ws: 1006:: Abnormal Closure');
      return c;
    });
    await new Promise((r) => setImmediate(r));
    endLong();
    const first = await long;
    await new Promise((r) => setImmediate(r));
    connected();
    const second = await retried;
    expect(second).not.toBe(first);
    const relay = second.rmbClient as { con: ReturnType<typeof relaySocket> };
    expect(first.rmbClient).toBe(relay);
    expect(relay.con.close).not.toHaveBeenCalled();
    expect([...rmb.Client.connections.values()]).toContain(relay);
    await pool.close();
    expect(relay.con.close).toHaveBeenCalledTimes(1);
  });

  it('a failed connect closes its own relay and never the chain socket', async () => {
    const api = sharedChainSocket();
    stubConnect(new Error('relay unreachable'));
    await expect(createGridClient(MNEMONIC, settings)).rejects.toThrow('relay unreachable');
    expect(api.disconnect).not.toHaveBeenCalled();
    expect(rmb.Client.connections.size).toBe(0);
  });

  it('a failed connect leaves alone a relay an open client of that mnemonic holds', async () => {
    sharedChainSocket();
    stubConnect();
    const open = await createGridClient(MNEMONIC, settings);
    stubConnect(new Error('graphql unreachable'));
    await expect(createGridClient(MNEMONIC, settings)).rejects.toThrow('graphql unreachable');
    const con = (open.rmbClient as { con: ReturnType<typeof relaySocket> }).con;
    expect(con.close).not.toHaveBeenCalled();
    expect([...rmb.Client.connections.values()]).toContain(open.rmbClient);
  });

  it('gives grid_client its store secret, so connect does not open a second client to migrate keys', async () => {
    sharedChainSocket();
    stubConnect();
    const client = (await createGridClient(MNEMONIC, settings)) as GridClientLike & { clientOptions: { storeSecret: string }; _mnemonic?: string };
    expect(client.clientOptions.storeSecret).toBe(hexSeed);
    // helpers/migration.js migrates only when `this._mnemonic` is set: GridClient sets it without a storeSecret
    expect(client._mnemonic).toBeUndefined();
  });
});

describe("the packages' exit-on-signal handlers", () => {
  it('are no-ops on both classes, and taken off as soon as they are added', async () => {
    guardGridPackages();
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => {
      throw new Error('process.exit called');
    }) as never);
    const api = sharedChainSocket();
    const chainClient = new QueryClient(CHAIN);
    await chainClient.disconnectAndExit();
    const relay = new rmb.Client(CHAIN, RELAY, hexSeed, 'session', 'sr25519', 5);
    relay.disconnectAndExit();
    expect(exit).not.toHaveBeenCalled();
    expect(api.disconnect).not.toHaveBeenCalled();

    // what QueryClient.connect and rmb's Client.connect register on every (re)connect
    const bound = chainClient.disconnectAndExit.bind(chainClient) as () => void;
    process.on('SIGTERM', bound);
    process.on('SIGINT', relay.disconnectAndExit as () => void);
    await Promise.resolve();
    expect(process.listeners('SIGTERM')).not.toContain(bound);
    expect(process.listeners('SIGINT')).not.toContain(relay.disconnectAndExit);
  });
});

describe('forgetContracts', () => {
  it("puts gone contracts in grid_client's own deleted lists (modules and networks)", () => {
    forgetContracts([424242, 424242]);
    const networkLight = req(req.resolve('@threefold/grid_client').replace(/index\.js$/, 'primitives/networklight.js')) as {
      ZNetworkLight: { deletedContracts: number[] };
    };
    expect(pkg.BaseModule.deletedContracts.filter((x) => x === 424242)).toHaveLength(1);
    expect(pkg.Network.deletedContracts).toContain(424242);
    expect(networkLight.ZNetworkLight.deletedContracts).toContain(424242);
  });
});

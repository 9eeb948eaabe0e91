/**
 * Gives an identity its twin on TFChain the way grid_client's `activateAccountAndCreateTwin` does
 * (GridClient.connect() throws TwinNotExistError without one): the activation service funds the new
 * account, the account accepts the terms and conditions, then creates its twin with the relay.
 *
 * Unlike grid_client it reads the chain before each step and skips what is done, so it can be
 * repeated after an interruption at any point; the chain refuses a second twin for an account
 * (TwinExists), which is taken as success by reading the twin id again. Calls for one address in
 * this process share one registration.
 */
import { createRequire } from 'node:module';
import type { Logger } from '../../log.js';
import { GridError, type Identity } from '../port.js';
import { isConnectionLoss, removeGridSignalHandlers } from './client-pool.js';
import { guardGridPackages } from './client-seam.js';
import type { TfGridSettings, TwinRegistrar } from './seams.js';

/** What the registrar reads and writes on TFChain. */
export interface TwinChain {
  /** the account's twin id, undefined when it has none */
  twinIdOf(address: string): Promise<number | undefined>;
  hasAcceptedTerms(address: string): Promise<boolean>;
  /** free balance in chain units (1 TFT = 1e7) */
  freeBalance(address: string): Promise<bigint>;
  acceptTerms(identity: Identity): Promise<void>;
  /** creates the twin, returns its id; throws (keyError 'TwinExists') when the account already has one */
  createTwin(identity: Identity, relay: string): Promise<number>;
}

export interface ChainTwinRegistrarOptions {
  chain: TwinChain;
  /** asks the activation service to fund the account */
  activate: (address: string) => Promise<void>;
  /** the relay's host name as it is stored on the twin, e.g. "relay.dev.grid.tf" */
  relay: string;
  sleep?: (ms: number) => Promise<void>;
  /** how long to wait for the activation funds (default 30 s) */
  activationWaitMs?: number;
  /** how often to look at the balance meanwhile (default 1 s) */
  pollMs?: number;
  log?: Pick<Logger, 'info' | 'warn' | 'debug'>;
}

/** The document grid_client accepts in activateAccountAndCreateTwin (its md5 is computed when accepting). */
export const TERMS_DOCUMENT =
  'https://raw.githubusercontent.com/threefoldtech/info_grid/development/labs/docs/knowledge_base/terms_conditions_all3/terms_conditions_all3.md';

const sleeper = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** "wss://relay.dev.grid.tf" → "relay.dev.grid.tf": what rmb_direct_client compares the twin's relay with. */
export function relayHost(relayUrl: string): string {
  return relayUrl.includes('://') ? new URL(relayUrl).host : relayUrl.replace(/\/+$/, '');
}

/** Whether a createTwin failure says the account already has a twin. */
export function isTwinExists(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { keyError?: unknown; message?: unknown };
  if (e.keyError === 'TwinExists' || e.keyError === 'TwinWithPubkeyExists') return true;
  return typeof e.message === 'string' && /TwinExists|TwinWithPubkeyExists|twin already exists/i.test(e.message);
}

export class ChainTwinRegistrar implements TwinRegistrar {
  private readonly inflight = new Map<string, Promise<number>>();
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: ChainTwinRegistrarOptions) {
    this.sleep = opts.sleep ?? sleeper;
  }

  ensureTwin(identity: Identity): Promise<number> {
    const running = this.inflight.get(identity.address);
    if (running) return running;
    const p = this.register(identity).finally(() => this.inflight.delete(identity.address));
    this.inflight.set(identity.address, p);
    return p;
  }

  private async register(identity: Identity): Promise<number> {
    const { chain, log } = this.opts;
    const address = identity.address;
    const existing = await this.read('read the twin', () => chain.twinIdOf(address));
    if (existing) return existing;

    log?.info({ address }, 'registering a twin');
    // activation pays the account's first fees; an account that already holds TFT needs none
    const balance = await this.read('read the balance', () => chain.freeBalance(address));
    if (balance <= 0n) await this.activate(address);
    if (!(await this.read('read the terms', () => chain.hasAcceptedTerms(address)))) {
      await this.write(identity, 'accept the terms and conditions', () => chain.acceptTerms(identity));
    }
    let id: number | undefined;
    try {
      id = await chain.createTwin(identity, this.opts.relay);
    } catch (err) {
      if (!isTwinExists(err)) throw this.failure(identity, 'create the twin', err);
      log?.info({ address }, 'the account already has a twin');
    }
    if (!id || id <= 0) id = await this.read('read the twin', () => chain.twinIdOf(address));
    if (!id) throw new GridError('no_twin', `twin creation for ${address} left no twin on the chain`);
    log?.info({ address, twinId: id }, 'twin registered');
    return id;
  }

  /** Asks the activation service for funds and waits until they are on the account. */
  private async activate(address: string): Promise<void> {
    const { chain, log } = this.opts;
    const waitMs = this.opts.activationWaitMs ?? 30_000;
    const pollMs = this.opts.pollMs ?? 1000;
    log?.info({ address }, 'activating the account');
    let refused: unknown;
    try {
      await this.opts.activate(address);
    } catch (err) {
      // the answer may be lost while the funds went out: look at the balance once before failing
      refused = err;
    }
    for (let waited = 0; ; waited += pollMs) {
      const balance = await this.read('read the balance', () => chain.freeBalance(address));
      if (balance > 0n) return;
      if (refused !== undefined) {
        throw new GridError('no_twin', `account activation for ${address} failed: ${message(refused)}`);
      }
      if (waited >= waitMs) {
        throw new GridError(
          'no_twin',
          `the activation service did not fund account ${address} within ${Math.round(waitMs / 1000)} s; try again later`,
        );
      }
      await this.sleep(pollMs);
    }
  }

  private async read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GridError) throw err;
      throw new GridError('unavailable', `TFChain unreachable: could not ${what}: ${message(err)}`);
    }
  }

  private async write(identity: Identity, what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      throw this.failure(identity, what, err);
    }
  }

  private failure(identity: Identity, what: string, err: unknown): GridError {
    if (err instanceof GridError) return err;
    const text = message(err).split(identity.mnemonic).join('<mnemonic>');
    if (isConnectionLoss(err)) return new GridError('unavailable', `TFChain unreachable: could not ${what}: ${text}`);
    return new GridError('no_twin', `could not ${what} for ${identity.address}: ${text}`);
  }
}

function message(err: unknown): string {
  const e = err as { message?: unknown; keyError?: unknown };
  const text = typeof e?.message === 'string' ? e.message : String(err);
  return typeof e?.keyError === 'string' && e.keyError !== 'GenericError' ? `${e.keyError}: ${text}` : text;
}

// ---- the real chain, on @threefold/tfchain_client and grid_client's TFClient (CJS builds, loaded on first use) ----

interface Codec {
  toPrimitive(): unknown;
}
interface ChainApi {
  query: {
    system: { account(address: string): Promise<{ data: { free: { toBigInt(): bigint } } }> };
    tfgridModule: {
      twinIdByAccountID(address: string): Promise<Codec>;
      usersTermsAndConditions(address: string): Promise<Codec>;
    };
  };
}
interface Extrinsic<T> {
  apply(): Promise<T>;
}
interface QueryClientLike {
  api: ChainApi;
  connect(): Promise<void>;
}
interface SignerClientLike extends QueryClientLike {
  termsAndConditions: { accept(o: { documentLink: string }): Promise<Extrinsic<unknown>> };
  twins: { create(o: { relay: string }): Promise<Extrinsic<{ id?: number } | Array<{ id?: number }>>> };
}
interface TfchainClientModule {
  QueryClient: new (url: string) => QueryClientLike;
}
interface GridClientModule {
  TFClient: new (url: string, mnemonic: string, storeSecret: string, keypairType: string) => SignerClientLike;
  toHexSeed(mnemonic: string): string;
}

/**
 * TwinChain on TFChain itself. tfchain_client shares one websocket per URL in the process (the
 * GridClients use it too), so this never disconnects: disconnecting would cut theirs.
 */
export class TfChainTwinChain implements TwinChain {
  private query?: Promise<QueryClientLike>;

  constructor(
    private readonly substrateUrl: string,
    private readonly termsDocument = TERMS_DOCUMENT,
  ) {}

  async twinIdOf(address: string): Promise<number | undefined> {
    const api = await this.api();
    const id = Number((await api.query.tfgridModule.twinIdByAccountID(address)).toPrimitive() ?? 0);
    return id > 0 ? id : undefined;
  }

  async hasAcceptedTerms(address: string): Promise<boolean> {
    const api = await this.api();
    const accepted = (await api.query.tfgridModule.usersTermsAndConditions(address)).toPrimitive();
    return Array.isArray(accepted) && accepted.length > 0;
  }

  async freeBalance(address: string): Promise<bigint> {
    const api = await this.api();
    return (await api.query.system.account(address)).data.free.toBigInt();
  }

  async acceptTerms(identity: Identity): Promise<void> {
    const client = await this.signer(identity);
    await (await client.termsAndConditions.accept({ documentLink: this.termsDocument })).apply();
  }

  async createTwin(identity: Identity, relay: string): Promise<number> {
    const client = await this.signer(identity);
    const ret = await (await client.twins.create({ relay })).apply();
    const twin = Array.isArray(ret) ? ret[0] : ret;
    return Number(twin?.id ?? 0);
  }

  private async api(): Promise<ChainApi> {
    this.query ??= (async () => {
      const { QueryClient } = load<TfchainClientModule>('@threefold/tfchain_client');
      const client = new QueryClient(this.substrateUrl);
      await client.connect();
      removeGridSignalHandlers();
      return client;
    })();
    try {
      const client = await this.query;
      await client.connect(); // reconnects when the shared connection was dropped
      removeGridSignalHandlers(); // a reconnect registers them again (no-ops, see guardGridPackages)
      return client.api;
    } catch (err) {
      this.query = undefined;
      throw err;
    }
  }

  private async signer(identity: Identity): Promise<SignerClientLike> {
    const { TFClient, toHexSeed } = load<GridClientModule>('@threefold/grid_client');
    // TFClient (not tfchain_client's Client) because it hashes the terms document and adds the
    // twin's rmb public key, as grid_client does
    const client = new TFClient(this.substrateUrl, identity.mnemonic, toHexSeed(identity.mnemonic), 'sr25519');
    await client.connect();
    removeGridSignalHandlers();
    return client;
  }
}

function load<T>(name: string): T {
  // the CJS build brings @polkadot's CJS copy next to the ESM one src/chain uses: expected here,
  // and each copy readies its own wasm, so silence polkadot's "multiple versions" warning
  process.env.POLKADOTJS_DISABLE_ESM_CJS_WARNING ??= '1';
  // before any client connects: no exit-on-signal handler, no package closing the shared socket
  guardGridPackages();
  return createRequire(import.meta.url)(name) as T;
}

/** POSTs the account to grid_client's activation service, which funds it with enough TFT for the first fees. */
export function httpActivate(activationUrl: string, timeoutMs = 15_000): (address: string) => Promise<void> {
  return async (address) => {
    const res = await fetch(activationUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ substrateAccountID: address }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      const body = (await res.text().catch(() => '')).slice(0, 200);
      throw new Error(`the activation service answered ${res.status}${body ? `: ${body}` : ''}`);
    }
  };
}

export function createTwinRegistrar(
  settings: TfGridSettings,
  opts: { log?: ChainTwinRegistrarOptions['log'] } = {},
): ChainTwinRegistrar {
  return new ChainTwinRegistrar({
    chain: new TfChainTwinChain(settings.urls.substrate),
    activate: httpActivate(settings.urls.activation),
    relay: relayHost(settings.urls.relay),
    log: opts.log,
  });
}

import { describe, expect, it } from '@jest/globals';
import { GridError, type Identity } from '../../../../src/grid/port.js';
import { defaultUrls } from '../../../../src/grid/tfgrid/seams.js';
import {
  ChainTwinRegistrar,
  createTwinRegistrar,
  isTwinExists,
  relayHost,
  type TwinChain,
} from '../../../../src/grid/tfgrid/twin-registrar.js';

const MNEMONIC = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk';
const alice: Identity = { mnemonic: MNEMONIC, address: '5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV' };
const RELAY = 'relay.dev.grid.tf';

/** TFChain as the registrar sees it: accounts with balance, terms and twins; extrinsics cost a fee. */
class FakeChain implements TwinChain {
  balances = new Map<string, bigint>();
  terms = new Map<string, number>();
  twins = new Map<string, { id: number; relay: string }>();
  nextTwin = 41;
  calls: string[] = [];
  /** throw once from these steps, after (true) or before (false) the chain applied them */
  failOnce: Partial<Record<'acceptTerms' | 'createTwin' | 'twinIdOf', { err: unknown; applied: boolean }>> = {};
  /** the chain cannot be reached at all */
  down = false;

  private step(name: keyof FakeChain['failOnce'], apply: () => void): void {
    const f = this.failOnce[name];
    if (f) delete this.failOnce[name];
    if (f && !f.applied) throw f.err;
    apply();
    if (f) throw f.err;
  }
  private fee(address: string): void {
    const b = this.balances.get(address) ?? 0n;
    if (b <= 0n) throw new Error('Inability to pay some fees (e.g. account balance too low)');
    this.balances.set(address, b - 1n);
  }

  async twinIdOf(address: string) {
    this.calls.push('twinIdOf');
    if (this.down) throw new Error('Unable to establish a connection with the chain wss://tfchain.dev.grid.tf/ws');
    let id: number | undefined;
    this.step('twinIdOf', () => (id = this.twins.get(address)?.id));
    return id;
  }
  async hasAcceptedTerms(address: string) {
    this.calls.push('hasAcceptedTerms');
    return (this.terms.get(address) ?? 0) > 0;
  }
  async freeBalance(address: string) {
    this.calls.push('freeBalance');
    return this.balances.get(address) ?? 0n;
  }
  async acceptTerms(id: Identity) {
    this.calls.push('acceptTerms');
    this.step('acceptTerms', () => {
      this.fee(id.address);
      this.terms.set(id.address, (this.terms.get(id.address) ?? 0) + 1);
    });
  }
  async createTwin(id: Identity, relay: string) {
    this.calls.push('createTwin');
    let twinId = 0;
    this.step('createTwin', () => {
      if (!this.terms.get(id.address)) throw Object.assign(new Error('Module Error'), { keyError: 'UserDidNotSignTermsAndConditions' });
      if (this.twins.has(id.address)) {
        throw Object.assign(new Error("Module Error: Failed to apply 'createTwin' on section 'tfgridModule'"), { keyError: 'TwinExists' });
      }
      this.fee(id.address);
      twinId = this.nextTwin++;
      this.twins.set(id.address, { id: twinId, relay });
    });
    return twinId;
  }
}

function setup(opts: { fund?: boolean; activate?: (address: string) => Promise<void> } = {}) {
  const chain = new FakeChain();
  const activations: string[] = [];
  const sleeps: number[] = [];
  const activate =
    opts.activate ??
    (async (address: string) => {
      activations.push(address);
      if (opts.fund !== false) chain.balances.set(address, 10_000_000n);
    });
  const registrar = new ChainTwinRegistrar({
    chain,
    activate: async (a) => {
      if (opts.activate) activations.push(a);
      await activate(a);
    },
    relay: RELAY,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { chain, activations, sleeps, registrar };
}

describe('ChainTwinRegistrar', () => {
  it('activates a fresh account, accepts the terms and creates the twin with the relay', async () => {
    const { chain, activations, registrar } = setup();
    expect(await registrar.ensureTwin(alice)).toBe(41);
    expect(activations).toEqual([alice.address]);
    expect(chain.terms.get(alice.address)).toBe(1);
    expect(chain.twins.get(alice.address)).toEqual({ id: 41, relay: RELAY });
    expect(chain.calls).toEqual(['twinIdOf', 'freeBalance', 'freeBalance', 'hasAcceptedTerms', 'acceptTerms', 'createTwin']);
  });

  it('only reads when the account already has a twin', async () => {
    const { chain, activations, registrar } = setup();
    chain.twins.set(alice.address, { id: 7, relay: RELAY });
    expect(await registrar.ensureTwin(alice)).toBe(7);
    expect(chain.calls).toEqual(['twinIdOf']);
    expect(activations).toEqual([]);
  });

  it('skips activation for an account that already holds TFT', async () => {
    const { chain, activations, registrar } = setup();
    chain.balances.set(alice.address, 5n);
    expect(await registrar.ensureTwin(alice)).toBe(41);
    expect(activations).toEqual([]);
  });

  it('resumes after an interruption following the terms: terms once, one twin', async () => {
    const { chain, activations, registrar } = setup();
    chain.failOnce.createTwin = { err: new Error('WebSocket is not open: readyState 3 (CLOSED)'), applied: false };
    await expect(registrar.ensureTwin(alice)).rejects.toMatchObject({ code: 'unavailable' });
    expect(chain.terms.get(alice.address)).toBe(1);
    expect(chain.twins.size).toBe(0);

    chain.calls = [];
    expect(await registrar.ensureTwin(alice)).toBe(41);
    expect(chain.terms.get(alice.address)).toBe(1);
    expect(chain.twins.size).toBe(1);
    expect(activations).toHaveLength(1);
    expect(chain.calls).not.toContain('acceptTerms');
  });

  it('resumes when the twin was created but the answer was lost', async () => {
    const { chain, registrar } = setup();
    chain.failOnce.createTwin = { err: new Error('disconnected from wss://tfchain.dev.grid.tf/ws: 1006:: Abnormal Closure'), applied: true };
    await expect(registrar.ensureTwin(alice)).rejects.toBeInstanceOf(GridError);
    chain.calls = [];
    expect(await registrar.ensureTwin(alice)).toBe(41);
    expect(chain.calls).toEqual(['twinIdOf']);
    expect(chain.twins.size).toBe(1);
    expect(chain.nextTwin).toBe(42);
  });

  it('takes "twin already exists" on create as success and returns the existing id', async () => {
    const { chain, registrar } = setup();
    // another process registered the twin between our read and our create
    const realCreate = chain.createTwin.bind(chain);
    chain.createTwin = async (id, relay) => {
      chain.twins.set(id.address, { id: 99, relay });
      return realCreate(id, relay);
    };
    expect(await registrar.ensureTwin(alice)).toBe(99);
    expect(chain.twins.get(alice.address)?.id).toBe(99);
    expect(chain.nextTwin).toBe(41);
  });

  it('shares one registration between concurrent calls for one identity', async () => {
    const { chain, activations, registrar } = setup();
    const ids = await Promise.all([registrar.ensureTwin(alice), registrar.ensureTwin(alice), registrar.ensureTwin(alice)]);
    expect(ids).toEqual([41, 41, 41]);
    expect(chain.twins.size).toBe(1);
    expect(chain.terms.get(alice.address)).toBe(1);
    expect(activations).toHaveLength(1);
    expect(chain.calls.filter((c) => c === 'createTwin')).toHaveLength(1);
    // and registers again (reads) after it settled
    chain.calls = [];
    expect(await registrar.ensureTwin(alice)).toBe(41);
    expect(chain.calls).toEqual(['twinIdOf']);
  });

  it('fails clearly, without a twin, when activation never funds the account', async () => {
    const { chain, sleeps, registrar } = setup({ fund: false });
    const err = (await registrar.ensureTwin(alice).catch((e: unknown) => e)) as GridError;
    expect(err).toBeInstanceOf(GridError);
    expect(err.code).toBe('no_twin');
    expect(err.message).toMatch(/activation service did not fund account .* within 30 s/);
    expect(err.message).not.toContain(MNEMONIC);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(30_000); // bounded wait
    expect(chain.calls).not.toContain('acceptTerms');
    expect(chain.calls).not.toContain('createTwin');
  });

  it('waits for funds that arrive late', async () => {
    const chain0 = new FakeChain();
    let polls = 0;
    const realBalance = chain0.freeBalance.bind(chain0);
    chain0.freeBalance = async (a) => {
      if (++polls === 5) chain0.balances.set(a, 10n);
      return realBalance(a);
    };
    const registrar = new ChainTwinRegistrar({ chain: chain0, activate: async () => undefined, relay: RELAY, sleep: async () => undefined });
    expect(await registrar.ensureTwin(alice)).toBe(41);
  });

  it('reports a refused activation as no_twin', async () => {
    const { registrar } = setup({
      activate: async () => {
        throw new Error('the activation service answered 500: boom');
      },
    });
    await expect(registrar.ensureTwin(alice)).rejects.toMatchObject({ code: 'no_twin', message: expect.stringContaining('answered 500') });
  });

  it('reports an unreachable chain as unavailable', async () => {
    const { chain, registrar } = setup();
    chain.down = true;
    await expect(registrar.ensureTwin(alice)).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('reports a refused twin creation as no_twin without the mnemonic', async () => {
    const { chain, registrar } = setup();
    chain.createTwin = async () => {
      throw Object.assign(new Error(`bad origin for ${MNEMONIC}`), { keyError: 'BadOrigin' });
    };
    const err = (await registrar.ensureTwin(alice).catch((e: unknown) => e)) as GridError;
    expect(err.code).toBe('no_twin');
    expect(err.message).toContain('BadOrigin');
    expect(err.message).not.toContain(MNEMONIC);
  });
});

describe('helpers', () => {
  it('passes the relay as a host name, as rmb_direct_client compares it', () => {
    expect(relayHost(defaultUrls('dev').relay)).toBe('relay.dev.grid.tf');
    expect(relayHost(defaultUrls('main').relay)).toBe('relay.grid.tf');
    expect(relayHost('wss://relay.example.org:8443/')).toBe('relay.example.org:8443');
    expect(relayHost('relay.qa.grid.tf')).toBe('relay.qa.grid.tf');
  });

  it('recognises the chain refusing a second twin', () => {
    expect(isTwinExists(Object.assign(new Error('Module Error'), { keyError: 'TwinExists' }))).toBe(true);
    expect(isTwinExists(new Error('x'))).toBe(false);
  });

  it('builds the real registrar without touching the network', () => {
    const r = createTwinRegistrar({
      network: 'dev',
      urls: defaultUrls('dev'),
      deploymentTimeoutMinutes: 10,
      poolSize: 4,
      poolIdleMs: 60_000,
      bridgeAddress: 'G...',
    });
    expect(r).toBeInstanceOf(ChainTwinRegistrar);
  });
});

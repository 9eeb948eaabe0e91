import { afterEach, describe, expect, it } from '@jest/globals';
import { GridClientPool, isConnectionLoss } from '../../../../src/grid/tfgrid/client-pool.js';
import { GridError, type Identity } from '../../../../src/grid/port.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}
function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (no timers involved). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

class FakeClient {
  disconnected = false;
  constructor(
    readonly address: string,
    readonly serial: number,
    private readonly onDisconnect: (c: FakeClient) => void,
  ) {}
  async disconnect(): Promise<void> {
    this.disconnected = true;
    this.onDisconnect(this);
  }
}

function factory() {
  const created: FakeClient[] = [];
  const disconnected: FakeClient[] = [];
  /** when set, the next creations wait for these (in order) */
  const gates: Array<Deferred<void>> = [];
  /** when set, the next creation fails with it */
  let failNext: unknown;
  const create = async (id: Identity): Promise<FakeClient> => {
    const gate = gates.shift();
    if (gate) await gate.promise;
    if (failNext !== undefined) {
      const err = failNext;
      failNext = undefined;
      throw err;
    }
    const c = new FakeClient(id.address, created.length + 1, (x) => disconnected.push(x));
    created.push(c);
    return c;
  };
  return {
    create,
    created,
    disconnected,
    gates,
    failOnce(err: unknown) {
      failNext = err;
    },
    open: () => created.filter((c) => !c.disconnected),
  };
}

const who = (name: string): Identity => ({ address: `${name}-address`, mnemonic: `${name} words` });
const alice = who('alice');
const bob = who('bob');
const carol = who('carol');

let pools: Array<GridClientPool<FakeClient>> = [];
function makePool(f: ReturnType<typeof factory>, opts: { max?: number; idleMs?: number; now?: () => number } = {}) {
  const pool = new GridClientPool<FakeClient>({
    create: f.create,
    max: opts.max ?? 10,
    idleMs: opts.idleMs ?? 60_000,
    now: opts.now,
  });
  pools.push(pool);
  return pool;
}
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()));
  pools = [];
});

describe('GridClientPool', () => {
  it('creates one client per identity and reuses it', async () => {
    const f = factory();
    const pool = makePool(f);
    const a1 = await pool.use(alice, async (c) => c);
    const a2 = await pool.use(alice, async (c) => c);
    const b = await pool.use(bob, async (c) => c);
    expect(a1).toBe(a2);
    expect(b).not.toBe(a1);
    expect(b.address).toBe(bob.address);
    expect(f.created).toHaveLength(2);
    expect(pool.size).toBe(2);
  });

  it('shares one creation between concurrent uses of the same identity', async () => {
    const f = factory();
    const gate = deferred();
    f.gates.push(gate);
    const pool = makePool(f);
    const seen: FakeClient[] = [];
    const uses = [1, 2, 3].map((n) => pool.use(alice, async (c) => (seen.push(c), n)));
    await flush();
    expect(f.created).toHaveLength(0);
    gate.resolve();
    expect(await Promise.all(uses)).toEqual([1, 2, 3]);
    expect(f.created).toHaveLength(1);
    expect(new Set(seen).size).toBe(1);
    expect(pool.size).toBe(1);
  });

  it('disconnects idle clients on sweep, never a leased one', async () => {
    const f = factory();
    let t = 1_000_000;
    const pool = makePool(f, { idleMs: 10_000, now: () => t });
    await pool.use(alice, async () => undefined);
    const held = deferred();
    const bobUse = pool.use(bob, () => held.promise);
    await flush();
    expect(pool.size).toBe(2);

    t += 9_999;
    expect(await pool.sweep()).toBe(0);
    t += 1;
    expect(await pool.sweep()).toBe(1); // alice's, unused for idleMs
    expect(f.disconnected.map((c) => c.address)).toEqual([alice.address]);

    t += 1_000_000;
    expect(await pool.sweep()).toBe(0); // bob's is leased however long it runs
    expect(f.disconnected).toHaveLength(1);
    held.resolve();
    await bobUse;
    expect(await pool.sweep()).toBe(0); // just released: idle since now
    t += 10_000;
    expect(await pool.sweep()).toBe(1);
    expect(pool.size).toBe(0);

    await pool.use(alice, async () => undefined); // a new client after the sweep
    expect(f.created).toHaveLength(3);
  });

  it('evicts the least recently used idle client when full', async () => {
    const f = factory();
    let t = 0;
    const pool = makePool(f, { max: 2, now: () => t });
    await pool.use(alice, async () => undefined);
    t = 10;
    await pool.use(bob, async () => undefined);
    t = 20;
    await pool.use(alice, async () => undefined); // alice is now the most recent
    t = 30;
    await pool.use(carol, async () => undefined);
    expect(f.disconnected.map((c) => c.address)).toEqual([bob.address]);
    expect(f.open().map((c) => c.address).sort()).toEqual([alice.address, carol.address]);
    expect(pool.size).toBe(2);
  });

  it('waits, first come first served, when every client is leased', async () => {
    const f = factory();
    const pool = makePool(f, { max: 2 });
    const holdA = deferred();
    const holdB = deferred();
    const useA = pool.use(alice, () => holdA.promise);
    const useB = pool.use(bob, () => holdB.promise);
    await flush();

    const order: string[] = [];
    const useC = pool.use(carol, async (c) => (order.push('carol'), c));
    const useD = pool.use(who('dave'), async (c) => (order.push('dave'), c));
    // the same identity as an open client does not wait
    const again = await pool.use(alice, async (c) => c);
    expect(again.address).toBe(alice.address);
    await flush();
    expect(order).toEqual([]);
    expect(f.created).toHaveLength(2);
    expect(pool.size).toBe(2);

    holdA.resolve();
    await useA;
    await useC; // alice's client was idle: carol took its slot; dave still waited (bob's and carol's leased)
    await useD; // carol released → dave evicts it
    expect(order).toEqual(['carol', 'dave']);
    expect(f.created.map((c) => c.address)).toEqual([alice.address, bob.address, carol.address, 'dave-address']);
    expect(f.open().map((c) => c.address).sort()).toEqual([bob.address, 'dave-address']);
    expect(pool.size).toBe(2);
    holdB.resolve();
    await useB;
  });

  it('never has more than max clients open, counting those being created', async () => {
    const f = factory();
    const pool = makePool(f, { max: 1 });
    const gate = deferred();
    f.gates.push(gate);
    const useA = pool.use(alice, async () => 'a');
    const useB = pool.use(bob, async () => 'b');
    await flush();
    expect(pool.size).toBe(1);
    gate.resolve();
    expect(await Promise.all([useA, useB])).toEqual(['a', 'b']);
    expect(f.created).toHaveLength(2);
    expect(f.disconnected.map((c) => c.address)).toEqual([alice.address]);
    expect(pool.size).toBe(1);
  });

  it('reconnects once when the connection is lost under a call', async () => {
    const f = factory();
    const pool = makePool(f);
    const clients: FakeClient[] = [];
    const result = await pool.use(alice, async (c) => {
      clients.push(c);
      if (clients.length === 1) throw new Error('WebSocket is not open: readyState 3 (CLOSED)');
      return 'done';
    });
    expect(result).toBe('done');
    expect(clients).toHaveLength(2);
    expect(clients[0]).not.toBe(clients[1]);
    expect(clients[0]!.disconnected).toBe(true);
    expect(clients[1]!.disconnected).toBe(false);
    expect(pool.size).toBe(1);
    expect(await pool.use(alice, async (c) => c)).toBe(clients[1]);
  });

  it('propagates a second connection loss, and does not retry other errors', async () => {
    const f = factory();
    const pool = makePool(f);
    let calls = 0;
    const lost = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    await expect(
      pool.use(alice, async () => {
        calls++;
        throw lost;
      }),
    ).rejects.toBe(lost);
    expect(calls).toBe(2);
    expect(f.created).toHaveLength(2);
    expect(f.disconnected).toHaveLength(2);
    await flush();
    expect(pool.size).toBe(0);

    calls = 0;
    const other = new GridError('no_capacity', 'no node');
    await expect(
      pool.use(alice, async () => {
        calls++;
        throw other;
      }),
    ).rejects.toBe(other);
    expect(calls).toBe(1);
    expect(pool.size).toBe(1); // the client stays
  });

  it('keeps a lost client open while another caller still holds it', async () => {
    const f = factory();
    const pool = makePool(f);
    const hold = deferred();
    const first = pool.use(alice, async (c) => {
      await hold.promise;
      return c.disconnected;
    });
    await flush();
    let n = 0;
    await pool.use(alice, async () => {
      if (n++ === 0) throw new Error('disconnected from wss://tfchain.dev.grid.tf/ws: 1006:: Abnormal Closure');
    });
    expect(f.created).toHaveLength(2);
    expect(f.created[0]!.disconnected).toBe(false); // still leased by `first`
    hold.resolve();
    expect(await first).toBe(false);
    await flush();
    expect(f.created[0]!.disconnected).toBe(true);
    expect(pool.size).toBe(1);
  });

  it('does not cache a failed creation', async () => {
    const f = factory();
    const pool = makePool(f, { max: 1 });
    f.failOnce(new Error('relay down'));
    await expect(pool.use(alice, async () => 1)).rejects.toThrow('relay down');
    expect(pool.size).toBe(0);
    expect(await pool.use(alice, async () => 2)).toBe(2);
    expect(f.created).toHaveLength(1);
  });

  it('fails every sharer of a failed creation, then retries', async () => {
    const f = factory();
    const pool = makePool(f);
    const gate = deferred();
    f.gates.push(gate);
    f.failOnce(new Error('chain down'));
    const u1 = pool.use(alice, async () => 1);
    const u2 = pool.use(alice, async () => 2);
    gate.resolve();
    await expect(u1).rejects.toThrow('chain down');
    await expect(u2).rejects.toThrow('chain down');
    expect(await pool.use(alice, async () => 3)).toBe(3);
  });

  it('close disconnects everything and refuses new uses', async () => {
    const f = factory();
    const pool = makePool(f, { max: 1 });
    await pool.use(alice, async () => undefined);
    const waiting = pool.use(bob, async () => undefined); // alice's is idle: evicted, no wait
    await waiting;
    const hold = deferred();
    const held = pool.use(bob, () => hold.promise);
    const queued = pool.use(carol, async () => undefined);
    await flush();
    await pool.close();
    expect(f.open()).toHaveLength(0);
    expect(pool.size).toBe(0);
    await expect(queued).rejects.toMatchObject({ code: 'unavailable' });
    await expect(pool.use(alice, async () => undefined)).rejects.toMatchObject({ code: 'unavailable' });
    hold.resolve();
    await held;
  });

  it('disconnects a client whose creation finishes after close', async () => {
    const f = factory();
    const pool = makePool(f);
    const gate = deferred();
    f.gates.push(gate);
    const use = pool.use(alice, async () => undefined);
    await flush();
    await pool.close();
    gate.resolve();
    await expect(use).rejects.toMatchObject({ code: 'unavailable' });
    expect(f.created).toHaveLength(1);
    expect(f.created[0]!.disconnected).toBe(true);
  });

  it('ignores errors from disconnect', async () => {
    let t = 0;
    const pool = new GridClientPool({
      create: async () => ({
        disconnect: async () => {
          throw new Error('already closed');
        },
      }),
      max: 1,
      idleMs: 10,
      now: () => t,
    });
    pools.push(pool as unknown as GridClientPool<FakeClient>);
    await pool.use(alice, async () => undefined);
    t = 100;
    expect(await pool.sweep()).toBe(1);
    expect(pool.size).toBe(0);
  });
});

describe('isConnectionLoss', () => {
  class ConnectionError extends Error {}
  it.each([
    ['grid_client ConnectionError', new ConnectionError('Failed to open connection after try for 5 times.')],
    ['polkadot disconnect', new Error('disconnected from wss://tfchain.grid.tf/ws: 1006:: Abnormal Closure')],
    ['ws not open', new Error('WebSocket is not open: readyState 3 (CLOSED)')],
    ['socket reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['tfchain reconnect failure', new Error('Unable to establish a connection with the chain wss://tfchain.grid.tf/ws \n')],
    ['wrapped', new Error('deploy failed', { cause: new Error('WebSocket is not open') })],
  ])('recognises %s', (_name, err) => {
    expect(isConnectionLoss(err)).toBe(true);
  });

  it.each([
    ['a grid error', new GridError('unavailable', 'disconnected')],
    ['a validation error', new Error('Invalid mnemonic')],
    ['a chain module error', new Error("Module Error: Failed to apply 'createTwin'")],
    ['not an error', 'disconnected'],
  ])('does not count %s', (_name, err) => {
    expect(isConnectionLoss(err)).toBe(false);
  });
});

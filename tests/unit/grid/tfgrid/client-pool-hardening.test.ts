/** GridClientPool: no secret in its logs, and a pool whose clients are never idle-closed (the operator's). */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { GridClientPool } from '../../../../src/grid/tfgrid/client-pool.js';

const MNEMONIC = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk';
const alice = { address: 'alice-address', mnemonic: MNEMONIC };

const pools: Array<GridClientPool<{ disconnect(): Promise<void> }>> = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  jest.useRealTimers();
});

describe('GridClientPool hardening', () => {
  it('logs a lost connection and a failed disconnect without the mnemonic or a seed', async () => {
    const warn = jest.fn();
    const debug = jest.fn();
    const pool = new GridClientPool({
      create: async () => ({
        disconnect: async () => {
          throw new Error(`relay close failed for 0x${'ab'.repeat(32)}`);
        },
      }),
      max: 2,
      idleMs: 60_000,
      log: { warn, debug },
    });
    pools.push(pool);
    let calls = 0;
    await pool.use(alice, async () => {
      if (calls++ === 0) throw new Error(`WebSocket is not open: signer ${MNEMONIC}`);
    });
    await new Promise((r) => setTimeout(r, 0));
    const logged = JSON.stringify([...warn.mock.calls, ...debug.mock.calls]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(logged).toContain('WebSocket is not open');
    expect(logged).toContain('relay close failed');
    expect(logged).not.toContain(MNEMONIC);
    expect(logged).not.toContain('ab'.repeat(32));
  });

  it('with idleMs Infinity, never closes a client for idleness and runs no sweep timer', async () => {
    jest.useFakeTimers();
    let t = 0;
    const closed: string[] = [];
    const pool = new GridClientPool({
      create: async (id) => ({ disconnect: async () => void closed.push(id.address) }),
      max: 1,
      idleMs: Infinity,
      now: () => t,
    });
    pools.push(pool);
    expect(jest.getTimerCount()).toBe(0);
    await pool.use(alice, async () => undefined);
    t += 365 * 24 * 3600_000;
    expect(await pool.sweep()).toBe(0);
    expect(closed).toEqual([]);
    expect(pool.size).toBe(1);
  });
});

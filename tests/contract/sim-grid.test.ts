/** The Grid and Chain port contract against the simulated grid (what CI runs). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createIdentity } from '../../src/chain/identity.js';
import { ManualClock } from '../../src/clock.js';
import { UNITS_PER_TFT } from '../../src/domain/money.js';
import { SimGrid } from '../../src/grid/sim/index.js';
import { gridPortContract } from './grid-port.js';

gridPortContract(
  'SimGrid',
  async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'grid-contract-'));
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    // deployMs > 0 so deploys really wait (on a real timer); the manual clock moves only in the billing test
    const sim = await SimGrid.open({ dataDir: dir, seed: 42, clock, deployMs: 5 });
    const funded = await createIdentity();
    await sim.fund(funded.address, 10_000 * UNITS_PER_TFT);
    return {
      grid: sim,
      chain: sim,
      faucet: sim,
      funded,
      advance: async (ms: number) => clock.advance(ms),
      teardown: async () => {
        await sim.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { faucet: true, clock: true, transferAmount: 5 * UNITS_PER_TFT },
);

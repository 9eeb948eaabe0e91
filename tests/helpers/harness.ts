/**
 * The real bot, end to end: telegraf polling the in-repo Bot API emulator over HTTP, the simulated
 * grid, a fresh data directory. `restart()` stops the app and builds a new one on the same data,
 * as a process restart would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import type { Chain } from '../../src/grid/port.js';
import { SimGrid } from '../../src/grid/sim/index.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { HealthOptions, Metrics } from '../../src/metrics/index.js';
import { BotApiEmulator } from '../../src/telegram/emulator/index.js';

export const TEST_KEY = Buffer.alloc(32, 7);

export interface HarnessOptions {
  dataDir?: string;
  deployMs?: number;
  clock?: Clock;
  paymentTimeoutMs?: number;
  log?: Logger;
  emu?: BotApiEmulator;
  recovery?: { maxTries: number; backoffMs: number };
  /** the Stellar bridge the payment prompts offer; none by default, as on the simulated grid */
  bridgeAddress?: string;
  /** the chain the product sees, built over the simulated grid's (e.g. one with transfer fees); the sim's own by default */
  chain?: (grid: SimGrid) => Chain;
  /** the metrics the app reports into (kept across restarts) */
  metrics?: Metrics;
  /** /healthz's bounds (e.g. no cache of the grid's answer) */
  health?: Pick<HealthOptions, 'pollStaleMs' | 'gridCacheMs' | 'timeoutMs'>;
  /** incoming updates per user; generous by default, so only tests of the limit meet it */
  rateLimit?: { perMinute: number; burst: number };
  /** Telegram user ids that get /admin */
  adminIds?: number[];
}

export interface Harness {
  emu: BotApiEmulator;
  grid: SimGrid;
  app: App;
  dataDir: string;
  restart(): Promise<void>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'jukebox-e2e-')));
  const emu = opts.emu ?? (await BotApiEmulator.start());
  const build = async () => {
    const grid = await SimGrid.open({ dataDir, seed: 7, deployMs: opts.deployMs ?? 30, ...(opts.clock ? { clock: opts.clock } : {}) });
    const app = await createApp({
      dataDir,
      log: opts.log ?? silentLogger,
      grid,
      chain: opts.chain ? opts.chain(grid) : grid,
      faucet: grid,
      prober: grid,
      masterKey: TEST_KEY,
      telegram: { token: emu.token, apiRoot: emu.apiRoot },
      ...(opts.clock ? { clock: opts.clock } : {}),
      paymentTimeoutMs: opts.paymentTimeoutMs ?? 30 * 60_000,
      depositPollMs: 25,
      readyPollMs: 10,
      // conversations in tests run far faster than a person types; the pacing itself is tested in outbox.test.ts
      outboxLimits: { perChatPerSecond: 1000, perChatBurst: 1000, perSecond: 1000 },
      // tests run the watchdog's passes themselves, at the moments they choose
      watchdog: 'manual',
      recovery: opts.recovery ?? { maxTries: 3, backoffMs: 10 * 60_000 },
      ...(opts.bridgeAddress ? { bridgeAddress: opts.bridgeAddress } : {}),
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      ...(opts.health ? { health: opts.health } : {}),
      rateLimit: opts.rateLimit ?? { perMinute: 1_000_000, burst: 100_000 },
      ...(opts.adminIds ? { adminIds: opts.adminIds } : {}),
    });
    await app.start();
    return { grid, app };
  };
  let { grid, app } = await build();
  let stopped = false;
  const h: Harness = {
    emu,
    get grid() {
      return grid;
    },
    get app() {
      return app;
    },
    dataDir,
    async restart() {
      await app.stop();
      await grid.close();
      ({ grid, app } = await build());
    },
    async stop({ keepData = false } = {}) {
      if (stopped) return;
      stopped = true;
      await app.stop();
      await grid.close();
      if (!opts.emu) await emu.stop();
      if (!keepData && !opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}

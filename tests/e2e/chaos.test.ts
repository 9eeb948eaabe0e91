/**
 * Chaos, reduced for CI: the real bot as a child process, a few seeded users deploying, extending
 * and deleting, the process killed with SIGKILL every few seconds and the simulated grid failing a
 * tenth of its calls. After the bot settles, the store and the grid agree: no orphaned contract,
 * no lost deployment, every deposit credited exactly once. `npm run chaos` is the full run.
 */
import { describe, expect, it } from '@jest/globals';
import { runChaos, summary } from '../../scripts/chaos-run.js';

describe('chaos: SIGKILLs and grid faults while users deploy, extend and delete', () => {
  it('leaves the store and the simulated grid in agreement', async () => {
    const lines: string[] = [];
    const report = await runChaos({
      users: 3,
      durationMs: 20_000,
      seed: 6,
      killMinMs: 4_000,
      killMaxMs: 7_000,
      faultRate: 0.1,
      deployMs: 500,
      settleMs: 40_000,
      log: (l) => lines.push(l),
    });
    expect(report.violations).toEqual([]);
    expect(report.kills).toBeGreaterThanOrEqual(2);
    expect(report.actions.deploy ?? 0).toBeGreaterThan(0);
    expect(report.checks).toBeGreaterThan(0);
    if (process.env.CHAOS_VERBOSE) process.stdout.write(`${summary(report)}\n`);
  }, 110_000);
});

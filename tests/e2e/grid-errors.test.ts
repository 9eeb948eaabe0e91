/**
 * When the grid fails a deployment, through the real bot: the user reads why in plain words and that
 * nothing was charged, and the order's job journal records every contract the grid rolled back.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { GridError, type GridErrorCode } from '../../src/grid/port.js';
import { plainReason } from '../../src/jobs/grid-failure.js';
import { confirmOrder, fillOrder } from '../helpers/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

interface Entry {
  step: string;
  phase: string;
  data?: { nodeId?: number; code?: string; rolledBack?: number[]; message?: string };
}

async function finishedJournals(dataDir: string): Promise<Entry[][]> {
  const dir = path.join(dataDir, 'jobs', 'done');
  const files = await readdir(dir);
  return Promise.all(files.map(async (f) => (JSON.parse(await readFile(path.join(dir, f), 'utf8')) as { journal: Entry[] }).journal));
}

describe('a deployment the grid keeps failing', () => {
  it('tells the user why in plain words, and the journal records what each failed try rolled back', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 901 });
    await fillOrder(u, { name: 'unlucky' });
    await confirmOrder(u);
    h.grid.failNextDeploy('flist download failed: 404', 3);
    await u.press(/Simulate payment/);
    const told = await u.waitForText('could not be deployed', { timeoutMs: 15_000 });
    expect(told.text).toContain('the node could not start the machine');
    expect(told.text).toContain('nothing was charged');
    expect(told.text).not.toContain('flist download failed'); // the grid's own words stay in the logs and the journal
    await h.app.worker.idle();

    const address = (await h.app.store.get(901))!.identity.address;
    const contracts = await h.grid.contractsOf(address);
    expect(contracts.length).toBeGreaterThanOrEqual(3);
    expect(contracts.every((c) => c.state === 'deleted')).toBe(true);

    const [journal] = await finishedJournals(h.dataDir);
    const failures = journal!.filter((e) => e.step === 'node:1:failed');
    expect(failures).toHaveLength(3);
    for (const f of failures) {
      expect(f.data).toMatchObject({ code: 'workload_error', message: expect.stringContaining('flist download failed') });
      expect(f.data!.rolledBack!.length).toBeGreaterThan(0);
    }
    // every contract the grid made for this order appears as rolled back, on three different nodes
    expect(failures.flatMap((f) => f.data!.rolledBack!).sort()).toEqual(contracts.map((c) => c.contractId).sort());
    expect(new Set(failures.map((f) => f.data!.nodeId)).size).toBe(3);
  });
});

describe('plain words for every grid failure', () => {
  const codes: GridErrorCode[] = ['no_twin', 'insufficient_funds', 'no_capacity', 'node_down', 'no_public_ip', 'name_taken', 'timeout', 'workload_error', 'not_verified', 'not_found', 'invalid', 'unavailable'];
  it.each(codes)('%s reads as a sentence without the grid’s jargon', (code) => {
    const words = plainReason(new GridError(code, 'RMB error: twin 4242 contract 17 TimeoutError'));
    expect(words).toMatch(/^[a-z]/);
    expect(words).not.toMatch(/RMB|twin 4242|contract 17|TimeoutError|_/);
  });

  it('each of the failures a user can act on has its own words', () => {
    const actionable: GridErrorCode[] = ['insufficient_funds', 'no_capacity', 'node_down', 'no_public_ip', 'name_taken', 'timeout', 'workload_error', 'no_twin', 'not_verified', 'unavailable'];
    const words = actionable.map((c) => plainReason(new GridError(c, 'x')));
    expect(new Set(words).size).toBe(actionable.length);
    expect(plainReason(new Error('TypeError: cannot read x'))).toBe('an unexpected error on our side');
  });
});

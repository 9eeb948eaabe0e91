/** Which deposits pay which prompt: each deposit pays one prompt, and a prompt takes only what it asked for. */
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Payment } from '../../../src/domain/deployment.js';
import type { User } from '../../../src/domain/user.js';
import type { Chain } from '../../../src/grid/port.js';
import type { JobQueue } from '../../../src/jobs/worker.js';
import { WalletService } from '../../../src/services/wallet.js';
import { UserStore } from '../../../src/store/user-store.js';

const prompt = (requestedAt: number, due: number, required = Number.MAX_SAFE_INTEGER): Payment => ({ required, due, requestedAt, expiresAt: requestedAt + 1e6, uri: 'TFT:x' });

async function withWallet(
  balance: number,
  credits: User['credits'],
  fn: (w: WalletService, store: UserStore) => Promise<void>,
  chain: Chain = { balance: async () => balance, incomingTransfers: async () => [] } as unknown as Chain,
): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-pay-'));
  try {
    const store = new UserStore(dir);
    await store.create(1, () => ({
      schema: 1,
      id: 1,
      chatId: 1,
      createdAt: 0,
      identity: { address: 'addr', mnemonicSealed: 'x' },
      settings: {},
      credits,
      deployments: [],
      nextDeploymentId: 1,
      reminders: { epoch: 0, sent: [] },
    }));
    await fn(new WalletService(store, chain, undefined, {} as JobQueue), store);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('WalletService.isPaid', () => {
  it('takes the oldest deposits since the prompt up to what it asked, leaving later ones for the next prompt', async () => {
    await withWallet(0, [{ id: 'a', amount: 10, at: 20 }, { id: 'b', amount: 5, at: 30 }], async (w, store) => {
      expect(await w.isPaid(1, 'order', prompt(10, 10))).toBe(true);
      expect(await w.isPaid(1, 'topup', prompt(15, 5))).toBe(true);
      const credits = (await store.get(1))!.credits;
      expect(credits.map((c) => c.paidOrder)).toEqual(['order', 'topup']);
    });
  });

  it('never lets one deposit pay two prompts', async () => {
    await withWallet(0, [{ id: 'a', amount: 10, at: 20 }], async (w) => {
      expect(await w.isPaid(1, 'first', prompt(10, 10))).toBe(true);
      expect(await w.isPaid(1, 'second', prompt(10, 10))).toBe(false);
      expect(await w.isPaid(1, 'first', prompt(10, 10))).toBe(true); // asking again finds its own
    });
  });

  it('ignores deposits made before the prompt, and is paid by a balance that covers what is required', async () => {
    await withWallet(100, [{ id: 'a', amount: 10, at: 5 }], async (w, store) => {
      expect(await w.isPaid(1, 'uncovered', prompt(10, 10))).toBe(false);
      expect(await w.isPaid(1, 'covered', prompt(10, 10, 50))).toBe(true);
      expect((await store.get(1))!.credits[0]!.paidOrder).toBeUndefined();
    });
  });

  it('claims a deposit the balance already counts, even one recorded between the caller\'s sync and the balance read', async () => {
    // the deposit watcher records the 100 TFT while the balance is being read: the balance holds it
    let recorded: { id: string; from: string; to: string; amount: number; at: number }[] = [];
    const chain = {
      balance: async () => {
        recorded = [{ id: '9-1', from: 'payer', to: 'addr', amount: 100, at: 20 }];
        return 100;
      },
      incomingTransfers: async () => recorded,
    } as unknown as Chain;
    await withWallet(
      0,
      [],
      async (w, store) => {
        await w.syncDeposits(1); // what the payment job does first: nothing recorded yet
        expect(await w.isPaid(1, 'order', prompt(10, 100, 100))).toBe(true);
        expect((await store.get(1))!.credits).toMatchObject([{ id: '9-1', paidOrder: 'order' }]);
        // so the same deposit cannot pay a second prompt opened before it
        expect(await w.isPaid(1, 'topup', prompt(5, 100))).toBe(false);
      },
      chain,
    );
  });
});

/**
 * The withdrawal job, run by hand on journals as a crash would leave them: money leaves at most
 * once, whatever point the previous run stopped at.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createIdentity } from '../../../src/chain/identity.js';
import { SecretBox } from '../../../src/chain/secret-box.js';
import type { OutMessage } from '../../../src/chat/types.js';
import { ManualClock } from '../../../src/clock.js';
import type { User } from '../../../src/domain/user.js';
import type { Chain } from '../../../src/grid/port.js';
import { SimGrid } from '../../../src/grid/sim/index.js';
import type { JobDeps, Notifier } from '../../../src/jobs/deps.js';
import type { JobRecord, JournalEntry } from '../../../src/jobs/job-store.js';
import { Journal } from '../../../src/jobs/journal.js';
import type { JobQueue } from '../../../src/jobs/worker.js';
import { withdrawJob } from '../../../src/jobs/withdraw.js';
import { silentLogger, type Logger } from '../../../src/log.js';
import { pino } from 'pino';
import { UserService } from '../../../src/services/users.js';
import { WalletService } from '../../../src/services/wallet.js';
import { UserStore } from '../../../src/store/user-store.js';

const TFT = 10_000_000;

let dir: string;
let clock: ManualClock;
let sim: SimGrid;
let store: UserStore;
let users: UserService;
let user: User;
let dest: string;
let sent: OutMessage[];
let transfers: number;

const outbox: Notifier = {
  send: async (_chatId, msg) => {
    sent.push(msg);
    return sent.length;
  },
  edit: async () => undefined,
};

const noJobs: JobQueue = { enqueue: async (_t, _u, _d, commit) => commit(), nudge: () => undefined, hasActive: () => false };

/** The sim's chain, counting transfers; `transfer` can be replaced to fail. */
function chain(transfer?: Chain['transfer']): Chain {
  return {
    balance: (a) => sim.balance(a),
    incomingTransfers: (a, after) => sim.incomingTransfers(a, after),
    isValidAddress: (a) => sim.isValidAddress(a),
    maxWithdrawal: (from) => sim.maxWithdrawal(from),
    transfer: async (from, to, amount) => {
      transfers += 1;
      return (transfer ?? ((f, t, a) => sim.transfer(f, t, a)))(from, to, amount);
    },
  };
}

function handler(c: Chain = chain(), log: Logger = silentLogger) {
  const wallet = new WalletService(store, c, undefined, noJobs);
  // the job uses only these; the rest of JobDeps belongs to other jobs
  const deps = { store, users, wallet, outbox, clock, log } as Partial<JobDeps> as JobDeps;
  return withdrawJob(deps);
}

function journal(amount: number, entries: JournalEntry[] = []): Journal {
  const job: JobRecord = {
    id: 'withdraw-7-wallet-abc123',
    type: 'withdraw',
    userId: 7,
    deploymentId: 'wallet',
    createdAt: clock.now(),
    failures: 0,
    params: { to: dest, amount },
    journal: entries,
  };
  return new Journal(job, async () => undefined, clock);
}

const steps = (j: Journal) => j.job.journal.map((e) => `${e.step}:${e.phase}`);

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'withdraw-'));
  clock = new ManualClock(Date.UTC(2026, 0, 1));
  sim = await SimGrid.open({ dataDir: path.join(dir, 'grid'), clock, sleep: async () => undefined });
  store = new UserStore(dir);
  users = new UserService(store, new SecretBox(Buffer.alloc(32, 3)), clock);
  ({ user } = await users.ensure({ id: 7 }, 7));
  await sim.fund(user.identity.address, 10 * TFT);
  dest = (await createIdentity()).address;
  sent = [];
  transfers = 0;
});
afterEach(async () => {
  await sim.close();
  await store.flush();
  await rm(dir, { recursive: true, force: true });
});

describe('the withdrawal job', () => {
  it('sends once, journaling the transfer before and after, and tells the amount, the address, the transfer id and the new balance', async () => {
    const j = journal(4 * TFT);
    expect(await handler()(j)).toEqual({ done: true });
    expect(await sim.balance(dest)).toBe(4 * TFT);
    expect(await sim.balance(user.identity.address)).toBe(6 * TFT);
    expect(steps(j)).toEqual(['transfer:begin', 'transfer:done']);
    const [t] = await sim.incomingTransfers(dest);
    expect(j.result('transfer')).toEqual({ sent: t!.id });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toContain('Sent <b>4.00 TFT</b>');
    expect(sent[0]!.text).toContain(dest);
    expect(sent[0]!.text).toContain(t!.id);
    expect(sent[0]!.text).toContain('now holds 6.00 TFT');

    // run again on the same journal, as after a crash before the job was filed as done: told again, not sent again
    expect(await handler()(j)).toEqual({ done: true });
    expect(transfers).toBe(1);
    expect(await sim.balance(dest)).toBe(4 * TFT);
    expect(sent.at(-1)!.text).toContain(t!.id);
  });

  it('a transfer begun but not done is never sent again: the user is told to check /wallet', async () => {
    const j = journal(4 * TFT, [{ at: clock.now(), step: 'transfer', phase: 'begin', data: { to: dest, amount: 4 * TFT } }]);
    expect(await handler()(j)).toEqual({ done: true });
    expect(transfers).toBe(0);
    expect(await sim.balance(dest)).toBe(0);
    expect(await sim.balance(user.identity.address)).toBe(10 * TFT);
    expect(j.attempts('transfer')).toBe(1);
    expect(j.isDone('transfer')).toBe(false);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toContain("can't tell whether it went through");
    expect(sent[0]!.text).toContain('will not send it again');
    expect(sent[0]!.text).toContain('/wallet');
  });

  it('a chain call that fails without a clear answer (the transfer may have gone through) is not retried', async () => {
    // the worst case: the chain took the transfer, and the answer was lost
    const lost = chain(async (f, t, a) => {
      await sim.transfer(f, t, a);
      throw new Error('connection reset');
    });
    const j = journal(4 * TFT);
    expect(await handler(lost)(j)).toEqual({ done: true });
    expect(sent.at(-1)!.text).toContain("can't tell whether it went through");
    expect(steps(j)).toEqual(['transfer:begin']);
    // even if the job ran again (a retry, a restart), nothing more leaves
    expect(await handler(lost)(j)).toEqual({ done: true });
    expect(transfers).toBe(1);
    expect(await sim.balance(dest)).toBe(4 * TFT);
    expect(await sim.balance(user.identity.address)).toBe(6 * TFT);
  });

  it('sends nothing when the balance no longer covers the amount, and a later run does not send it either', async () => {
    const j = journal(12 * TFT);
    expect(await handler()(j)).toEqual({ done: true });
    expect(transfers).toBe(0);
    expect(steps(j)).toEqual(['transfer:done']);
    expect(sent[0]!.text).toContain('I did not send <b>12.00 TFT</b>');
    expect(sent[0]!.text).toContain('no longer holds that much');
    expect(sent[0]!.text).toContain('which holds 10.00 TFT');

    // the user was told "not sent": a deposit arriving before a rerun must not change that
    await sim.fund(user.identity.address, 5 * TFT);
    expect(await handler()(j)).toEqual({ done: true });
    expect(transfers).toBe(0);
    expect(await sim.balance(dest)).toBe(0);
  });

  it('a refusal by the chain itself (insufficient funds) is recorded as nothing sent', async () => {
    const refused = chain(async (f, t) => sim.transfer(f, t, 1_000 * TFT)); // the chain sees more than the wallet holds
    const j = journal(4 * TFT);
    expect(await handler(refused)(j)).toEqual({ done: true });
    expect(steps(j)).toEqual(['transfer:begin', 'transfer:done']);
    expect(j.result('transfer')).toEqual({ refused: 'Your wallet no longer holds that much.' });
    expect(sent[0]!.text).toContain('I did not send');
    expect(await sim.balance(user.identity.address)).toBe(10 * TFT);
  });

  it('refuses a destination that is not a TFChain address, or the wallet itself', async () => {
    for (const to of ['not-an-address', user.identity.address]) {
      const j = journal(1 * TFT);
      j.job.params = { to, amount: 1 * TFT };
      expect(await handler()(j)).toEqual({ done: true });
      expect(sent.at(-1)!.text).toContain('I did not send');
    }
    expect(transfers).toBe(0);
  });

  it('never puts the mnemonic in the logs, the job file or the messages, whatever happens', async () => {
    // a plain pino logger, without the app's redaction: what the job passes to it is what we see
    const lines: string[] = [];
    const log = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    const lost = chain(async () => {
      throw new Error('connection reset');
    });
    const jobs = [journal(4 * TFT), journal(4 * TFT), journal(40 * TFT)];
    await handler(chain(), log)(jobs[0]!);
    await handler(lost, log)(jobs[1]!);
    await handler(chain(), log)(jobs[2]!);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const mnemonic = users.identityOf(user).mnemonic;
    for (const word of [mnemonic, user.identity.mnemonicSealed]) {
      expect(lines.join('\n')).not.toContain(word);
      expect(JSON.stringify(jobs.map((j) => j.job))).not.toContain(word);
      expect(JSON.stringify(sent)).not.toContain(word);
    }
  });
});

/**
 * Withdrawing from the wallet through the real bot: the TFT arrive at the address the user gave,
 * bad addresses and amounts are refused with the question again, and a withdrawal that would leave
 * the user's deployments less than a week asks twice.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import { createIdentity } from '../../src/chain/identity.js';
import type { EmulatedUser, EmuMessage } from '../../src/telegram/emulator/index.js';
import { deploy } from '../helpers/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const TFT = 10_000_000;

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const userFile = async (id: number) => (await h.app.store.get(id))!;

/** An amount as a user types it: plain digits, a dot, no thousands separators. */
const typed = (units: number) => `${Math.floor(units / TFT)}.${String(units % TFT).padStart(7, '0')}`;

/** /wallet → Withdraw → the destination; resolves with the amount question. */
async function withdrawTo(u: EmulatedUser, dest: string): Promise<EmuMessage> {
  await u.sendText('/wallet');
  await u.waitForText('Your Jukebox wallet');
  await u.press('💸 Withdraw');
  await u.waitForText('Where should the TFT go?');
  await u.sendText(dest);
  return u.waitForText('How much should I send');
}

async function newUser(id: number) {
  const u = h.emu.user({ id });
  await u.sendText('/start');
  await u.waitForText('Welcome to Jukebox');
  return { u, address: (await userFile(id)).identity.address };
}

describe('a withdrawal', () => {
  it('sends part of the balance to the address given, and the wallet shows what is left', async () => {
    h = await startHarness();
    const { u, address } = await newUser(501);
    await h.grid.fund(address, 50 * TFT);
    const dest = (await createIdentity()).address;

    await u.sendText('/wallet');
    const view = await u.waitForText('Your Jukebox wallet');
    expect(view.text).toContain('Wallet: 50.00 TFT');
    await u.press('💸 Withdraw');
    await u.waitForText('Where should the TFT go?');
    await u.sendText(`  ${dest} `);
    const amountQ = await u.waitForText('How much should I send');
    expect(amountQ.reply_markup!.inline_keyboard.flat().map((b) => b.text)).toContain('All (50.00 TFT)');
    await u.sendText('12.5');
    const confirm = await u.waitForText('Please check your withdrawal');
    expect(confirm.text).toContain('Amount: <b>12.50 TFT</b>');
    expect(confirm.text).toContain(`To: <code>${dest}</code>`);
    expect(confirm.text).toContain('Your wallet keeps 37.50 TFT. Nothing is being billed right now.');
    expect(confirm.text).not.toContain('⚠️');

    await u.press('💸 Withdraw 12.50 TFT');
    await u.waitForText('Sending <b>12.50 TFT</b>');
    const sent = await u.waitForText('💸 Sent');
    expect(await h.grid.balance(dest)).toBe(12.5 * TFT);
    expect(await h.grid.balance(address)).toBe(37.5 * TFT);
    const [transfer] = await h.grid.incomingTransfers(dest);
    expect(transfer).toMatchObject({ from: address, to: dest, amount: 12.5 * TFT });
    expect(sent.text).toContain(`<code>${transfer!.id}</code>`);
    expect(sent.text).toContain(dest);
    expect(sent.text).toContain('Your wallet now holds 37.50 TFT');

    await u.sendText('/wallet');
    const after = await u.waitForText('Your Jukebox wallet');
    expect(after.text).toContain('Wallet: 37.50 TFT');
    expect(after.text).toContain('Deposits credited (latest 1 of 1)'); // a withdrawal is not a deposit
  });

  it('withdraws everything with the All button', async () => {
    h = await startHarness();
    const { u, address } = await newUser(502);
    await h.grid.fund(address, 7 * TFT + 1);
    const dest = (await createIdentity()).address;
await withdrawTo(u, dest);
    await u.press('All (7.0000001 TFT)');
    await u.waitForText('Amount: <b>7.0000001 TFT</b>');
    await u.press('💸 Withdraw 7.0000001 TFT');
    await u.waitForText('💸 Sent');
    expect(await h.grid.balance(dest)).toBe(7 * TFT + 1);
    expect(await h.grid.balance(address)).toBe(0);

    await u.sendText('/wallet');
    const empty = await u.waitForText('Your Jukebox wallet');
    expect(empty.text).toContain('There is nothing to withdraw.');
    expect(empty.reply_markup?.inline_keyboard ?? []).toEqual([]);
  });

  it('on a chain with a transfer fee, All sends what is left after the fee, and a typed amount above it is refused', async () => {
    const FEE = TFT / 100;
    // TFChain keeps the fee of each transfer: the most that can go is the balance less the fee
    h = await startHarness({
      chain: (sim) => ({
        balance: (a) => sim.balance(a),
        incomingTransfers: (a, after) => sim.incomingTransfers(a, after),
        isValidAddress: (a) => sim.isValidAddress(a),
        maxWithdrawal: async (from) => Math.max(0, (await sim.balance(from)) - FEE),
        transfer: async (from, to, amount) => {
          if (amount + FEE > (await sim.balance(from.address))) throw new Error('balances.InsufficientBalance');
          const t = await sim.transfer(from, to, amount);
          await sim.transfer(from, (await createIdentity()).address, FEE);
          return t;
        },
      }),
    });
    const { u, address } = await newUser(504);
    await h.grid.fund(address, 10 * TFT);
    const dest = (await createIdentity()).address;
const q = await withdrawTo(u, dest);
    expect(q.text).toContain('TFChain keeps 0.01 TFT of it for the transfer fee.');
    await u.sendText('10');
    await u.waitForText('you can withdraw at most 9.99 TFT');
    await u.press('All (9.99 TFT)');
    const confirm = await u.waitForText('Please check your withdrawal');
    expect(confirm.text).toContain('Your wallet keeps 0.00 TFT'); // the fee goes too
    await u.press('💸 Withdraw 9.99 TFT');
    await u.waitForText('💸 Sent');
    expect(await h.grid.balance(dest)).toBe(10 * TFT - FEE);
    expect(await h.grid.balance(address)).toBe(0);
  });
});

describe('what a withdrawal refuses', () => {
  it('an empty wallet is a plain view with nothing to withdraw', async () => {
    h = await startHarness();
    const { u } = await newUser(503);
    await u.sendText('/wallet');
    const view = await u.waitForText('Your Jukebox wallet');
    expect(view.text).toContain('There is nothing to withdraw.');
    expect(view.reply_markup?.inline_keyboard ?? []).toEqual([]);
    await u.sendText('hello'); // no conversation stands behind the view
    await u.waitForText('Send /help');
  });

  it('bad addresses and amounts, each with the reason and the question again', async () => {
    h = await startHarness();
    const { u, address } = await newUser(504);
    await h.grid.fund(address, 20 * TFT);
    const dest = (await createIdentity()).address;
    const polkadot = encodeAddress(decodeAddress(dest), 0); // a real SS58 address, of another chain

    await u.sendText('/wallet');
    await u.waitForText('Your Jukebox wallet');
    await u.press('💸 Withdraw');
    await u.waitForText('Where should the TFT go?');
    for (const [input, reason] of [
      ['hello', '“hello” is not a TFChain address'],
      [polkadot, 'is not a TFChain address'],
      [dest.slice(0, -1), 'is not a TFChain address'],
      ['<b>5x</b>', '“&lt;b&gt;5x&lt;/b&gt;” is not a TFChain address'],
      ['x'.repeat(5000), 'That is not a TFChain address'],
      [address, 'the address of this Jukebox wallet itself'],
    ] as const) {
      await u.sendText(input);
      const m = await u.waitForText(reason);
      expect(m.text).toContain('Where should the TFT go?');
    }

    await u.sendText(dest);
    await u.waitForText('How much should I send');
    for (const [input, reason] of [
      ['0', 'The amount must be more than 0 TFT.'],
      ['0.0000000', 'The amount must be more than 0 TFT.'],
      ['20.0000001', 'you can withdraw at most 20.00 TFT'],
      ['1000', 'you can withdraw at most 20.00 TFT'],
      ['lots', '“lots” is not an amount'],
      ['-5', '“-5” is not an amount'],
      ['1.23456789', 'is not an amount'],
      ['1,000.5', 'is not an amount'],
    ] as const) {
      await u.sendText(input);
      const m = await u.waitForText(reason);
      expect(m.text).toContain('How much should I send');
    }
    await u.sendText('2,5 TFT'); // a decimal comma and the unit are fine
    await u.waitForText('Amount: <b>2.50 TFT</b>');
    await u.sendText('/cancel');
    await u.waitForText('Cancelled /wallet');
    expect(await h.grid.balance(address)).toBe(20 * TFT);
    expect(await h.grid.balance(dest)).toBe(0);
  });
});

describe('a withdrawal with deployments running', () => {
  it('asks twice when it would leave less than a week, and "No" sends nothing', async () => {
    h = await startHarness();
    const { u, address } = await newUser(505);
    await deploy(u, { name: 'busy' });
    const burn = (await userFile(505)).deployments[0]!.hourlyCost;
    const balance = await h.grid.balance(address);
    const dest = (await createIdentity()).address;

    // a little leaves weeks of runway: one confirmation
await withdrawTo(u, dest);
    await u.sendText(typed(burn * 24)); // one day of the burn
    const once = await u.waitForText('Please check your withdrawal');
    expect(once.text).toContain('for your 1 deployment, that lasts');
    expect(once.text).not.toContain('would stop');
    await u.press(/^💸 Withdraw/);
    await u.waitForText('💸 Sent');
    await h.app.worker.idle(); // the job ends just after it says so; one withdrawal at a time
    expect(await h.grid.balance(dest)).toBe(burn * 24);

    // leaving three days: the confirmation says so, and a second question follows
    const left = 3 * 24 * burn;
    const amount = (await h.grid.balance(address)) - left;
await withdrawTo(u, dest);
    await u.sendText(typed(amount));
    const warned = await u.waitForText('Please check your withdrawal');
    expect(warned.text).toContain('⚠️ Your deployment would stop in about 3 days');
    await u.press(/^💸 Withdraw/);
    const sure = await u.waitForText('Are you sure?');
    expect(sure.text).toContain('Your deployment would stop in about 3 days');
    await u.press('No, keep it');
    await u.waitForText('Nothing was sent');
    expect(await h.grid.balance(dest)).toBe(burn * 24);
    expect(await h.grid.balance(address)).toBe(balance - burn * 24);

    // and "Yes" on the second question sends it
await withdrawTo(u, dest);
    await u.press(/^All \(/);
    const all = await u.waitForText('Please check your withdrawal');
    expect(all.text).toContain('would stop within the hour');
    await u.press(/^💸 Withdraw/);
    await u.waitForText('Are you sure?');
    await u.press('⚠️ Yes, withdraw anyway');
    await u.waitForText('💸 Sent');
    expect(await h.grid.balance(address)).toBe(0);
    expect(await h.grid.balance(dest)).toBe(balance);
  });
});

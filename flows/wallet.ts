/**
 * /wallet: the user's wallet address, balance, what the grid takes from it each hour, how long that
 * lasts, and the deposits credited; and a withdrawal of the free balance: address → amount →
 * confirm (twice when what is left would not keep the user's deployments running for a week) →
 * a job sends it and reports.
 */
import { duration, esc, plural } from '../src/chat/format.js';
import type { Flow, FlowContext, Outcome } from '../src/chat/types.js';
import { walletLines } from '../src/chat/views.js';
import { isBilled } from '../src/domain/deployment.js';
import { formatTft, HOUR_MS, runwayMs, type Units } from '../src/domain/money.js';
import { LOW_RUNWAY_MS } from '../src/services/wallet.js';

const SHOWN_DEPOSITS = 10;

interface WalletData {
  /** the view `begin` just built, so the first question does not read the chain a second time */
  shown?: string;
  to?: string;
  amount?: Units;
}

type Ctx = FlowContext<WalletData>;

async function walletView(c: Ctx): Promise<{ text: string; balance: Units }> {
  await c.services.wallet.syncDeposits(c.user.id);
  const user = (await c.services.users.current(c.user.id)) ?? c.user;
  const view = await c.services.deployments.walletView(user);
  const deposits = user.credits.slice(-SHOWN_DEPOSITS).reverse();
  const day = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');
  const text = [
    '<b>Your Jukebox wallet</b> on TFChain',
    `<code>${esc(view.address)}</code>`,
    '',
    ...walletLines(view),
    '',
    deposits.length
      ? [`Deposits credited (latest ${deposits.length} of ${user.credits.length}):`, ...deposits.map((d) => `  ${day(d.at)} UTC  +${formatTft(d.amount)}`)].join('\n')
      : 'No deposits yet. Payments to the address above are credited here.',
  ].join('\n');
  return { text, balance: view.balance };
}

/** What the wallet would be left with, and whether that puts the user's running deployments at risk. */
async function afterWithdrawal(c: Ctx) {
  const user = (await c.services.users.current(c.user.id)) ?? c.user;
  const [view, most] = await Promise.all([c.services.deployments.walletView(user), c.services.wallet.withdrawable(user, c.data.to!)]);
  // the chain's transfer fee leaves too: what stays is what could still be sent after this one
  const left = Math.max(0, most - c.data.amount!);
  const runway = runwayMs(left, view.hourlyBurn);
  const billed = user.deployments.filter((d) => isBilled(d.state)).length;
  const line =
    view.hourlyBurn > 0
      ? `Your wallet keeps ${formatTft(left)}: at ${formatTft(view.hourlyBurn)}/h for your ${plural(billed, 'deployment')}, that lasts ${duration(runway)}.`
      : `Your wallet keeps ${formatTft(left)}. Nothing is being billed right now.`;
  // exactly at the threshold counts as low: the first reminder goes out there too
  const low = view.hourlyBurn > 0 && runway <= LOW_RUNWAY_MS;
  const yours = billed === 1 ? 'Your deployment' : `Your ${billed} deployments`;
  const when = runway < HOUR_MS ? 'within the hour' : `in about ${duration(runway)}`;
  const warning = `${yours} would stop ${when}, when what is left runs out: the grid stops nodes it cannot bill.`;
  return { line, low, warning };
}

const keep = (): Outcome => ({ done: [{ text: 'Nothing was sent; your TFT stay in your wallet.' }] });

async function send(c: Ctx): Promise<Outcome> {
  const r = await c.services.wallet.requestWithdrawal(c.user.id, c.data.to!, c.data.amount!);
  if (!r.ok) return { done: [{ text: `⚠️ ${esc(r.reason)}` }] };
  return {
    done: [{ text: `💸 Sending <b>${formatTft(r.value.amount)}</b> to <code>${esc(r.value.to)}</code>… I'll tell you here when it is through.` }],
  };
}

export const walletFlow: Flow<WalletData> = {
  command: 'wallet',
  description: 'Your wallet: balance, hourly cost, how long it lasts, deposits; withdraw',
  version: 2,
  // starting another command over a withdrawal needs no notice either: nothing is sent before the last "yes"
  browsing: true,
  newData: () => ({}),
  async begin(c) {
    const { text, balance } = await walletView(c);
    // with nothing to withdraw the view stays a plain message, with no conversation behind it
    if (balance <= 0) return { done: [{ text: `${text}\n\nThere is nothing to withdraw.` }] };
    c.data.shown = text;
    return { goto: 'view' };
  },
  steps: {
    view: {
      async ask(c) {
        const text = c.data.shown ?? (await walletView(c)).text;
        delete c.data.shown;
        return { text, choices: [{ label: '💸 Withdraw', value: 'withdraw' }] };
      },
      async onChoice(c) {
        if (c.services.wallet.withdrawalInFlight(c.user.id)) {
          return { done: [{ text: 'A withdrawal is already under way. I will tell you here when it is through.' }] };
        }
        if ((await c.services.wallet.balance(c.user)) <= 0) return { done: [{ text: 'Your wallet is empty: there is nothing to withdraw.' }] };
        return { goto: 'address' };
      },
      // the view is only something to look at: typing after it is not an answer to it
      onText: () => ({ done: [{ text: 'I answer commands and buttons. Send /help to see what I can do.' }] }),
    },

    address: {
      ask: () => ({ text: 'Where should the TFT go? Send the TFChain address to withdraw to (it starts with 5).' }),
      onText(c, text) {
        const r = c.services.wallet.checkDestination(c.user, text);
        if (!r.ok) return { retry: esc(r.reason) };
        c.data.to = r.value;
        return { goto: 'amount' };
      },
    },

    amount: {
      async ask(c) {
        const [balance, most] = await Promise.all([c.services.wallet.balance(c.user), c.services.wallet.withdrawable(c.user, c.data.to!)]);
        const fee = balance > most ? ` TFChain keeps ${formatTft(balance - most)} of it for the transfer fee.` : '';
        return {
          text: `How much should I send to <code>${esc(c.data.to!)}</code>? Your wallet holds <b>${formatTft(balance)}</b>.${fee} Press All, or type an amount in TFT (such as 12.5).`,
          choices: [{ label: `All (${formatTft(most)})`, value: 'all' }],
        };
      },
      async onChoice(c) {
        // all the wallet can send now, which billing may have changed since the button was drawn
        const most = await c.services.wallet.withdrawable(c.user, c.data.to!);
        if (most <= 0) return { done: [{ text: 'Your wallet is empty: there is nothing to withdraw.' }] };
        c.data.amount = most;
        return { goto: 'confirm' };
      },
      async onText(c, text) {
        const r = c.services.wallet.checkAmount(text, await c.services.wallet.withdrawable(c.user, c.data.to!));
        if (!r.ok) return { retry: esc(r.reason) };
        c.data.amount = r.value;
        return { goto: 'confirm' };
      },
    },

    confirm: {
      async ask(c) {
        const after = await afterWithdrawal(c);
        return {
          text: [
            '<b>Please check your withdrawal</b>',
            `Amount: <b>${formatTft(c.data.amount!)}</b>`,
            `To: <code>${esc(c.data.to!)}</code>`,
            after.line,
            ...(after.low ? ['', `⚠️ ${after.warning}`] : []),
          ].join('\n'),
          choices: [
            { label: `💸 Withdraw ${formatTft(c.data.amount!)}`, value: 'yes' },
            { label: 'Keep it', value: 'no' },
          ],
        };
      },
      async onChoice(c, value) {
        if (value !== 'yes') return keep();
        // judged again at the press: a deployment may have started since the question
        if ((await afterWithdrawal(c)).low) return { goto: 'sure' };
        return send(c);
      },
    },

    // the second, explicit confirmation when the withdrawal would leave the deployments less than a week
    sure: {
      async ask(c) {
        const after = await afterWithdrawal(c);
        return {
          text: `⚠️ <b>Are you sure?</b> ${after.warning} Withdraw ${formatTft(c.data.amount!)} anyway?`,
          choices: [
            { label: '⚠️ Yes, withdraw anyway', value: 'yes' },
            { label: 'No, keep it', value: 'no' },
          ],
        };
      },
      async onChoice(c, value) {
        return value === 'yes' ? send(c) : keep();
      },
    },
  },
};

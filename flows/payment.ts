/**
 * The payment prompt and its buttons. These live outside any conversation: the order waits for its
 * payment in a job, and the buttons act on the order they name, found among the presser's own only.
 */
import { esc } from '../src/chat/format.js';
import type { EngineReply, OutMessage } from '../src/chat/types.js';
import type { Deployment, Payment } from '../src/domain/deployment.js';
import { formatTft } from '../src/domain/money.js';
import { BRIDGE_DEPOSIT_FEE } from '../src/services/wallet.js';
import type { User } from '../src/domain/user.js';
import type { Services } from '../src/services/index.js';

/** The callback actions of a payment prompt's buttons: each names what it acts on by the id that follows. */
export interface PromptActions {
  paid: string;
  simulate: string;
  stellar: string;
  cancel: string;
  cancelLabel: string;
}

const ORDER_ACTIONS: PromptActions = { paid: 'paid', simulate: 'simpay', stellar: 'stellar', cancel: 'cancelorder', cancelLabel: 'Cancel order' };

/** The QR code of an order waiting for its payment, with its buttons; /status shows it again. */
export function paymentPrompt(s: Services, d: Deployment): Promise<OutMessage> {
  return qrPrompt(s, d.payment!, `To deploy <b>${esc(d.name)}</b>`, ORDER_ACTIONS, d.id);
}

/** A payment prompt: the QR photo, the URI to paste, and buttons naming actions on `id`. */
export async function qrPrompt(
  s: Services,
  p: Payment,
  purpose: string,
  actions: PromptActions,
  id: string,
): Promise<OutMessage> {
  const until = new Date(p.expiresAt).toISOString().slice(11, 16);
  const buttons = [[{ label: '✅ I have paid', data: `a:${actions.paid}:${id}` }]];
  if (s.wallet.offersStellar) buttons.push([{ label: '🌟 Pay from Stellar instead', data: `a:${actions.stellar}:${id}` }]);
  if (s.wallet.canSimulatePayments) buttons.push([{ label: '🧪 Simulate payment (test grid only)', data: `a:${actions.simulate}:${id}` }]);
  buttons.push([{ label: `✖ ${actions.cancelLabel}`, data: `a:${actions.cancel}:${id}` }]);
  return {
    photo: await s.wallet.qrPng(p.uri),
    text:
      `💳 ${purpose}, add <b>${formatTft(p.due)}</b> to your Jukebox wallet: scan this with ThreeFold Connect.\n` +
      `I go on as soon as it arrives, and wait until ${until} UTC. The TFT stay yours until the grid bills them.\n\n` +
      `Or paste this into your wallet:\n<code>${esc(p.uri)}</code>`,
    buttons,
  };
}

/**
 * The bridge form of a payment prompt, for TFT held on Stellar. The memo names the user's twin, so
 * it exists only once the wallet is registered on the grid (the order's job does that first).
 */
export async function stellarPrompt(s: Services, user: User, p: Payment): Promise<EngineReply> {
  if (!s.wallet.offersStellar) return { send: [], toast: 'Paying from Stellar is not offered here.' };
  const twinId = (await s.users.current(user.id))?.identity.twinId;
  if (twinId === undefined) {
    return {
      send: [{ text: '⏳ Your Jukebox wallet is still being registered on the grid, and the bridge can only pay into a registered wallet. This takes about a minute the first time: press the button again shortly.' }],
    };
  }
  const uri = s.wallet.bridgeUri(twinId, p.due);
  return {
    send: [
      {
        photo: await s.wallet.qrPng(uri),
        text:
          `🌟 From a Stellar wallet (ThreeFold Connect's Stellar account, or any Stellar wallet holding TFT), send <b>${formatTft(p.due + BRIDGE_DEPOSIT_FEE)}</b> ` +
          `to the TFT bridge with the memo <code>twin_${twinId}</code>. The bridge keeps ${formatTft(BRIDGE_DEPOSIT_FEE)} as its fee and puts the rest in your Jukebox wallet, usually within a few minutes; I go on by myself when it arrives.\n` +
          `The memo is what tells the bridge the TFT are yours: without it they do not reach your wallet.\n\n` +
          `Or paste this into your Stellar wallet:\n<code>${esc(uri)}</code>`,
      },
    ],
  };
}

type ActionResult = Promise<EngineReply>;

function order(user: User, id: string): Deployment | undefined {
  return user.deployments.find((d) => d.id === id);
}

const notWaiting = (d: Deployment | undefined): EngineReply => ({
  send: [],
  toast: d ? `${d.name} is not waiting for a payment any more.` : 'That order does not exist.',
});

export const paymentActions = {
  async paid(user: User, id: string, s: Services): ActionResult {
    const d = order(user, id);
    if (d?.state !== 'awaiting_payment') return notWaiting(d);
    const { paid, balance } = await s.deployments.checkPayment(user, id);
    if (paid) return { send: [], toast: 'Payment found. Starting…' };
    const until = new Date(d.payment!.expiresAt).toISOString().slice(11, 16);
    return {
      send: [
        {
          text:
            `I don't see the ${formatTft(d.payment!.due)} yet (your wallet has ${formatTft(balance)}). ` +
            `Transfers take about a minute to arrive; I keep watching until ${until} UTC and start by myself.`,
        },
      ],
    };
  },

  async stellar(user: User, id: string, s: Services): ActionResult {
    const d = order(user, id);
    if (d?.state !== 'awaiting_payment') return notWaiting(d);
    return stellarPrompt(s, user, d.payment!);
  },

  async simpay(user: User, id: string, s: Services): ActionResult {
    const d = order(user, id);
    if (d?.state !== 'awaiting_payment') return notWaiting(d);
    if (!s.wallet.canSimulatePayments) return { send: [], toast: 'Payments can only be simulated on the test grid.' };
    await s.wallet.simulatePayment(user, d.payment!.due);
    await s.deployments.checkPayment(user, id);
    return { send: [], toast: `Simulated a payment of ${formatTft(d.payment!.due)}.` };
  },

  async cancelorder(user: User, id: string, s: Services): ActionResult {
    const d = order(user, id);
    if (d?.state !== 'awaiting_payment') return notWaiting(d);
    const r = await s.deployments.requestDelete(user.id, id);
    return r.ok ? { send: [], toast: 'Cancelling the order…' } : { send: [{ text: esc(r.reason) }] };
  },
};

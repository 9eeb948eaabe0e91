/**
 * The payment prompt and its buttons. These live outside any conversation: the order waits for its
 * payment in a job, and the buttons act on the order they name, found among the presser's own only.
 */
import { esc } from '../src/chat/format.js';
import type { EngineReply, OutMessage } from '../src/chat/types.js';
import type { Deployment, Payment } from '../src/domain/deployment.js';
import { formatTft } from '../src/domain/money.js';
import type { User } from '../src/domain/user.js';
import type { Services } from '../src/services/index.js';

/** The QR code of an order waiting for its payment, with its buttons; /status shows it again. */
export function paymentPrompt(s: Services, d: Deployment): Promise<OutMessage> {
  return qrPrompt(s, d.payment!, `To deploy <b>${esc(d.name)}</b>`, { paid: 'paid', simulate: 'simpay', cancel: 'cancelorder', cancelLabel: 'Cancel order' }, d.id);
}

/** A payment prompt: the QR photo, the URI to paste, and buttons naming actions on `id`. */
export async function qrPrompt(
  s: Services,
  p: Payment,
  purpose: string,
  actions: { paid: string; simulate: string; cancel: string; cancelLabel: string },
  id: string,
): Promise<OutMessage> {
  const until = new Date(p.expiresAt).toISOString().slice(11, 16);
  const buttons = [[{ label: '✅ I have paid', data: `a:${actions.paid}:${id}` }]];
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

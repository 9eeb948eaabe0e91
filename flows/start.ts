/** /start: greets, and shows the wallet the bot made for this user. */
import { esc } from '../src/chat/format.js';
import type { Flow } from '../src/chat/types.js';
import { formatTft } from '../src/domain/money.js';

export const startFlow: Flow = {
  command: 'start',
  description: 'Welcome, and your wallet address',
  version: 1,
  newData: () => ({}),
  steps: {},
  async begin(c) {
    const balance = await c.services.wallet.balance(c.user);
    const name = c.user.firstName ? `, ${esc(c.user.firstName)}` : '';
    return {
      done: [
        {
          text: [
            `👋 Welcome to Jukebox${name}!`,
            '',
            'I rent blockchain nodes (Dash, Presearch, …) on the ThreeFold Grid for you: pick a node type, pay by scanning a QR code, and I keep the nodes running.',
            '',
            `Your Jukebox wallet on TFChain: <code>${esc(c.user.identity.address)}</code>`,
            `Balance: ${formatTft(balance)}. Payments go there; the grid bills it by the hour, and failed deployments cost nothing.`,
            '',
            'Start with /deploy, or see everything with /help.',
          ].join('\n'),
        },
      ],
    };
  },
};

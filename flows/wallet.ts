/** /wallet: the user's wallet address, balance, what the grid takes from it each hour, how long that lasts, and the deposits credited. */
import { esc } from '../src/chat/format.js';
import type { Flow } from '../src/chat/types.js';
import { walletLines } from '../src/chat/views.js';
import { formatTft } from '../src/domain/money.js';

const SHOWN_DEPOSITS = 10;

export const walletFlow: Flow = {
  command: 'wallet',
  description: 'Your wallet: balance, hourly cost, how long it lasts, deposits',
  version: 1,
  browsing: true,
  newData: () => ({}),
  steps: {},
  async begin(c) {
    await c.services.wallet.syncDeposits(c.user.id);
    const user = (await c.services.users.current(c.user.id)) ?? c.user;
    const view = await c.services.deployments.walletView(user);
    const deposits = user.credits.slice(-SHOWN_DEPOSITS).reverse();
    const day = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');
    return {
      done: [
        {
          text: [
            '<b>Your Jukebox wallet</b> on TFChain',
            `<code>${esc(view.address)}</code>`,
            '',
            ...walletLines(view),
            '',
            deposits.length
              ? [`Deposits credited (latest ${deposits.length} of ${user.credits.length}):`, ...deposits.map((d) => `  ${day(d.at)} UTC  +${formatTft(d.amount)}`)].join('\n')
              : 'No deposits yet. Payments to the address above are credited here.',
          ].join('\n'),
        },
      ],
    };
  },
};

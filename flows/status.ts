/** /status [name]: per node state, grid node, place, IPs, contracts and cost; the wallet and how long it lasts. */
import { esc } from '../src/chat/format.js';
import type { Flow, OutMessage, Outcome } from '../src/chat/types.js';
import { statusMessages } from '../src/chat/views.js';
import { isWatched, type Deployment } from '../src/domain/deployment.js';
import type { User } from '../src/domain/user.js';
import type { Services } from '../src/services/index.js';
import { paymentPrompt } from './payment.js';
import { pickStep } from './pick.js';
import { autoButton } from './redeploy.js';

/** A deployment's status; an order still waiting for its payment comes with its payment prompt again. */
export async function statusOutcome(s: Services, user: User, d: Deployment): Promise<Outcome> {
  const status: OutMessage[] = statusMessages(await s.deployments.status(user, d)).map((text) => ({ text }));
  if (isWatched(d.state)) status.at(-1)!.buttons = [[autoButton(d)]];
  return { done: d.state === 'awaiting_payment' ? [...status, await paymentPrompt(s, d)] : status };
}

export const statusFlow: Flow = {
  command: 'status',
  description: 'Details of one deployment: nodes, IPs, contracts, cost, runway',
  version: 1,
  browsing: true,
  newData: () => ({}),
  begin(c, args) {
    const all = c.services.deployments.list(c.user);
    if (all.length === 0) return { done: [{ text: 'You have no deployments yet. Start one with /deploy.' }] };
    if (args) {
      const d = c.services.deployments.find(c.user, args);
      if (!d) return { done: [{ text: `You have no deployment called “${esc(args.slice(0, 40))}”. /list shows them.` }] };
      return statusOutcome(c.services, c.user, d);
    }
    if (all.length === 1) return statusOutcome(c.services, c.user, all[0]!);
    return { goto: 'pick' };
  },
  steps: {
    pick: pickStep({
      question: () => 'Which deployment?',
      candidates: (c) => c.services.deployments.list(c.user),
      then: (c, d) => statusOutcome(c.services, c.user, d),
      unavailable: 'That deployment is gone.',
    }),
  },
};

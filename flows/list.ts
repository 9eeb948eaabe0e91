/** /list: the user's deployments with state and node count; a button per deployment opens its status. */
import { plural } from '../src/chat/format.js';
import type { Flow, Outcome } from '../src/chat/types.js';
import type { Deployment } from '../src/domain/deployment.js';
import type { User } from '../src/domain/user.js';
import type { Services } from '../src/services/index.js';
import { statusMessages } from '../src/chat/views.js';
import { paymentPrompt } from './payment.js';
import { choiceOf, pickByText } from './pick.js';

/** A deployment's status; an order still waiting for its payment comes with its payment prompt again. */
export async function statusOutcome(s: Services, user: User, d: Deployment): Promise<Outcome> {
  const status = statusMessages(await s.deployments.status(user, d)).map((text) => ({ text }));
  return { done: d.state === 'awaiting_payment' ? [...status, await paymentPrompt(s, d)] : status };
}

export const listFlow: Flow = {
  command: 'list',
  description: 'Your deployments and their state',
  version: 1,
  browsing: true,
  newData: () => ({}),
  begin(c) {
    if (c.services.deployments.list(c.user).length === 0) {
      return { done: [{ text: 'You have no deployments yet. Start one with /deploy.' }] };
    }
    return { goto: 'pick' };
  },
  steps: {
    pick: {
      ask(c) {
        const all = c.services.deployments.list(c.user);
        const live = all.filter((d) => d.state !== 'failed').length;
        return {
          text: `<b>Your deployments</b>: ${plural(all.length, 'deployment')}, ${live} running or on the way. Tap one for its status.`,
          choices: all.map(choiceOf),
        };
      },
      onChoice(c, id) {
        const d = c.services.deployments.find(c.user, id);
        return d ? statusOutcome(c.services, c.user, d) : { retry: 'That deployment is gone.' };
      },
      onText: (c, text) => pickByText(c, text, c.services.deployments.list(c.user), (d) => statusOutcome(c.services, c.user, d)),
    },
  },
};

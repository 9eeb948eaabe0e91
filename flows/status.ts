/** /status [name]: per node state, grid node, place, IPs, contracts and cost; the wallet and how long it lasts. */
import { esc } from '../src/chat/format.js';
import type { Flow } from '../src/chat/types.js';
import { statusOutcome } from './list.js';
import { choiceOf, pickByText } from './pick.js';

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
    pick: {
      ask: (c) => ({ text: 'Which deployment?', choices: c.services.deployments.list(c.user).map(choiceOf) }),
      onChoice(c, id) {
        const d = c.services.deployments.find(c.user, id);
        return d ? statusOutcome(c.services, c.user, d) : { retry: 'That deployment is gone.' };
      },
      onText: (c, text) => pickByText(c, text, c.services.deployments.list(c.user), (d) => statusOutcome(c.services, c.user, d)),
    },
  },
};

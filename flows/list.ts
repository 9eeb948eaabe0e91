/** /list: the user's deployments with state and node count; a button per deployment opens its status. */
import { plural } from '../src/chat/format.js';
import type { Flow } from '../src/chat/types.js';
import { pickStep } from './pick.js';
import { statusOutcome } from './status.js';

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
    pick: pickStep({
      question: (c) => {
        const all = c.services.deployments.list(c.user);
        const live = all.filter((d) => d.state !== 'failed').length;
        return `<b>Your deployments</b>: ${plural(all.length, 'deployment')}, ${live} running or on the way. Tap one for its status.`;
      },
      candidates: (c) => c.services.deployments.list(c.user),
      then: (c, d) => statusOutcome(c.services, c.user, d),
      unavailable: 'That deployment is gone.',
    }),
  },
};

/** /delete [name]: pick → confirm → every contract is cancelled by a job, which reports when done. */
import { esc, plural } from '../src/chat/format.js';
import type { Flow, Outcome } from '../src/chat/types.js';
import type { Deployment } from '../src/domain/deployment.js';
import { pickStep } from './pick.js';

interface DeleteData {
  id?: string;
}

const toConfirm = (c: { data: DeleteData }, d: Deployment): Outcome => {
  c.data.id = d.id;
  return { goto: 'confirm' };
};

export const deleteFlow: Flow<DeleteData> = {
  command: 'delete',
  description: 'Delete a deployment and stop its billing',
  version: 1,
  newData: () => ({}),
  begin(c, args) {
    const candidates = c.services.deployments.deletable(c.user);
    if (args) {
      const d = c.services.deployments.find(c.user, args);
      if (!d) return { done: [{ text: `You have no deployment called “${esc(args.slice(0, 40))}”. /list shows them.` }] };
      if (!candidates.some((x) => x.id === d.id)) {
        return { done: [{ text: `<b>${esc(d.name)}</b> is ${d.state.replace('_', ' ')}; it can be deleted when that is finished.` }] };
      }
      return toConfirm(c, d);
    }
    if (candidates.length === 0) return { done: [{ text: 'You have nothing to delete.' }] };
    return { goto: 'pick' };
  },
  steps: {
    pick: pickStep({
      question: () => 'Which deployment should I delete?',
      candidates: (c) => c.services.deployments.deletable(c.user),
      then: toConfirm,
      unavailable: 'That one cannot be deleted now.',
    }),
    confirm: {
      ask(c) {
        const d = c.user.deployments.find((x) => x.id === c.data.id)!;
        return {
          text: `Delete <b>${esc(d.name)}</b> (${plural(d.count, 'node')})? Its nodes stop and their data is gone; billing stops.`,
          choices: [
            { label: `🗑 Yes, delete ${d.name}`, value: 'yes' },
            { label: 'Keep it', value: 'no' },
          ],
        };
      },
      async onChoice(c, value) {
        if (value !== 'yes') return { done: [{ text: 'Kept. Nothing changed.' }] };
        const r = await c.services.deployments.requestDelete(c.user.id, c.data.id!);
        if (!r.ok) return { done: [{ text: esc(r.reason) }] };
        return { done: [{ text: `Deleting <b>${esc(r.deployment.name)}</b>… I'll tell you when every contract is cancelled.` }] };
      },
    },
  },
};

/** Picking one of the user's own deployments, by button or by typing its name; shared by /status and /delete. */
import { esc } from '../src/chat/format.js';
import type { Choice, FlowContext, Outcome } from '../src/chat/types.js';
import { STATE_LABEL, type Deployment } from '../src/domain/deployment.js';

export const choiceOf = (d: Deployment): Choice => ({
  label: `${d.name} · ${d.count} node${d.count === 1 ? '' : 's'} · ${STATE_LABEL[d.state]}`,
  value: d.id,
});

/** Resolves typed text to one of `candidates`, or asks again saying what went wrong. */
export function pickByText<D>(
  c: FlowContext<D>,
  text: string,
  candidates: Deployment[],
  then: (d: Deployment) => Outcome | Promise<Outcome>,
): Outcome | Promise<Outcome> {
  const d = c.services.deployments.find(c.user, text);
  if (d && candidates.some((x) => x.id === d.id)) return then(d);
  const shown = text.trim().length > 40 ? 'that' : `“${esc(text.trim())}”`;
  return { retry: d ? `${esc(d.name)} can't be chosen here now (${STATE_LABEL[d.state]}).` : `You have no deployment called ${shown}.` };
}

/** Picking one of the user's own deployments, by button or by typing its name; shared by /list, /status and /delete. */
import { esc } from '../src/chat/format.js';
import type { Choice, FlowContext, Outcome, Step } from '../src/chat/types.js';
import { STATE_LABEL, type Deployment } from '../src/domain/deployment.js';

export const choiceOf = (d: Deployment): Choice => ({
  label: `${d.name} · ${d.count} node${d.count === 1 ? '' : 's'} · ${STATE_LABEL[d.state]}`,
  value: d.id,
});

/**
 * A step that asks which of `candidates` to act on: a button per candidate, or its name typed.
 * Both answers are checked against the same candidates, read again when the answer comes.
 */
export function pickStep<D>(o: {
  question: (c: FlowContext<D>) => string;
  candidates: (c: FlowContext<D>) => Deployment[];
  then: (c: FlowContext<D>, d: Deployment) => Outcome | Promise<Outcome>;
  /** said when a pressed button's deployment is no longer a candidate */
  unavailable: string;
}): Step<D> {
  return {
    ask: (c) => ({ text: o.question(c), choices: o.candidates(c).map(choiceOf) }),
    onChoice(c, id) {
      const d = o.candidates(c).find((x) => x.id === id);
      return d ? o.then(c, d) : { retry: o.unavailable };
    },
    onText(c, text) {
      const d = c.services.deployments.find(c.user, text);
      if (d && o.candidates(c).some((x) => x.id === d.id)) return o.then(c, d);
      const shown = text.trim().length > 40 ? 'that' : `“${esc(text.trim())}”`;
      return { retry: d ? `${esc(d.name)} can't be chosen here now (${STATE_LABEL[d.state]}).` : `You have no deployment called ${shown}.` };
    },
  };
}

/**
 * The conversation engine: runs flows (small explicit state machines, one file each under flows/),
 * persists where each chat stands in a small file of its own (src/store/flow-store.ts), and turns
 * questions into messages with buttons. Callback data never carries values: `f:<token>:<index>` points into the choices saved
 * with the question, so a button from an older question, another chat, or a forged one is refused
 * for what it is instead of acting on somebody's deployment.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { FlowState, User } from '../domain/user.js';
import type { Services } from '../services/index.js';
import type { FlowStore } from '../store/flow-store.js';
import type { UserStore } from '../store/user-store.js';
import { esc } from './format.js';
import type { Action, AnyFlow, Button, EngineReply, FlowContext, OutMessage, Outcome, Question } from './types.js';

export const PAGE_SIZE = 8;
/** a conversation left alone for this long starts over */
export const FLOW_TTL_MS = 24 * 3_600_000;

export class FlowEngine {
  private readonly flows = new Map<string, AnyFlow>();

  constructor(
    flows: AnyFlow[],
    private readonly actions: Record<string, Action>,
    private readonly services: Services,
    private readonly store: UserStore,
    private readonly flowStore: FlowStore,
    private readonly clock: Clock,
    private readonly help: (user: User) => OutMessage,
  ) {
    for (const f of flows) this.flows.set(f.command, f);
  }

  async onCommand(user: User, command: string, args: string): Promise<EngineReply> {
    if (command === 'cancel') {
      const active = await this.activeFlow(user);
      await this.saveFlow(user, undefined);
      return { send: [{ text: active ? `Cancelled /${active.flow}. Nothing was charged.` : 'Nothing to cancel.' }] };
    }
    if (command === 'help') return { send: [this.help(user)] };
    const flow = this.flows.get(command);
    if (!flow || !this.permits(flow, user)) return { send: [{ text: `I don't know /${esc(command)}. Send /help to see what I can do.` }] };
    const previous = await this.activeFlow(user);
    const c = this.context(user, flow.newData());
    const reply = await this.apply(user, flow, c, await flow.begin(c, args.trim()));
    if (previous && previous.flow !== command && !this.flows.get(previous.flow)?.browsing) reply.send.unshift({ text: `(/${previous.flow} was cancelled.)` });
    return reply;
  }

  async onText(user: User, text: string): Promise<EngineReply> {
    const state = await this.activeFlow(user);
    if (!state) return { send: [{ text: "I answer commands and buttons. Send /help to see what I can do." }] };
    const flow = this.flowOf(state);
    if (!flow) return this.restart(user, state);
    const step = flow.steps[state.step]!;
    const c = this.context(user, state.data);
    if (!step.onText) return this.apply(user, flow, c, { retry: 'Please choose one of the buttons.' }, state);
    return this.apply(user, flow, c, await step.onText(c, text), state);
  }

  async onCallback(user: User, data: string): Promise<EngineReply> {
    if (data.startsWith('a:')) {
      const [, name = '', arg = ''] = /^a:([a-z-]+):?(.*)$/.exec(data) ?? [];
      const action = Object.hasOwn(this.actions, name) ? this.actions[name] : undefined;
      if (!action) return { send: [], toast: 'This button no longer works.' };
      return action(user, arg, this.services);
    }
    const m = /^f:([\w-]+):(\d+|n|p|x)$/.exec(data);
    const state = await this.activeFlow(user);
    if (!m || !state || m[1] !== state.token) {
      const reply: EngineReply = { send: [], toast: 'This button is from an older message.' };
      if (state && this.flowOf(state)) {
        const again = await this.reask(user, state, 'That button is from an older message. Here is the current question:');
        reply.send.push(...again.send);
      }
      return reply;
    }
    const flow = this.flowOf(state);
    if (!flow) return this.restart(user, state);
    const what = m[2]!;
    if (what === 'x') return this.onCommand(user, 'cancel', '');
    if (what === 'n' || what === 'p') {
      const pages = Math.ceil(state.choices.length / PAGE_SIZE);
      const page = Math.min(Math.max(0, state.page + (what === 'n' ? 1 : -1)), pages - 1);
      // the question is asked anew (the list may have changed), so its values are saved anew too:
      // a button's index must point at the value its label shows
      const q = await flow.steps[state.step]!.ask(this.context(user, state.data));
      const next = { ...state, page, choices: (q.choices ?? []).map((ch) => ch.value), updatedAt: this.clock.now() };
      await this.saveFlow(user, next);
      return { send: [], edit: this.render(q, next) };
    }
    const value = state.choices[Number(what)];
    const step = flow.steps[state.step]!;
    if (value === undefined || !step.onChoice) return this.reask(user, state, 'That choice is not available any more.');
    const c = this.context(user, state.data);
    return this.apply(user, flow, c, await step.onChoice(c, value), state);
  }

  /** The user's conversation, unless it expired or is one they may not (any longer) hold. */
  async activeFlow(user: User): Promise<FlowState | undefined> {
    // a user file from before conversations had their own file may still carry one
    const s = (await this.flowStore.get(user.id)) ?? user.flow;
    if (!s || this.clock.now() - s.updatedAt > FLOW_TTL_MS) return undefined;
    const flow = this.flows.get(s.flow);
    if (flow && !this.permits(flow, user)) return undefined;
    return s;
  }

  private permits(flow: AnyFlow, user: User): boolean {
    return !flow.allowed || flow.allowed(user, this.services);
  }

  private flowOf(state: FlowState): AnyFlow | undefined {
    const flow = this.flows.get(state.flow);
    return flow && flow.version === state.version && flow.steps[state.step] ? flow : undefined;
  }

  private async restart(user: User, state: FlowState): Promise<EngineReply> {
    await this.saveFlow(user, undefined);
    return {
      send: [{ text: `I was updated while we talked, so that conversation can't go on. Please start again with /${state.flow}.` }],
    };
  }

  private async reask(user: User, state: FlowState, note: string): Promise<EngineReply> {
    const flow = this.flowOf(state)!;
    const c = this.context(user, state.data);
    return this.apply(user, flow, c, { retry: note }, state);
  }

  private async apply(
    user: User,
    flow: AnyFlow,
    c: FlowContext<object>,
    outcome: Outcome,
    current?: FlowState,
  ): Promise<EngineReply> {
    if ('done' in outcome) {
      await this.saveFlow(user, undefined);
      return { send: outcome.done };
    }
    const stepName = 'goto' in outcome ? outcome.goto : current?.step;
    const step = stepName ? flow.steps[stepName] : undefined;
    if (!stepName || !step) throw new Error(`flow /${flow.command} has no step ${String(stepName)}`);
    const q = await step.ask(c);
    const now = this.clock.now();
    const state: FlowState = {
      flow: flow.command,
      version: flow.version,
      step: stepName,
      token: randomBytes(4).toString('base64url'),
      data: c.data as Record<string, unknown>,
      choices: (q.choices ?? []).map((ch) => ch.value),
      page: 0,
      updatedAt: now,
    };
    await this.saveFlow(user, state);
    const question = this.render(q, state);
    // a refused answer and the question again make one message: half the traffic, and clearer
    if ('retry' in outcome) return { send: [{ ...question, text: `⚠️ ${outcome.retry}\n\n${question.text}` }] };
    return { send: [...(outcome.say ?? []), question] };
  }

  private render(q: Question, state: FlowState): OutMessage {
    const choices = q.choices ?? [];
    const cols = Math.max(1, q.columns ?? 1);
    const paged = choices.length > PAGE_SIZE;
    const start = paged ? state.page * PAGE_SIZE : 0;
    const slice = choices.slice(start, paged ? start + PAGE_SIZE : undefined);
    const rows: Button[][] = [];
    slice.forEach((ch, i) => {
      const b = { label: ch.label, data: `f:${state.token}:${start + i}` };
      if (i % cols === 0) rows.push([b]);
      else rows[rows.length - 1]!.push(b);
    });
    if (paged) {
      const nav: Button[] = [];
      if (state.page > 0) nav.push({ label: '‹ Back', data: `f:${state.token}:p` });
      if (start + PAGE_SIZE < choices.length) nav.push({ label: 'More ›', data: `f:${state.token}:n` });
      rows.push(nav);
    }
    rows.push([{ label: '✖ Cancel', data: `f:${state.token}:x` }]);
    const pageNote = paged ? `\n<i>Page ${state.page + 1} of ${Math.ceil(choices.length / PAGE_SIZE)}</i>` : '';
    return { text: q.text + pageNote, buttons: rows };
  }

  private context(user: User, data: object): FlowContext<object> {
    return { user, data: structuredClone(data), services: this.services, now: this.clock.now() };
  }

  /**
   * Conversation state has its own small file (src/store/flow-store.ts): an answer no longer
   * rewrites the user's whole file. A user file that still carries `flow` (written before) loses it
   * at the conversation's next step, ordered so that a crash in between never brings back an ended
   * conversation nor loses a live one.
   */
  private async saveFlow(user: User, state: FlowState | undefined): Promise<void> {
    const legacy = user.flow !== undefined;
    const dropLegacy = () =>
      this.store.update(user.id, (u) => {
        delete u.flow;
      });
    if (legacy && !state) await dropLegacy();
    await this.flowStore.set(user.id, state);
    if (legacy && state) await dropLegacy();
    if (legacy) delete user.flow;
  }
}

/**
 * /extend [name]: pick a deployment → what to do:
 *   top up → a period (1 week, 1 month, 3 months, or typed days) → the amount from the real hourly
 *     cost → QR → the deposit is detected by a job → the new runway;
 *   add nodes → how many → where → the added cost → confirm → pay if the wallet lacks a month of it
 *     → a job deploys them;
 *   more storage (storage deployments only, which get no "add nodes") → another group of k + m data
 *     backends like the first, its size and cost → confirm → pay if the wallet lacks a month of it
 *     → a job deploys them and sends the updated zstor config.
 */
import { duration, esc, plural } from '../src/chat/format.js';
import type { EngineReply, Flow, FlowContext, Outcome } from '../src/chat/types.js';
import { placementLabel, type Deployment, type Placement } from '../src/domain/deployment.js';
import { formatTft, HOURS_PER_MONTH } from '../src/domain/money.js';
import { monthCoverLine } from '../src/chat/views.js';
import type { User } from '../src/domain/user.js';
import type { Services } from '../src/services/index.js';
import { MAX_NODES } from '../src/services/deployments.js';
import { formatGb, groupCount, layoutOf, MAX_STORAGE_GROUPS, planGroup, schemeLabel } from '../src/storage/plan.js';
import { qrPrompt, stellarPrompt, type PromptActions } from './payment.js';
import { pickStep } from './pick.js';

interface ExtendData {
  id?: string;
  count?: number;
  placement?: Placement;
  hourlyCost?: number;
}

const PERIODS = [
  { label: '1 week', hours: 7 * 24 },
  { label: '1 month', hours: 30 * 24 },
  { label: '3 months', hours: 90 * 24 },
];
const MAX_DAYS = 365;

type Ctx = FlowContext<ExtendData>;
const chosen = (c: Ctx): Deployment | undefined => c.services.deployments.extendable(c.user).find((d) => d.id === c.data.id);
const profileOf = (c: Ctx, d: Deployment) => c.services.profiles.find((p) => p.id === d.profileId);
const gone: Outcome = { done: [{ text: 'That deployment cannot be extended now. /list shows where things stand.' }] };

/** The last question before an extension that costs money. */
const CONFIRM_OR_CANCEL = [
  { label: '✅ Confirm', value: 'confirm' },
  { label: 'Cancel', value: 'cancel' },
];

const EXTENSION_ACTIONS: PromptActions = { paid: 'xpaid', simulate: 'xsim', stellar: 'xstellar', cancel: 'xcancel', cancelLabel: 'Cancel' };

async function topUp(c: Ctx, hours: number): Promise<Outcome> {
  const d = chosen(c);
  if (!d) return gone;
  const r = await c.services.deployments.requestExtension(c.user.id, d.id, { kind: 'topup', hours });
  if (!r.ok) return { done: [{ text: esc(r.reason) }] };
  const p = r.deployment.extension!.payment!;
  const prompt = await qrPrompt(c.services, p, `To keep your deployments running ${duration(hours * 3_600_000)} longer`, EXTENSION_ACTIONS, d.id);
  return { done: [prompt] };
}

export const extendFlow: Flow<ExtendData> = {
  command: 'extend',
  description: 'Top up the wallet, or add nodes to a deployment',
  version: 1,
  newData: () => ({}),
  begin(c, args) {
    const candidates = c.services.deployments.extendable(c.user);
    if (args) {
      const d = c.services.deployments.find(c.user, args);
      if (!d) return { done: [{ text: `You have no deployment called “${esc(args.slice(0, 40))}”. /list shows them.` }] };
      if (!candidates.some((x) => x.id === d.id)) {
        return { done: [{ text: `<b>${esc(d.name)}</b> cannot be extended now: it must be up, with no other extension under way.` }] };
      }
      c.data.id = d.id;
      return { goto: 'what' };
    }
    if (candidates.length === 0) return { done: [{ text: 'You have nothing to extend: a deployment must be up first. /deploy starts one.' }] };
    if (candidates.length === 1) {
      c.data.id = candidates[0]!.id;
      return { goto: 'what' };
    }
    return { goto: 'pick' };
  },
  steps: {
    pick: pickStep({
      question: () => 'Which deployment?',
      candidates: (c) => c.services.deployments.extendable(c.user),
      then: (c, d) => {
        c.data.id = d.id;
        return { goto: 'what' };
      },
      unavailable: 'That one cannot be extended now.',
    }),
    what: {
      async ask(c) {
        const d = chosen(c);
        if (!d) return { text: 'That deployment cannot be extended now.', choices: [] };
        const view = await c.services.deployments.walletView(c.user);
        const storage = profileOf(c, d)?.kind === 'storage';
        return {
          text:
            `<b>${esc(d.name)}</b>: ${plural(d.count, 'node')}, ${formatTft(d.hourlyCost)}/h.\n` +
            `Your wallet holds ${formatTft(view.balance)}: at ${formatTft(view.hourlyBurn)}/h for all your deployments, that lasts ${duration(view.runwayMs)}.\n` +
            'What would you like to do?',
          choices: [
            { label: '💰 Top up the wallet', value: 'topup' },
            // a storage deployment grows by groups of backends, never by loose nodes
            ...(storage ? [{ label: '💾 More storage', value: 'storage' }] : [{ label: '➕ Add nodes', value: 'grow' }]),
          ],
        };
      },
      onChoice(c, value) {
        if (value === 'topup') return { goto: 'period' };
        const d = chosen(c);
        const storage = d !== undefined && d.storage !== undefined && profileOf(c, d)?.kind === 'storage';
        if (value === 'storage' && storage) return { goto: 'storage' };
        if (value === 'grow' && !storage) return { goto: 'count' };
        return { retry: 'Please choose one of the buttons.' };
      },
    },
    storage: {
      async ask(c) {
        const d = chosen(c);
        if (!d?.storage) return { text: 'That deployment cannot be extended now.', choices: [] };
        const l = layoutOf(d);
        const groups = groupCount(d.nodes);
        const n = l.data + l.parity;
        if (groups >= MAX_STORAGE_GROUPS) {
          delete c.data.hourlyCost;
          return { text: `<b>${esc(d.name)}</b> already has ${MAX_STORAGE_GROUPS} groups of backends, the most a storage deployment can have. /deploy makes another one.`, choices: [] };
        }
        const used = [...new Set(d.nodes.filter((x) => x.state === 'ok').map((x) => x.nodeId))];
        const quote = await planGroup(c.services.planner, l, d.placement, used);
        if (!quote.ok) {
          delete c.data.hourlyCost;
          return { text: `⚠️ I can't add storage to <b>${esc(d.name)}</b> now: ${esc(quote.reason)}.`, choices: [] };
        }
        c.data.hourlyCost = quote.hourlyCost;
        const balance = await c.services.wallet.balance(c.user);
        const monthly = quote.hourlyCost * HOURS_PER_MONTH;
        const fresh = quote.nodes.filter((x) => !used.includes(x.nodeId)).length;
        return {
          text: [
            `<b>Add ${formatGb(l.usableGb)} to ${esc(d.name)}?</b> It holds ${formatGb(l.usableGb * groups)} usable now; then ${formatGb(l.usableGb * (groups + 1))}.`,
            `Another group like the first: ${plural(n, 'data backend')} of ${formatGb(l.backendGb)} (${schemeLabel(l)}) on ${n} different nodes` +
              (fresh === n ? ' the deployment does not use yet' : `, ${fresh} of them new to it (the grid has no more room elsewhere)`) +
              `, in ${esc([...new Set(quote.nodes.map((x) => x.country))].join(', '))}. The metadata 0-dbs stay as they are.`,
            `Added cost: <b>${formatTft(quote.hourlyCost)}/h</b>, about ${formatTft(monthly)} a month; ${esc(d.name)} then costs ${formatTft(d.hourlyCost + quote.hourlyCost)}/h in all.`,
            'When they are up I send the updated zstor configuration, for your machine to reload.',
            monthCoverLine(balance, monthly, 'their'),
          ].join('\n'),
          choices: CONFIRM_OR_CANCEL,
          columns: 2,
        };
      },
      async onChoice(c, value) {
        if (value !== 'confirm') return { done: [{ text: 'Nothing changed.' }] };
        const d = chosen(c);
        if (!d?.storage) return gone;
        if (c.data.hourlyCost === undefined) return { retry: 'This storage cannot be added as asked.' };
        const r = await c.services.deployments.requestExtension(c.user.id, d.id, { kind: 'storage', groups: 1, hourlyCost: c.data.hourlyCost });
        if (!r.ok) return { done: [{ text: esc(r.reason) }] };
        const size = formatGb(layoutOf(d).usableGb);
        const p = r.deployment.extension?.payment;
        if (p) return { done: [await qrPrompt(c.services, p, `To add ${size} to <b>${esc(d.name)}</b>`, EXTENSION_ACTIONS, d.id)] };
        return { done: [{ text: `👍 Your wallet covers it. Adding ${size} to <b>${esc(d.name)}</b> now; I'll report here and send the updated zstor configuration.` }] };
      },
    },
    period: {
      async ask(c) {
        const quotes = await Promise.all(PERIODS.map((p) => c.services.deployments.topUpQuote(c.user, p.hours)));
        return {
          text: `How much longer should your deployments run? Pick a period, or type a number of days (1 to ${MAX_DAYS}).`,
          choices: PERIODS.map((p, i) => ({ label: `${p.label} · ${formatTft(quotes[i]!.amount)}`, value: String(p.hours) })),
        };
      },
      onChoice: (c, value) => topUp(c, Number(value)),
      onText(c, text) {
        const m = /^\s*(\d{1,4})\s*(d|days?)?\s*$/i.exec(text);
        const days = m ? Number(m[1]) : NaN;
        if (!(days >= 1 && days <= MAX_DAYS)) return { retry: `Please type a number of days from 1 to ${MAX_DAYS}, or pick a period.` };
        return topUp(c, days * 24);
      },
    },
    count: {
      ask(c) {
        const d = chosen(c);
        const room = d ? MAX_NODES - d.count : 0;
        return {
          text: `How many nodes should I add to <b>${esc(d?.name ?? '')}</b>? Pick one or type a number from 1 to ${room}.`,
          choices: [1, 2, 3, 5].filter((n) => n <= room).map((n) => ({ label: String(n), value: String(n) })),
          columns: 4,
        };
      },
      onChoice(c, value) {
        c.data.count = Number(value);
        return { goto: 'where' };
      },
      onText(c, text) {
        const d = chosen(c);
        const room = d ? MAX_NODES - d.count : 0;
        const n = /^\s*\d{1,6}\s*$/.test(text) ? Number(text) : NaN;
        if (!(n >= 1 && n <= room)) return { retry: room > 0 ? `Please send a whole number from 1 to ${room}.` : `It already has the most nodes a deployment can have (${MAX_NODES}).` };
        c.data.count = n;
        return { goto: 'where' };
      },
    },
    where: {
      async ask(c) {
        const d = chosen(c);
        const profile = d && profileOf(c, d);
        const countries = profile ? await c.services.planner.countries(profile, c.data.count!, d?.size) : [];
        const same = d?.placement.kind === 'country' ? d.placement.country : undefined;
        return {
          text: `Where should the new ${plural(c.data.count!, 'node')} run?`,
          choices: [
            ...(same && countries.some((x) => x.country === same) ? [{ label: `📍 ${same}, like the others`, value: `country:${same}` }] : []),
            { label: '🎲 Anywhere', value: 'random' },
            ...countries.filter((x) => x.country !== same).map((x) => ({ label: `${x.country} (${x.nodes} nodes)`, value: `country:${x.country}` })),
          ],
          columns: 2,
        };
      },
      onChoice(c, value) {
        c.data.placement = value === 'random' ? { kind: 'random' } : { kind: 'country', country: value.slice('country:'.length) };
        return { goto: 'confirm' };
      },
    },
    confirm: {
      async ask(c) {
        const d = chosen(c);
        const profile = d && profileOf(c, d);
        if (!d || !profile) return { text: 'That deployment cannot be extended now.', choices: [] };
        const exclude = d.nodes.filter((n) => n.state === 'ok').map((n) => n.nodeId);
        const quote = await c.services.planner.plan(profile, c.data.count!, c.data.placement!, exclude, d.size);
        if (!quote.ok) {
          delete c.data.hourlyCost;
          return {
            text: `⚠️ I can't add these nodes: ${esc(quote.reason)}.`,
            choices: [
              { label: '📍 Choose another place', value: 'where' },
              { label: '🔢 Change how many', value: 'count' },
            ],
          };
        }
        c.data.hourlyCost = quote.hourlyCost;
        const balance = await c.services.wallet.balance(c.user);
        const monthly = quote.hourlyCost * HOURS_PER_MONTH;
        return {
          text: [
            `<b>Add ${plural(c.data.count!, 'node')} to ${esc(d.name)}?</b>`,
            `Where: ${esc(placementLabel(c.data.placement!))} (${esc([...new Set(quote.nodes.map((n) => n.country))].join(', '))})`,
            `Added cost: <b>${formatTft(quote.hourlyCost)}/h</b>, about ${formatTft(monthly)} a month; ${esc(d.name)} then costs ${formatTft(d.hourlyCost + quote.hourlyCost)}/h in all.`,
            monthCoverLine(balance, monthly, 'their'),
          ].join('\n'),
          choices: CONFIRM_OR_CANCEL,
          columns: 2,
        };
      },
      async onChoice(c, value) {
        if (value === 'where' || value === 'count') return { goto: value };
        if (value !== 'confirm') return { done: [{ text: 'Nothing changed.' }] };
        const d = chosen(c);
        if (!d) return gone;
        if (c.data.hourlyCost === undefined) return { retry: 'These nodes cannot be added as asked.' };
        const r = await c.services.deployments.requestExtension(c.user.id, d.id, {
          kind: 'grow',
          count: c.data.count!,
          placement: c.data.placement!,
          hourlyCost: c.data.hourlyCost,
        });
        if (!r.ok) return { done: [{ text: esc(r.reason) }] };
        const p = r.deployment.extension?.payment;
        if (p) return { done: [await qrPrompt(c.services, p, `To add ${plural(c.data.count!, 'node')} to <b>${esc(d.name)}</b>`, EXTENSION_ACTIONS, d.id)] };
        return { done: [{ text: `👍 Your wallet covers it. Adding ${plural(c.data.count!, 'node')} to <b>${esc(d.name)}</b> now; I'll report here.` }] };
      },
    },
  },
};

function pending(user: User, id: string) {
  return user.deployments.find((d) => d.id === id && d.state !== 'deleted')?.extension;
}

/** The buttons of an extension's payment prompt; they act on the presser's own deployments only. */
export const extendActions = {
  async xpaid(user: User, id: string, s: Services): Promise<EngineReply> {
    const x = pending(user, id);
    if (!x?.payment) return { send: [], toast: 'Nothing is waiting for a payment there.' };
    const { paid, balance } = await s.deployments.checkExtensionPayment(user, id);
    if (paid) return { send: [], toast: 'Payment found. Going on…' };
    return { send: [{ text: `I don't see the ${formatTft(x.payment.due)} yet (your wallet has ${formatTft(balance)}). Transfers take about a minute; I keep watching and go on by myself.` }] };
  },
  async xstellar(user: User, id: string, s: Services): Promise<EngineReply> {
    const x = pending(user, id);
    if (!x?.payment) return { send: [], toast: 'Nothing is waiting for a payment there.' };
    return stellarPrompt(s, user, x.payment);
  },
  async xsim(user: User, id: string, s: Services): Promise<EngineReply> {
    const x = pending(user, id);
    if (!x?.payment) return { send: [], toast: 'Nothing is waiting for a payment there.' };
    if (!s.wallet.canSimulatePayments) return { send: [], toast: 'Payments can only be simulated on the test grid.' };
    await s.wallet.simulatePayment(user, x.payment.due);
    await s.deployments.checkExtensionPayment(user, id);
    return { send: [], toast: `Simulated a payment of ${formatTft(x.payment.due)}.` };
  },
  async xcancel(user: User, id: string, s: Services): Promise<EngineReply> {
    const r = await s.deployments.cancelExtension(user.id, id);
    return r.ok ? { send: [{ text: 'Cancelled. Nothing changed; TFT that arrive later stay in your wallet.' }] } : { send: [], toast: r.reason ?? 'Nothing to cancel.' };
  },
};

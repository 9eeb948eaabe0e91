/**
 * /deploy: node type → how many → where → a name → the profile's own inputs → summary with the
 * monthly cost → confirm → (payment) → a job provisions. Nothing costs anything before "Confirm".
 */
import { esc, plural } from '../src/chat/format.js';
import { PROFILES } from '../src/catalog/index.js';
import type { Flow, FlowContext, Outcome, Step } from '../src/chat/types.js';
import { placementLabel, type Placement } from '../src/domain/deployment.js';
import { formatTft, HOURS_PER_MONTH } from '../src/domain/money.js';
import { monthCoverLine } from '../src/chat/views.js';
import type { Services } from '../src/services/index.js';
import { MAX_NODES, NAME_RULE, normalizeName } from '../src/services/deployments.js';
import { paymentPrompt } from './payment.js';

interface DeployData {
  profileId?: string;
  count?: number;
  placement?: Placement;
  name?: string;
  /** the profile's inputs given so far, in order */
  inputs: Record<string, string>;
  hourlyCost?: number;
}

const profileOf = (s: Services, d: DeployData) => s.profiles.find((p) => p.id === d.profileId)!;

/** The step after the name: the profile's first missing input, or the summary. */
function afterName(s: Services, d: DeployData): Outcome {
  const next = profileOf(s, d).inputs.find((i) => !(i.key in d.inputs));
  return { goto: next ? `input:${next.key}` : 'confirm' };
}

function suggestName(s: Services, d: DeployData, taken: (n: string) => boolean): string {
  const base = profileOf(s, d).id.split('-')[0]!.replace(/[^a-z]/g, '').slice(0, 12);
  for (let i = 1; ; i++) if (!taken(`${base}${i}`)) return `${base}${i}`;
}

function inputStep(key: string): Step<DeployData> {
  const input = (c: FlowContext<DeployData>) => profileOf(c.services, c.data).inputs.find((i) => i.key === key)!;
  return {
    ask: (c) => ({ text: input(c).prompt }),
    onText(c, text) {
      const r = input(c).parse(text);
      if (!r.ok) return { retry: r.error };
      c.data.inputs[key] = c.services.deployments.sealInput(c.data.profileId!, key, r.value);
      return afterName(c.services, c.data);
    },
  };
}

export const deployFlow: Flow<DeployData> = {
  command: 'deploy',
  description: 'Deploy blockchain nodes: pick a type, how many, where; pay; done',
  version: 1,
  newData: () => ({ inputs: {} }),

  begin(c, args) {
    const wanted = args.toLowerCase();
    const p = wanted && c.services.profiles.find((x) => x.id === wanted || x.chain.toLowerCase() === wanted);
    if (p) {
      c.data.profileId = p.id;
      return { goto: 'count' };
    }
    return { goto: 'type' };
  },

  steps: {
    type: {
      ask: (c) => ({
        text: [
          '<b>What would you like to deploy?</b>',
          ...c.services.profiles.map((p) => `• <b>${esc(p.title)}</b>: ${esc(p.summary)}`),
        ].join('\n'),
        choices: c.services.profiles.map((p) => ({ label: p.title, value: p.id })),
      }),
      onChoice(c, value) {
        c.data.profileId = value;
        return { goto: 'count' };
      },
    },

    count: {
      ask: (c) => ({
        text: `How many <b>${esc(profileOf(c.services, c.data).title)}s</b>? Pick one or type a number from 1 to ${MAX_NODES}.`,
        choices: [1, 2, 3, 5, 10].map((n) => ({ label: String(n), value: String(n) })),
        columns: 5,
      }),
      onChoice(c, value) {
        c.data.count = Number(value);
        return { goto: 'where' };
      },
      onText(c, text) {
        const t = text.trim();
        if (!/^\d{1,6}$/.test(t)) return { retry: `Please send a whole number from 1 to ${MAX_NODES}.` };
        const n = Number(t);
        if (n < 1 || n > MAX_NODES) return { retry: `I can deploy from 1 to ${MAX_NODES} nodes at once; ${n} is out of range.` };
        c.data.count = n;
        return { goto: 'where' };
      },
    },

    where: {
      async ask(c) {
        const countries = await c.services.planner.countries(profileOf(c.services, c.data), c.data.count!);
        return {
          text:
            `Where should the ${plural(c.data.count!, 'node')} run? Anywhere picks the best nodes on the grid; ` +
            (countries.length
              ? `or choose one of the ${countries.length} countries with room for them (or type its name).`
              : 'no single country has room for all of them right now.'),
          choices: [
            { label: '🎲 Anywhere', value: 'random' },
            ...countries.map((x) => ({ label: `${x.country} (${x.nodes} nodes)`, value: `country:${x.country}` })),
          ],
          columns: 2,
        };
      },
      onChoice(c, value) {
        c.data.placement = value === 'random' ? { kind: 'random' } : { kind: 'country', country: value.slice('country:'.length) };
        return { goto: 'name' };
      },
      async onText(c, text) {
        const wanted = text.trim().toLowerCase();
        if (['anywhere', 'random', 'any'].includes(wanted)) {
          c.data.placement = { kind: 'random' };
          return { goto: 'name' };
        }
        const countries = await c.services.planner.countries(profileOf(c.services, c.data), c.data.count!);
        const hit = countries.find((x) => x.country.toLowerCase() === wanted);
        if (!hit) {
          return {
            retry:
              wanted.length > 60
                ? 'That is not a country name.'
                : `No node in “${esc(text.trim())}” has room for ${plural(c.data.count!, 'node')} right now. Pick a country from the list, or Anywhere.`,
          };
        }
        c.data.placement = { kind: 'country', country: hit.country };
        return { goto: 'name' };
      },
    },

    name: {
      ask(c) {
        const suggestion = suggestName(c.services, c.data, (n) => c.services.deployments.isNameTaken(c.user, n));
        return {
          text: `Give it a name (${NAME_RULE}), or take <b>${suggestion}</b>.`,
          choices: [{ label: `Use ${suggestion}`, value: suggestion }],
        };
      },
      onChoice(c, value) {
        c.data.name = value;
        return afterName(c.services, c.data);
      },
      onText(c, text) {
        const r = normalizeName(text);
        if (!r.ok) return { retry: r.error };
        if (c.services.deployments.isNameTaken(c.user, r.name)) {
          return { retry: `You already have a deployment called <b>${r.name}</b>. Choose another name.` };
        }
        c.data.name = r.name;
        return afterName(c.services, c.data);
      },
    },

    // one step per input any profile asks for; the profile says how to ask and validate
    ...Object.fromEntries(PROFILES.flatMap((p) => p.inputs).map((i) => [`input:${i.key}`, inputStep(i.key)])),

    confirm: {
      async ask(c) {
        const p = profileOf(c.services, c.data);
        const quote = await c.services.deployments.quote({ profileId: p.id, count: c.data.count!, placement: c.data.placement! });
        if (!quote.ok) {
          delete c.data.hourlyCost;
          return {
            text: `⚠️ I can't place this order: ${esc(quote.reason)}. Choose fewer nodes or another place.`,
            choices: [
              { label: '📍 Choose another place', value: 'where' },
              { label: '🔢 Change how many', value: 'count' },
            ],
          };
        }
        c.data.hourlyCost = quote.hourlyCost;
        const balance = await c.services.wallet.balance(c.user);
        const monthly = quote.hourlyCost * HOURS_PER_MONTH;
        const countries = [...new Set(quote.nodes.map((n) => n.country))].join(', ');
        return {
          text: [
            '<b>Please check your order</b>',
            `${plural(c.data.count!, p.title)} named <b>${esc(c.data.name!)}</b>`,
            `Where: ${esc(placementLabel(c.data.placement!))} (nodes in ${esc(countries)})`,
            `Resources per node: ${esc(p.summary)}`,
            `Image: ${esc(p.imageNote)}`,
            `Cost: <b>${formatTft(quote.hourlyCost)}/h</b>, about <b>${formatTft(monthly)} a month</b>, billed hourly by the grid from your wallet.`,
            monthCoverLine(balance, monthly, 'the'),
            ...(p.notice ? ['', `ℹ️ ${esc(p.notice)}`] : []),
          ].join('\n'),
          choices: [
            { label: '✅ Confirm', value: 'confirm' },
            { label: '↩️ Start over', value: 'restart' },
          ],
          columns: 2,
        };
      },
      async onChoice(c, value) {
        if (value === 'where' || value === 'count') return { goto: value };
        if (value === 'restart') {
          c.data = { inputs: {} };
          return { goto: 'type' };
        }
        if (c.data.hourlyCost === undefined) return { retry: 'This order cannot be placed as it is.' };
        if (c.services.deployments.isNameTaken(c.user, c.data.name!)) {
          return { goto: 'name', say: [{ text: `You already have a deployment called <b>${esc(c.data.name!)}</b>.` }] };
        }
        const { deployment, due } = await c.services.deployments.order(
          c.user.id,
          { profileId: c.data.profileId!, count: c.data.count!, placement: c.data.placement!, name: c.data.name!, inputs: c.data.inputs },
          c.data.hourlyCost,
        );
        if (due > 0) return { done: [await paymentPrompt(c.services, deployment)] };
        return {
          done: [{ text: `👍 Your wallet covers it. Deploying <b>${esc(deployment.name)}</b> now; I'll report here.` }],
        };
      },
    },
  },
};

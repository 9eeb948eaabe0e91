/**
 * /deploy: node type → how many → where → a name → the profile's own inputs → summary with the
 * monthly cost → confirm → (payment) → a job provisions. Nothing costs anything before "Confirm".
 */
import { esc, plural } from '../src/chat/format.js';
import { PROFILES, profileById } from '../src/catalog/index.js';
import type { Flow, FlowContext, Outcome, Step } from '../src/chat/types.js';
import { placementLabel, type Placement } from '../src/domain/deployment.js';
import { formatTft, HOURS_PER_MONTH } from '../src/domain/money.js';
import { monthCoverLine } from '../src/chat/views.js';
import type { Services } from '../src/services/index.js';
import type { PlannedNode, Places } from '../src/services/planner.js';
import { MAX_NODES, NAME_RULE, normalizeName } from '../src/services/deployments.js';
import { paymentPrompt } from './payment.js';
import { verificationMessage } from './verify.js';
import { isStorageProfile, SIZE_STEP as STORAGE_SIZE, storageOrderLines, storageSteps, storageWhereSpec } from './storage.js';

interface DeployData {
  profileId?: string;
  count?: number;
  placement?: Placement;
  name?: string;
  /** the profile's inputs given so far, in order */
  inputs: Record<string, string>;
  hourlyCost?: number;
  /** the profile's size id, when it has several */
  size?: string;
  /** the planner's suggestions at the summary: the first is what Confirm takes */
  options?: { label: string; hourlyCost: number; nodes: PlannedNode[]; farms: number; countries: string[] }[];
  /** places that could take the order when the chosen one cannot */
  alternatives?: Placement[];
  /** a storage profile: the size step's answer, then size and redundancy together (flows/storage.ts) */
  storageGb?: number;
  storage?: { usableGb: number; data: number; parity: number };
}

/** The chosen profile; one the operator took off the menu meanwhile is still found, and refused at the summary. */
const profileOf = (s: Services, d: DeployData) => s.profiles.find((p) => p.id === d.profileId) ?? profileById(d.profileId ?? '')!;
const offered = (s: Services, d: DeployData) => s.profiles.some((p) => p.id === d.profileId);

const fold = (t: string) => t.normalize('NFD').replace(/[\u0300-\u036f]/g, '').trim().toLowerCase();

/** What the where step offers: places with room for the whole order (a storage order counts its backends). */
function placesFor(c: FlowContext<DeployData>): Promise<Places> {
  const what = storageWhereSpec(c) ?? profileOf(c.services, c.data);
  return c.services.planner.places(what, c.data.count!, c.data.size);
}

/** Why a typed place cannot take the order, in the planner's words, with what could instead. */
async function whyNot(c: FlowContext<DeployData>, typed: string): Promise<string> {
  const what = storageWhereSpec(c) ?? profileOf(c.services, c.data);
  const e = await c.services.planner.explain(what, c.data.count!, { kind: 'country', country: typed }, [], c.data.size);
  const instead = e.alternatives.map((a) => `${esc(a.label)} (${a.nodes})`).join(', ');
  return `I can't place it there: ${esc(e.reason)}.${instead ? ` These could: ${instead}.` : ''}`;
}

const OPTION_ICON: Record<string, string> = { Cheapest: '💸', 'Certified only': '🏅' };

/** The other suggestions, one line each, under the recommended one the summary shows. */
function optionLines(options: NonNullable<DeployData['options']>): string[] {
  if (options.length < 2) return [];
  return [
    '',
    'Or choose:',
    ...options.slice(1).map((o) => `• ${esc(o.label)}: ${formatTft(o.hourlyCost * HOURS_PER_MONTH)} a month, ${plural(o.farms, 'farm')} in ${esc(o.countries.join(', '))}`),
  ];
}

/** After how many: the size when the profile has several, else where. */
function afterCount(s: Services, d: DeployData): Outcome {
  return profileOf(s, d).sizes.length > 1 ? { goto: 'size' } : { goto: 'where' };
}

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

  async begin(c, args) {
    // the grid deploys only for verified accounts: asked before anything is chosen or paid
    const verified = await c.services.verification.status(c.user).catch(() => undefined);
    if (verified === undefined) return { done: [{ text: 'The grid’s identity check does not answer right now. Please try /deploy again in a few minutes.' }] };
    if (verified !== 'verified') return { done: [await verificationMessage(c.services, c.user, verified, 'Before your first deployment, one step.')] };
    const wanted = args.toLowerCase();
    const p = wanted && c.services.profiles.find((x) => x.id === wanted || x.chain.toLowerCase() === wanted);
    if (p) {
      c.data.profileId = p.id;
      if (isStorageProfile(p)) return { goto: STORAGE_SIZE };
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
        if (!c.services.profiles.some((p) => p.id === value)) return { retry: 'That node type is no longer offered.' };
        c.data.profileId = value;
        if (isStorageProfile(profileOf(c.services, c.data))) return { goto: STORAGE_SIZE };
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
        return afterCount(c.services, c.data);
      },
      onText(c, text) {
        const t = text.trim();
        if (!/^\d{1,6}$/.test(t)) return { retry: `Please send a whole number from 1 to ${MAX_NODES}.` };
        const n = Number(t);
        if (n < 1 || n > MAX_NODES) return { retry: `I can deploy from 1 to ${MAX_NODES} nodes at once; ${n} is out of range.` };
        c.data.count = n;
        return afterCount(c.services, c.data);
      },
    },

    // profiles that come in several sizes (Polygon: mainnet or Amoy) ask which
    size: {
      ask: (c) => ({
        text: `Which <b>${esc(profileOf(c.services, c.data).title)}</b>?`,
        choices: profileOf(c.services, c.data).sizes.map((s) => ({ label: s.label, value: s.id })),
      }),
      onChoice(c, value) {
        if (!profileOf(c.services, c.data).sizes.some((s) => s.id === value)) return { retry: 'That size is no longer offered.' };
        c.data.size = value;
        return { goto: 'where' };
      },
    },

    where: {
      async ask(c) {
        const { countries, cities, farms } = await placesFor(c);
        return {
          text:
            `Where should the ${plural(c.data.count!, 'node')} run? Anywhere picks the best nodes on the grid; ` +
            (countries.length
              ? `or choose one of the ${countries.length} countries with room for them, a city or a farm (or type its name).`
              : 'no single country has room for all of them right now.'),
          choices: [
            { label: '🎲 Anywhere', value: 'random' },
            ...(cities.length ? [{ label: `🏙 A city (${cities.length})`, value: 'cities' }] : []),
            ...(farms.length ? [{ label: `🚜 A farm (${farms.length})`, value: 'farms' }] : []),
            ...countries.map((x) => ({ label: `${x.country} (${x.nodes} nodes)`, value: `country:${x.country}` })),
          ],
          columns: 2,
        };
      },
      onChoice(c, value) {
        if (value === 'cities') return { goto: 'where:city' };
        if (value === 'farms') return { goto: 'where:farm' };
        c.data.placement = value === 'random' ? { kind: 'random' } : { kind: 'country', country: value.slice('country:'.length) };
        return { goto: 'name' };
      },
      async onText(c, text) {
        const wanted = fold(text);
        if (['anywhere', 'random', 'any'].includes(wanted)) {
          c.data.placement = { kind: 'random' };
          return { goto: 'name' };
        }
        if (wanted.length > 60) return { retry: 'That is not a place name.' };
        const { countries, cities, farms } = await placesFor(c);
        const country = countries.find((x) => fold(x.country) === wanted);
        const city = cities.find((x) => fold(x.city) === wanted || fold(`${x.city}, ${x.country}`) === wanted);
        const farm = farms.find((x) => fold(x.farmName) === wanted || String(x.farmId) === wanted);
        const placement: Placement | undefined = country
          ? { kind: 'country', country: country.country }
          : city
            ? { kind: 'city', country: city.country, city: city.city }
            : farm
              ? { kind: 'farm', farmId: farm.farmId, farmName: farm.farmName }
              : undefined;
        if (placement) {
          c.data.placement = placement;
          return { goto: 'name' };
        }
        return { retry: await whyNot(c, text.trim()) };
      },
    },

    'where:city': {
      async ask(c) {
        const { cities } = await placesFor(c);
        return {
          text: `Which city? These have room for ${plural(c.data.count!, 'node')}.`,
          choices: cities.map((x) => ({ label: `${x.city}, ${x.country} (${x.nodes})`, value: `${x.country}|${x.city}` })),
          columns: 2,
        };
      },
      onChoice(c, value) {
        const [country = '', city = ''] = value.split('|');
        c.data.placement = { kind: 'city', country, city };
        return { goto: 'name' };
      },
    },

    'where:farm': {
      async ask(c) {
        const { farms } = await placesFor(c);
        return {
          text: `Which farm? These have room for ${plural(c.data.count!, 'node')}${c.data.count! > 1 ? ' (on distinct nodes)' : ''}.`,
          choices: farms.map((x) => ({ label: `${x.farmName} (${x.farmId}) · ${x.nodes} nodes${x.certified ? ' · certified' : ''}`, value: String(x.farmId) })),
        };
      },
      async onChoice(c, value) {
        const farm = (await placesFor(c)).farms.find((x) => String(x.farmId) === value);
        if (!farm) return { retry: 'That farm has no room any more.' };
        c.data.placement = { kind: 'farm', farmId: farm.farmId, farmName: farm.farmName };
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

    // a storage profile's size and redundancy, instead of how many; then where as for any profile
    ...storageSteps<DeployData>('where'),

    // one step per input any profile asks for; the profile says how to ask and validate
    ...Object.fromEntries(PROFILES.flatMap((p) => p.inputs).map((i) => [`input:${i.key}`, inputStep(i.key)])),

    confirm: {
      async ask(c) {
        const p = profileOf(c.services, c.data);
        if (!offered(c.services, c.data)) {
          delete c.data.hourlyCost;
          return { text: `${esc(p.title)} is no longer offered, so this order cannot be placed. Nothing was charged.`, choices: [{ label: '↩️ Start over', value: 'restart' }] };
        }
        const storage = isStorageProfile(p) ? c.data.storage : undefined;
        delete c.data.options;
        if (!storage) {
          // VMs: the planner's suggestions; Confirm takes the recommended one, the others are a button away
          const s = await c.services.planner.suggest(p, c.data.count!, c.data.placement!, [], c.data.size);
          if (!s.ok) {
            delete c.data.hourlyCost;
            c.data.alternatives = s.alternatives.map((a) => a.placement);
            return {
              text: `⚠️ I can't place this order: ${esc(s.reason)}.${s.alternatives.length ? ' These places could take it:' : ' Choose fewer nodes or another place.'}`,
              choices: [
                ...s.alternatives.map((a, i) => ({ label: `📍 ${a.label} (${a.nodes})`, value: `alt:${i}` })),
                { label: '📍 Choose another place', value: 'where' },
                { label: '🔢 Change how many', value: 'count' },
              ],
            };
          }
          c.data.options = s.options.map((o) => ({ label: o.label, hourlyCost: o.hourlyCost, nodes: o.nodes, farms: o.farms, countries: o.countries }));
        }
        const quote = c.data.options?.[0]
          ? { ok: true as const, ...c.data.options[0] }
          : await c.services.deployments.quote({ profileId: p.id, count: c.data.count!, placement: c.data.placement!, ...(c.data.size ? { size: c.data.size } : {}), ...(storage ? { storage } : {}) });
        if (!quote.ok) {
          delete c.data.hourlyCost;
          return {
            text: `⚠️ I can't place this order: ${esc(quote.reason)}. ${storage ? 'Choose a smaller size, another redundancy or another place.' : 'Choose fewer nodes or another place.'}`,
            choices: [
              { label: '📍 Choose another place', value: 'where' },
              storage ? { label: '💾 Change size or redundancy', value: STORAGE_SIZE } : { label: '🔢 Change how many', value: 'count' },
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
            ...(storage
              ? storageOrderLines(c, c.data.name!, c.data.placement!, quote)
              : [
                  `${plural(c.data.count!, p.title)} named <b>${esc(c.data.name!)}</b>`,
                  `Where: ${esc(placementLabel(c.data.placement!))} (nodes in ${esc(countries)})`,
                  `Resources per node: ${esc(p.summary)}`,
                  `Image: ${esc(p.imageNote)}`,
                ]),
            `Cost: <b>${formatTft(quote.hourlyCost)}/h</b>, about <b>${formatTft(monthly)} a month</b>, billed hourly by the grid from your wallet.`,
            monthCoverLine(balance, monthly, 'the'),
            ...optionLines(c.data.options ?? []),
            ...(p.notice ? ['', `ℹ️ ${esc(p.notice)}`] : []),
          ].join('\n'),
          choices: [
            { label: '✅ Confirm', value: 'confirm' },
            ...(c.data.options ?? []).slice(1).map((o, i) => ({ label: `${OPTION_ICON[o.label] ?? '✅'} ${o.label} · ${formatTft(o.hourlyCost * HOURS_PER_MONTH)}/month`, value: `opt:${i + 1}` })),
            { label: '↩️ Start over', value: 'restart' },
          ],
          columns: 1,
        };
      },
      async onChoice(c, value) {
        if (value === 'where' || value === 'count' || value === STORAGE_SIZE) return { goto: value };
        const alt = /^alt:(\d+)$/.exec(value);
        if (alt) {
          const placement = c.data.alternatives?.[Number(alt[1])];
          if (!placement) return { retry: 'That place is no longer offered.' };
          c.data.placement = placement;
          return { goto: 'confirm' };
        }
        const chosen = c.data.options?.[value === 'confirm' ? 0 : Number(/^opt:(\d+)$/.exec(value)?.[1] ?? -1)];
        if (chosen) c.data.hourlyCost = chosen.hourlyCost;
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
          {
            profileId: c.data.profileId!,
            count: c.data.count!,
            placement: c.data.placement!,
            ...(c.data.size ? { size: c.data.size } : {}),
            ...(chosen ? { plan: chosen.nodes } : {}),
            ...(chosen?.label === 'Certified only' ? { certifiedOnly: true } : {}),
            name: c.data.name!,
            inputs: c.data.inputs,
            ...(c.data.storage && isStorageProfile(profileOf(c.services, c.data)) ? { storage: c.data.storage } : {}),
          },
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

/**
 * /redeploy [name] [node]: pick a deployment → pick a node (when it has several) → confirm; a job
 * deploys a replacement elsewhere, then cancels the old node. Also the buttons the watchdog sends
 * (Redeploy a failed node) and /status shows (auto-redeploy on or off), which act only on the
 * presser's own deployments.
 */
import { esc } from '../src/chat/format.js';
import type { EngineReply, Flow, Outcome } from '../src/chat/types.js';
import type { Deployment, NodeInstance } from '../src/domain/deployment.js';
import type { User } from '../src/domain/user.js';
import type { Services } from '../src/services/index.js';
import { pickStep } from './pick.js';

interface RedeployData {
  id?: string;
  index?: number;
}

const liveNodes = (d: Deployment) => d.nodes.filter((n) => n.state === 'ok');
const nodeLabel = (n: NodeInstance) =>
  `Node ${n.index} · grid node ${n.nodeId} · ${n.city}${n.problem ? ` · ❌ ${n.problem.kind === 'node_down' ? 'down' : 'failing'}` : ''}`;

function chosen(c: { user: User; data: RedeployData; services: Services }): Deployment | undefined {
  return c.services.deployments.redeployable(c.user).find((d) => d.id === c.data.id);
}

const toNode = (c: { data: RedeployData }, d: Deployment): Outcome => {
  c.data.id = d.id;
  const nodes = liveNodes(d);
  if (nodes.length === 1) {
    c.data.index = nodes[0]!.index;
    return { goto: 'confirm' };
  }
  return { goto: 'node' };
};

async function start(s: Services, user: User, id: string, index: number): Promise<string> {
  const r = await s.deployments.requestRedeploy(user.id, id, index, 'user');
  if (!r.ok) return esc(r.reason);
  return `🔁 Replacing node ${index} of <b>${esc(r.deployment.name)}</b>… I'll tell you when the new one is up.`;
}

export const redeployFlow: Flow<RedeployData> = {
  command: 'redeploy',
  description: 'Replace a node of a deployment with a new one elsewhere',
  version: 1,
  newData: () => ({}),
  begin(c, args) {
    const candidates = c.services.deployments.redeployable(c.user);
    const [name, node] = args.split(/\s+/).filter(Boolean);
    if (name) {
      const d = c.services.deployments.find(c.user, name);
      if (!d) return { done: [{ text: `You have no deployment called “${esc(name.slice(0, 40))}”. /list shows them.` }] };
      if (!candidates.some((x) => x.id === d.id)) {
        return { done: [{ text: `<b>${esc(d.name)}</b> cannot be redeployed now: it must be up, with nothing else under way.` }] };
      }
      if (node !== undefined) {
        const n = liveNodes(d).find((x) => String(x.index) === node);
        if (!n) return { done: [{ text: `<b>${esc(d.name)}</b> has no node ${esc(node.slice(0, 10))}; its nodes are ${liveNodes(d).map((x) => x.index).join(', ')}.` }] };
        c.data.id = d.id;
        c.data.index = n.index;
        return { goto: 'confirm' };
      }
      return toNode(c, d);
    }
    if (candidates.length === 0) return { done: [{ text: 'You have nothing that can be redeployed now: a deployment must be up, with nothing else under way.' }] };
    return candidates.length === 1 ? toNode(c, candidates[0]!) : { goto: 'pick' };
  },
  steps: {
    pick: pickStep({
      question: () => 'Which deployment has the node to replace?',
      candidates: (c) => c.services.deployments.redeployable(c.user),
      then: toNode,
      unavailable: 'That one cannot be redeployed now.',
    }),
    node: {
      ask(c) {
        const d = chosen(c);
        return {
          text: d ? `Which node of <b>${esc(d.name)}</b>?` : 'That deployment cannot be redeployed now.',
          choices: d ? liveNodes(d).map((n) => ({ label: nodeLabel(n), value: String(n.index) })) : [],
        };
      },
      onChoice(c, value) {
        const d = chosen(c);
        const n = d && liveNodes(d).find((x) => String(x.index) === value);
        if (!n) return { retry: 'That node cannot be replaced now.' };
        c.data.index = n.index;
        return { goto: 'confirm' };
      },
      onText(c, text) {
        const d = chosen(c);
        const n = d && liveNodes(d).find((x) => String(x.index) === text.trim().replace(/^node\s*/i, ''));
        if (!n) return { retry: `Type a node number${d ? ` (${liveNodes(d).map((x) => x.index).join(', ')})` : ''}, or use the buttons.` };
        c.data.index = n.index;
        return { goto: 'confirm' };
      },
    },
    confirm: {
      ask(c) {
        const d = chosen(c);
        const n = d && liveNodes(d).find((x) => x.index === c.data.index);
        if (!d || !n) return { text: 'That node cannot be replaced now.', choices: [{ label: 'OK', value: 'no' }] };
        return {
          text:
            `Replace node ${n.index} of <b>${esc(d.name)}</b> (grid node ${n.nodeId}, ${esc(n.city)}, ${esc(n.country)})?\n` +
            (n.zdb
              ? "A new 0-db of the same size and password is deployed on another node first; then the old one is cancelled. It starts empty and zstor's repair rebuilds its data from the other shards; I'll send the updated zstor configuration."
              : `A new node is deployed elsewhere first; then the old one is cancelled. The node's data starts afresh` + (n.publicIp ? ', and it gets a new public IP.' : '.')),
          choices: [
            { label: `🔁 Yes, replace node ${n.index}`, value: 'yes' },
            { label: 'Keep it', value: 'no' },
          ],
        };
      },
      async onChoice(c, value) {
        if (value !== 'yes' || c.data.index === undefined) return { done: [{ text: 'Kept. Nothing changed.' }] };
        return { done: [{ text: await start(c.services, c.user, c.data.id!, c.data.index) }] };
      },
    },
  },
};

/** "<deployment id>.<node index|on|off>", checked against the presser's own deployments only. */
function parseArg(user: User, arg: string): { d: Deployment; rest: string } | undefined {
  const m = /^(\w+)\.(\w+)$/.exec(arg);
  const d = m ? user.deployments.find((x) => x.id === m[1] && x.state !== 'deleted') : undefined;
  return d && m ? { d, rest: m[2]! } : undefined;
}

export const redeployActions = {
  /** the watchdog's "Redeploy node n" button, sent when auto-redeploy is off */
  async redeploy(user: User, arg: string, s: Services): Promise<EngineReply> {
    const p = parseArg(user, arg);
    const index = Number(p?.rest);
    if (!p || !Number.isInteger(index)) return { send: [], toast: 'That deployment does not exist.' };
    return { send: [{ text: await start(s, user, p.d.id, index) }] };
  },

  /** /status's auto-redeploy switch */
  async auto(user: User, arg: string, s: Services): Promise<EngineReply> {
    const p = parseArg(user, arg);
    if (!p || (p.rest !== 'on' && p.rest !== 'off')) return { send: [], toast: 'That deployment does not exist.' };
    const d = await s.deployments.setAutoRedeploy(user.id, p.d.id, p.rest === 'on');
    if (!d) return { send: [], toast: 'That deployment does not exist.' };
    return {
      send: [
        {
          text: d.autoRedeploy
            ? `🔁 Auto-redeploy is <b>on</b> for <b>${esc(d.name)}</b>: when a node fails, I replace it by myself and tell you.`
            : `Auto-redeploy is <b>off</b> for <b>${esc(d.name)}</b>: when a node fails, I ask you first, with a Redeploy button.`,
          buttons: [[autoButton(d)]],
        },
      ],
    };
  },
};

export function autoButton(d: Deployment): { label: string; data: string } {
  return d.autoRedeploy
    ? { label: '🔁 Auto-redeploy: on · turn off', data: `a:auto:${d.id}.off` }
    : { label: '✋ Auto-redeploy: off · turn on', data: `a:auto:${d.id}.on` };
}

/** How deployments look in the chat; shared by the flows and by the jobs that report progress. */
import { profileById } from '../catalog/index.js';
import { STATE_LABEL, type Deployment } from '../domain/deployment.js';
import { ceilToTft, formatTft, HOURS_PER_MONTH } from '../domain/money.js';
import type { StatusView, WalletView } from '../services/deployments.js';
import { chunk, duration, esc, plural } from './format.js';

export function deploymentLine(d: Deployment): string {
  const title = profileById(d.profileId)?.title ?? d.profileId;
  return `<b>${esc(d.name)}</b> #${d.id} · ${esc(title)} · ${plural(d.count, 'node')} · ${STATE_LABEL[d.state]}`;
}

const NODE_STATE: Record<string, string> = {
  ok: '✅ up',
  init: '⏳ starting',
  error: '❌ error',
  deleted: '✖️ deleted',
  missing: '❓ not found on the grid',
};

/** Each node with what the user needs to reach it, one block per node; used when provisioning finishes and by /status. */
export function nodeBlocks(nodes: StatusView['nodes']): string[] {
  return nodes.map((n) => {
    const addr = [n.publicIp && `IPv4 <code>${esc(n.publicIp)}</code>`, n.mycelium && `Mycelium <code>${esc(n.mycelium)}</code>`]
      .filter(Boolean)
      .join(' · ');
    return [
      `<b>Node ${n.index}</b>: ${NODE_STATE[n.state] ?? esc(n.state)}${n.message ? ` (${esc(n.message)})` : ''}`,
      `  grid node ${n.nodeId} · ${esc(n.city)}, ${esc(n.country)}`,
      `  contracts ${n.contractIds.join(', ') || '—'} · ${formatTft(n.hourlyCost)}/h`,
      addr ? `  ${addr}` : '',
    ]
      .filter(Boolean)
      .join('\n');
  });
}

/** Before a confirmation that costs a month: whether the wallet covers it, or what the payment prompt will ask. */
export function monthCoverLine(balance: number, monthly: number, whose: 'the' | 'their'): string {
  return `Your wallet: ${formatTft(balance)}${
    balance >= monthly ? ` (enough for ${whose} first month)` : `; I'll ask you to add ${formatTft(ceilToTft(monthly - balance))} next.`
  }`;
}

/** The balance and how long it lasts; /status and /wallet both show it. */
export function walletLines(v: WalletView): string[] {
  return [
    `Wallet: ${formatTft(v.balance)}`,
    v.hourlyBurn > 0
      ? `At ${formatTft(v.hourlyBurn)}/h for all your deployments, that lasts ${duration(v.runwayMs)}.`
      : 'Nothing is being billed right now.',
  ];
}

/** /status: the summary with the wallet and how long it lasts first, then the nodes in as many messages as they need. */
export function statusMessages(v: StatusView): string[] {
  const d = v.deployment;
  const summary = [
    deploymentLine(d),
    d.reason ? `Reason: ${esc(d.reason)}` : '',
    `Cost: ${formatTft(d.hourlyCost)}/h (${formatTft(d.hourlyCost * HOURS_PER_MONTH)} a month)`,
    ...walletLines(v),
    v.profile && v.nodes.some((n) => n.state === 'ok') ? `\n${esc(v.profile.howToReach(v.nodes[0]?.publicIp))}` : '',
    v.nodes.length ? '' : '\n<i>No nodes on the grid.</i>',
  ]
    .filter(Boolean)
    .join('\n');
  return chunk([summary, ...nodeBlocks(v.nodes)]);
}

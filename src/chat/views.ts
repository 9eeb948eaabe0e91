/** How deployments look in the chat; shared by the flows and by the jobs that report progress. */
import { profileById } from '../catalog/index.js';
import { STATE_LABEL, type Deployment } from '../domain/deployment.js';
import { formatTft, HOURS_PER_MONTH } from '../domain/money.js';
import type { StatusView } from '../services/deployments.js';
import { clip, duration, esc, plural } from './format.js';

export function deploymentLine(d: Deployment): string {
  const title = profileById(d.profileId)?.title ?? d.profileId;
  return `<b>${esc(d.name)}</b> #${d.id} · ${esc(title)} · ${plural(d.count, 'node')} · ${STATE_LABEL[d.state]}`;
}

const NODE_STATE: Record<string, string> = {
  ok: '✅ up',
  init: '⏳ starting',
  deploying: '⏳ starting',
  error: '❌ error',
  deleted: '✖️ deleted',
  missing: '❓ not found on the grid',
};

/** Each node with what the user needs to reach it; used when provisioning finishes and by /status. */
export function nodesBlock(view: Pick<StatusView, 'nodes' | 'profile'>): string {
  return view.nodes
    .map((n) => {
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
    })
    .join('\n');
}

export function statusText(v: StatusView): string {
  const d = v.deployment;
  const lines = [
    deploymentLine(d),
    d.reason ? `Reason: ${esc(d.reason)}` : '',
    `Cost: ${formatTft(d.hourlyCost)}/h (${formatTft(d.hourlyCost * HOURS_PER_MONTH)} a month)`,
    '',
    v.nodes.length ? nodesBlock(v) : '<i>No nodes on the grid.</i>',
    '',
    `Wallet: ${formatTft(v.balance)}`,
    v.hourlyBurn > 0
      ? `At ${formatTft(v.hourlyBurn)}/h for all your deployments, that lasts ${duration(v.runwayMs)}.`
      : 'Nothing is being billed right now.',
  ];
  if (v.profile && v.nodes.some((n) => n.state === 'ok')) lines.push('', esc(v.profile.howToReach(v.nodes[0]?.publicIp)));
  return clip(lines.filter((l, i, a) => l !== '' || a[i - 1] !== '').join('\n'));
}

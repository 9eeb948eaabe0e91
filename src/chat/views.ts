/** How deployments look in the chat; shared by the flows and by the jobs that report progress. */
import { profileById } from '../catalog/index.js';
import { STATE_LABEL, type Deployment } from '../domain/deployment.js';
import { ceilToTft, formatTft, HOURS_PER_MONTH } from '../domain/money.js';
import type { StatusView, WalletView } from '../services/deployments.js';
import { formatGb, groupCount, schemeLabel } from '../storage/plan.js';
import { zdbAddress, zdbIps } from '../storage/zstor-config.js';
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
    if (n.zdb) return backendBlock(n);
    const addr = [n.publicIp && `IPv4 <code>${esc(n.publicIp)}</code>`, n.mycelium && `Mycelium <code>${esc(n.mycelium)}</code>`]
      .filter(Boolean)
      .join(' · ');
    return [
      `<b>Node ${n.index}</b>: ${NODE_STATE[n.state] ?? esc(n.state)}${n.message ? ` (${esc(n.message)})` : ''}${n.chainSync ? ` · ${esc(n.chainSync)}` : ''}`,
      `  grid node ${n.nodeId} · ${esc(n.city)}, ${esc(n.country)}`,
      `  contracts ${n.contractIds.join(', ') || '—'} · ${formatTft(n.hourlyCost)}/h`,
      addr ? `  ${addr}` : '',
    ]
      .filter(Boolean)
      .join('\n');
  });
}

/** A storage backend (a 0-db): its role, namespace, addresses and size. */
function backendBlock(n: StatusView['nodes'][number]): string {
  const z = n.zdb!;
  const { primary, other } = zdbIps(z.ips);
  const addr = [primary, other].filter((ip): ip is string => ip !== undefined).map((ip) => `<code>${esc(zdbAddress(ip, z.port))}</code>`);
  return [
    `<b>Backend ${n.index}</b> · ${z.role === 'data' ? 'data' : 'metadata'}, ${formatGb(z.sizeGb)}: ${NODE_STATE[n.state] ?? esc(n.state)}${n.message ? ` (${esc(n.message)})` : ''}`,
    `  grid node ${n.nodeId} · ${esc(n.city)}, ${esc(n.country)}`,
    `  namespace <code>${esc(z.namespace)}</code>`,
    addr.length ? `  ${addr.join(' · ')}` : '',
    `  contracts ${n.contractIds.join(', ') || '—'} · ${formatTft(n.hourlyCost)}/h`,
  ]
    .filter(Boolean)
    .join('\n');
}

/** A storage deployment's size and redundancy, for /status. */
function storageLine(d: Deployment): string {
  const s = d.storage;
  if (!s) return '';
  const n = s.data + s.parity;
  const groups = groupCount(d.nodes);
  if (groups > 1) {
    return `Storage: ${formatGb(s.usableGb * groups)} usable · ${schemeLabel(s)}: ${groups} groups of ${n} data backends of ${formatGb(s.backendGb)} (any ${s.parity} can be lost) and 4 metadata 0-dbs`;
  }
  return `Storage: ${formatGb(s.usableGb)} usable · ${schemeLabel(s)}: ${n} data backends of ${formatGb(s.backendGb)} (any ${s.parity} can be lost) and 4 metadata 0-dbs`;
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

/** How to log in to the nodes, for images that take the user's SSH key. */
function sshLine(v: StatusView): string {
  if (!v.profile?.ssh) return '';
  if (!v.sshKey) return 'Log in to new nodes: add your SSH key with /settings first.';
  const n = v.nodes.find((x) => x.state === 'ok' && (x.publicIp || x.mycelium));
  if (!n) return '';
  return n.publicIp
    ? `SSH: <code>ssh root@${esc(n.publicIp)}</code> (each node at its own address)`
    : `SSH over Mycelium: <code>ssh root@${esc(n.mycelium!)}</code> (run Mycelium on your machine; each node at its own address)`;
}

/** /status: the summary with the wallet and how long it lasts first, then the nodes in as many messages as they need. */
export function statusMessages(v: StatusView): string[] {
  const d = v.deployment;
  const summary = [
    deploymentLine(d),
    d.reason ? `Reason: ${esc(d.reason)}` : '',
    storageLine(d),
    `Cost: ${formatTft(d.hourlyCost)}/h (${formatTft(d.hourlyCost * HOURS_PER_MONTH)} a month)`,
    ...walletLines(v),
    v.profile && v.nodes.some((n) => n.state === 'ok') ? `\n${esc(v.profile.howToReach(v.nodes[0]?.publicIp))}` : '',
    sshLine(v),
    v.nodes.length ? '' : '\n<i>No nodes on the grid.</i>',
  ]
    .filter(Boolean)
    .join('\n');
  return chunk([summary, ...nodeBlocks(v.nodes)]);
}

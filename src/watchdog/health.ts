/**
 * Health: for each deployment that should be up, the grid's view of every node (the node itself,
 * its contract, its workload). A broken node marks the deployment degraded and starts recovery:
 * a replacement by the bot (auto-redeploy, the default) or a Redeploy button for the user. A node
 * in the grace period is not broken (the runway pass speaks about money), and recovery backs off
 * and stops after a bound, so a node that keeps failing does not keep spending.
 */
import { esc, plural } from '../chat/format.js';
import { DAY_MS } from '../domain/money.js';
import { isWatched, transition, type Deployment, type NodeInstance, type NodeProblem } from '../domain/deployment.js';
import type { User } from '../domain/user.js';
import type { ContractInfo, GridNode, Identity } from '../grid/port.js';
import { RESHAPING_JOBS } from '../jobs/job-store.js';
import type { WatchdogDeps } from './deps.js';

export interface HealthOutcome {
  checked: number;
  broken: number;
  redeploys: number;
}

type Found = Omit<NodeProblem, 'since' | 'offeredAt'> | 'ok' | 'unpaid';

/** Looks at one node; node statuses are shared by every deployment of one pass. */
async function probe(
  deps: WatchdogDeps,
  identity: Identity,
  d: Deployment,
  n: NodeInstance,
  contracts: Map<number, ContractInfo>,
  nodes: Map<number, Promise<GridNode | undefined>>,
): Promise<Found> {
  const mine = n.contractIds.map((id) => contracts.get(id));
  if (mine.some((c) => c?.state === 'grace')) return 'unpaid';
  if (mine.some((c) => c?.state === 'deleted' && c.deletedCause === 'out_of_funds')) return 'unpaid';
  if (mine.some((c) => c === undefined || c.state === 'deleted')) {
    return { kind: 'contract_gone', detail: 'its contract was cancelled on the grid' };
  }
  if (!nodes.has(n.nodeId)) nodes.set(n.nodeId, deps.grid.getNode(n.nodeId));
  const node = await nodes.get(n.nodeId);
  if (!node || node.status !== 'up') return { kind: 'node_down', detail: `grid node ${n.nodeId} is ${node?.status ?? 'gone'}` };
  const vms = await deps.grid.getVms(identity, d.projectName, n.gridName);
  const bad = vms.find((v) => v.state === 'error' || v.state === 'deleted');
  if (vms.length === 0) return { kind: 'contract_gone', detail: 'its machine is no longer on the grid' };
  if (bad) return { kind: 'workload_error', detail: bad.message ?? 'the machine reports an error' };
  return 'ok';
}

export async function checkHealth(deps: WatchdogDeps, user: User, nodes: Map<number, Promise<GridNode | undefined>>): Promise<HealthOutcome> {
  const { grid, store, clock, log, jobs } = deps;
  // an extension waiting for its top-up does not stop the checks; a job that moves nodes does
  const watched = user.deployments.filter((d) => isWatched(d.state) && !jobs.hasActive(user.id, d.id, RESHAPING_JOBS));
  const out: HealthOutcome = { checked: 0, broken: 0, redeploys: 0 };
  if (watched.length === 0) return out;
  const identity = deps.users.identityOf(user);
  const list = await grid.listContracts(identity, { projectPrefix: `jukebox/u${user.id}/`, includeDeleted: true });
  const contracts = new Map(list.map((c) => [c.contractId, c]));
  const now = clock.now();

  for (const d of watched) {
    // by grid name: a node swapped in between the look and the write is not blamed for the old one
    const found = new Map<string, Found>();
    for (const n of d.nodes.filter((x) => x.state === 'ok')) found.set(n.gridName, await probe(deps, identity, d, n, contracts, nodes));
    out.checked += found.size;
    // a replacement's count of tries is forgotten once the node has stayed up a day
    const stale = (n: NodeInstance) => n.recovery !== undefined && !n.problem && now - n.recovery.nextAt > DAY_MS;
    const unchanged = d.nodes.every((n) => {
      const f = found.get(n.gridName);
      return f === undefined || f === 'unpaid' || (f === 'ok' ? !n.problem && !stale(n) : n.problem?.kind === f.kind);
    });
    // nothing new: no write (a pass over 100,000 healthy deployments must not rewrite 100,000 files)
    const settled = unchanged && d.state === (d.nodes.some((n) => n.state === 'ok' && n.problem) ? 'degraded' : 'active');
    const healed: NodeInstance[] = [];
    const after = settled ? d : await store.update(user.id, (u) => {
      const i = u.deployments.findIndex((x) => x.id === d.id);
      let x = u.deployments[i]!;
      if (!isWatched(x.state)) return undefined; // changed since we looked: the next pass sees it
      const nodes = x.nodes.map((n): NodeInstance => {
        const f = found.get(n.gridName);
        if (f === undefined || f === 'unpaid') return n;
        if (f === 'ok') {
          if (!n.problem && !stale(n)) return n;
          if (n.problem) healed.push(n);
          const { problem: _p, recovery: _r, ...rest } = n;
          return rest;
        }
        return n.problem?.kind === f.kind ? n : { ...n, problem: { ...f, since: now } };
      });
      const broken = nodes.some((n) => n.state === 'ok' && n.problem);
      x = { ...x, nodes };
      if (broken && x.state === 'active') x = transition(x, 'degraded', now, 'system', 'a node is down');
      if (!broken && x.state === 'degraded') x = transition(x, 'active', now, 'system', 'every node is up again');
      u.deployments[i] = x;
      return x;
    });
    if (!after) continue;
    for (const n of healed) {
      await say(deps, user, `healed:${user.id}:${d.id}:${n.index}:${n.problem!.since}`, `✅ Node ${n.index} of <b>${esc(d.name)}</b> is working again.`);
    }
    for (const n of after.nodes.filter((x) => x.state === 'ok' && x.problem)) {
      out.broken++;
      if (await recover(deps, user, after, n)) out.redeploys++;
    }
  }
  return out;
}

/** Starts (or offers) the replacement of a broken node; true when a replacement job started. */
async function recover(deps: WatchdogDeps, user: User, d: Deployment, n: NodeInstance): Promise<boolean> {
  const p = n.problem!;
  const incident = `${user.id}:${d.id}:${n.index}:${p.since}`;
  const what = `Node ${n.index} of <b>${esc(d.name)}</b> (grid node ${n.nodeId}, ${esc(n.city)}) stopped working: ${esc(p.detail)}.`;
  if (!d.autoRedeploy) {
    if (p.offeredAt !== undefined) return false;
    const sent = await say(deps, user, `down:${incident}`, `⚠️ ${what}\nShall I replace it with a new node elsewhere? Its data starts afresh.`, [
      [{ label: `🔁 Redeploy node ${n.index}`, data: `a:redeploy:${d.id}.${n.index}` }],
    ]);
    if (sent) {
      await deps.store.update(user.id, (u) => {
        const node = u.deployments.find((x) => x.id === d.id)?.nodes.find((x) => x.index === n.index && x.problem?.since === p.since);
        if (node?.problem) node.problem.offeredAt = deps.clock.now();
      });
    }
    return false;
  }
  if (n.recovery?.gaveUp) return false;
  if (n.recovery && n.recovery.failures >= deps.maxRecoveries) {
    // replacements that came up and broke again count too: a node that keeps breaking is not chased forever
    await deps.store.update(user.id, (u) => {
      const node = u.deployments.find((x) => x.id === d.id)?.nodes.find((x) => x.gridName === n.gridName);
      if (node?.recovery) node.recovery.gaveUp = true;
    });
    await say(
      deps,
      user,
      `gaveup:${incident}`,
      `❌ ${what}\nIt was replaced ${plural(n.recovery.failures, 'time')} lately and keeps failing, so I stopped replacing it: that would only keep spending your TFT. ` +
        `Try again with /redeploy ${esc(d.name)}, or remove it with /delete ${esc(d.name)}.`,
    );
    return false;
  }
  if (n.recovery && deps.clock.now() < n.recovery.nextAt) return false;
  // the same incident is said once: the outbox refuses an id it has already queued
  await say(deps, user, `down:${incident}`, `⚠️ ${what}\nI'm replacing it with a new node elsewhere and will tell you when it is up.`);
  const r = await deps.deployments.requestRedeploy(user.id, d.id, n.index, 'system');
  if (!r.ok) deps.log.warn({ user: user.id, deployment: d.id, node: n.index, reason: r.reason }, 'could not start a replacement');
  return r.ok;
}

/** Queues a notice unless the user blocked the bot; true when it is (or already was) on its way. */
async function say(deps: WatchdogDeps, user: User, id: string, text: string, buttons?: { label: string; data: string }[][]): Promise<boolean> {
  if (user.unreachableSince !== undefined) return false;
  await deps.notices.notice({ id, chatId: user.chatId, text, ...(buttons ? { buttons } : {}) });
  return true;
}

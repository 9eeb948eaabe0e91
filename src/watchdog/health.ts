/**
 * Health: for each deployment that should be up, the grid's view of every node (the node itself,
 * its contract, its workload). A broken node marks the deployment degraded and starts recovery:
 * a replacement by the bot (auto-redeploy, the default) or a Redeploy button for the user. A node
 * in the grace period is not broken (the runway pass speaks about money), and recovery backs off
 * and stops after a bound, so a node that keeps failing does not keep spending.
 */
import { profileById } from '../catalog/index.js';
import { esc, plural } from '../chat/format.js';
import { DAY_MS, HOUR_MS } from '../domain/money.js';
import { isWatched, transition, type Deployment, type NodeInstance, type NodeProblem } from '../domain/deployment.js';
import type { User } from '../domain/user.js';
import type { ContractInfo, GridNode, Identity } from '../grid/port.js';
import { RESHAPING_JOBS } from '../jobs/job-store.js';
import { probeTargetOf, type ProbeResult } from '../probes/prober.js';
import type { WatchdogDeps } from './deps.js';

export interface HealthOutcome {
  checked: number;
  broken: number;
  redeploys: number;
}

type Found = Omit<NodeProblem, 'since' | 'offeredAt'> | 'ok' | 'unpaid';
interface Look {
  found: Found;
  /** the chain's own answer, for profiles that have a probe and nodes the grid finds well */
  sync?: ProbeResult;
}

/** The grid's view of one node, then the node's own; node statuses are shared by every deployment of one pass. */
async function look(
  deps: WatchdogDeps,
  identity: Identity,
  d: Deployment,
  n: NodeInstance,
  contracts: Map<number, ContractInfo>,
  nodes: Map<number, Promise<GridNode | undefined>>,
  secrets: () => Record<string, string>,
): Promise<Look> {
  const found = await onGrid(deps, identity, d, n, contracts, nodes);
  const spec = profileById(d.profileId)?.probe;
  if (found !== 'ok' || !spec || spec.kind === 'none') return { found };
  return { found, sync: await deps.prober.probe(spec, probeTargetOf(spec, n, secrets)) };
}

async function onGrid(
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
  // a storage backend is a 0-db workload, not a VM
  const what = n.zdb ? 'its 0-db' : 'its machine';
  const workloads = n.zdb ? await deps.grid.getZdbs(identity, d.projectName, n.gridName) : await deps.grid.getVms(identity, d.projectName, n.gridName);
  const bad = workloads.find((v) => v.state === 'error' || v.state === 'deleted');
  if (workloads.length === 0) return { kind: 'contract_gone', detail: `${what} is no longer on the grid` };
  if (bad) return { kind: 'workload_error', detail: bad.message ?? `${what} reports an error` };
  return 'ok';
}

export async function checkHealth(deps: WatchdogDeps, user: User, nodes: Map<number, Promise<GridNode | undefined>>): Promise<HealthOutcome> {
  const { grid, store, clock, jobs } = deps;
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
    const looked = new Map<string, Look>();
    let unsealed: Record<string, string> | undefined; // once per deployment, and only if a probe wants them
    const secrets = () => (unsealed ??= deps.deployments.generatedSecrets(d));
    for (const n of d.nodes.filter((x) => x.state === 'ok')) looked.set(n.gridName, await look(deps, identity, d, n, contracts, nodes, secrets));
    out.checked += looked.size;
    const evolve = (n: NodeInstance) => evolveNode(n, looked.get(n.gridName), now);
    // nothing new: no write (a pass over 100,000 healthy deployments must not rewrite 100,000 files)
    const settled = d.nodes.every((n) => evolve(n) === n) && d.state === stateFor(d.nodes);
    const healed: NodeInstance[] = [];
    const after = settled
      ? d
      : await store.update(user.id, (u) => {
          const i = u.deployments.findIndex((x) => x.id === d.id);
          let x = u.deployments[i]!;
          if (!isWatched(x.state)) return undefined; // changed since we looked: the next pass sees it
          const nodes = x.nodes.map((n) => {
            const next = evolve(n);
            if (n.problem && !next.problem) healed.push(n);
            return next;
          });
          x = { ...x, nodes };
          const state = stateFor(nodes);
          if (state !== x.state) x = transition(x, state, now, 'system', state === 'degraded' ? 'a node is down' : 'every node is up again');
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

/** A chain whose height has not moved for this long while syncing has stalled. */
export const STALL_MS = 2 * HOUR_MS;

/** A synced chain's height moves with every block: writing it each pass would rewrite every user file. */
const SYNC_RECORD_MS = 30 * 60_000;

/** Whether the chain's answer is worth a write: a change of state, or a syncing height that moved and was last written a while ago. */
function recordSync(was: NodeInstance['sync'], state: 'synced' | 'syncing', height: number, now: number): boolean {
  if (!was || was.state !== state) return true;
  return state === 'syncing' && was.height !== height && now - was.since >= SYNC_RECORD_MS;
}

const stateFor = (nodes: NodeInstance[]): 'active' | 'degraded' => (nodes.some((n) => n.state === 'ok' && n.problem) ? 'degraded' : 'active');

/**
 * What a node becomes after a look: its sync record moved on when the chain did, its problem set,
 * kept or cleared. Returns the same object when nothing changed, so the caller can skip the write.
 */
function evolveNode(n: NodeInstance, l: Look | undefined, now: number): NodeInstance {
  if (!l) return n;
  let x = n;
  const s = l.sync;
  if (s && s.state !== 'unreachable' && s.height !== undefined && recordSync(x.sync, s.state, s.height, now)) {
    x = { ...x, sync: { state: s.state, progress: s.progress ?? 0, height: s.height, since: now } };
  }
  let found = l.found;
  // stalled: the height it answers now is the one recorded, and that was long enough ago
  if (found === 'ok' && s?.state === 'syncing' && x.sync?.state === 'syncing' && s.height === x.sync.height && now - x.sync.since >= STALL_MS) {
    found = { kind: 'sync_stalled', detail: `its chain stopped syncing at ${Math.floor(x.sync.progress * 100)}% (block ${x.sync.height})` };
  }
  if (found === 'unpaid') return x;
  // a replacement's count of tries is forgotten once the node has stayed up a day
  const stale = x.recovery !== undefined && !x.problem && now - x.recovery.nextAt > DAY_MS;
  if (found === 'ok') {
    if (!x.problem && !stale) return x;
    const { problem: _p, recovery: _r, ...rest } = x;
    return rest;
  }
  return x.problem?.kind === found.kind ? x : { ...x, problem: { ...found, since: now } };
}

/** Starts (or offers) the replacement of a broken node; true when a replacement job started. */
async function recover(deps: WatchdogDeps, user: User, d: Deployment, n: NodeInstance): Promise<boolean> {
  const p = n.problem!;
  const incident = `${user.id}:${d.id}:${n.index}:${p.since}`;
  const what = `${n.zdb ? 'Storage backend' : 'Node'} ${n.index} of <b>${esc(d.name)}</b> (grid node ${n.nodeId}, ${esc(n.city)}) stopped working: ${esc(p.detail)}.`;
  const afresh = n.zdb ? "The new one starts empty; zstor's repair rebuilds its data from the other shards." : 'Its data starts afresh.';
  if (!d.autoRedeploy) {
    if (p.offeredAt !== undefined) return false;
    const sent = await say(deps, user, `down:${incident}`, `⚠️ ${what}\nShall I replace it with a new node elsewhere? ${afresh}`, [
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

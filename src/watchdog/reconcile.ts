/**
 * Reconcile: the store and the grid made to agree, at start and daily. Contracts under a user's
 * Jukebox project names that no deployment of the store owns (a crash between creating and
 * recording, a replacement cut short) are cancelled and reported; deployments left mid-change
 * without a job (a job set aside after failing too often) are handed back to one.
 */
import { isLive, transition } from '../domain/deployment.js';
import type { User } from '../domain/user.js';
import type { WatchdogDeps } from './deps.js';

export interface ReconcileOutcome {
  users: number;
  orphans: number[];
  resumed: number;
}

const PROJECT = /^jukebox\/u(-?\d+)\/d(\w+)$/;

export async function reconcileUser(deps: WatchdogDeps, user: User, out: ReconcileOutcome): Promise<void> {
  const { grid, jobs, log, store, clock } = deps;
  if (user.identity.twinId === undefined) return; // no twin, no contracts
  const identity = deps.users.identityOf(user);
  const contracts = await grid.listContracts(identity, { projectPrefix: `jukebox/u${user.id}/` });
  for (const c of contracts) {
    const m = PROJECT.exec(c.projectName);
    if (!m || Number(m[1]) !== user.id) continue;
    // A job records what it creates before it ends: so first ask whether one is at work, then read
    // the store afresh. A snapshot from before listing (or before the previous cancel, seconds on a
    // real chain) would miss a node a job recorded meanwhile, and cancel it.
    if (jobs.hasActive(user.id, m[2]!)) continue;
    const d = (await store.get(user.id))?.deployments.find((x) => x.id === m[2]);
    if (d && (d.state === 'awaiting_payment' || d.state === 'provisioning')) continue; // handed to a job below
    const owned = d !== undefined && isLive(d.state) && d.nodes.some((n) => n.state === 'ok' && n.contractIds.includes(c.contractId));
    if (owned) continue;
    await grid.cancelContract(identity, c.contractId);
    out.orphans.push(c.contractId);
    log.warn({ user: user.id, deployment: m[2], contract: c.contractId, name: c.deploymentName }, 'cancelled a contract no deployment owns');
  }
  for (const d of (await store.get(user.id))?.deployments ?? []) {
    if (jobs.hasActive(user.id, d.id)) continue;
    if (d.state === 'deleting') await jobs.enqueue('teardown', user.id, d.id, async () => undefined);
    else if (d.state === 'awaiting_payment' || d.state === 'provisioning') await jobs.enqueue('provision', user.id, d.id, async () => undefined);
    else if (d.state === 'redeploying') {
      await store.update(user.id, (u) => {
        const i = u.deployments.findIndex((x) => x.id === d.id);
        if (u.deployments[i]?.state === 'redeploying') u.deployments[i] = transition(u.deployments[i]!, 'degraded', clock.now(), 'system', 'replacement interrupted');
      });
    } else continue;
    out.resumed++;
    log.warn({ user: user.id, deployment: d.id, state: d.state }, 'deployment was left mid-change without a job; resumed');
  }
}

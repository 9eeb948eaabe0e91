/**
 * Replacing one node of a deployment (the watchdog found it broken, or the user asked): a new node
 * is deployed first on another grid node that fits the same placement, then it takes the old one's
 * place in the store, then the old contracts are cancelled. A failure leaves the old node where it
 * was and counts towards the bound after which the bot stops trying (and stops spending).
 * A storage backend (a node with `zdb`) is replaced by a 0-db of the same role, size and password
 * (jobs/storage.ts), and the user then gets the updated zstor config.
 */
import { profileById } from '../catalog/index.js';
import { esc, plural } from '../chat/format.js';
import { nodeBlocks } from '../chat/views.js';
import { transition, type Deployment, type NodeInstance } from '../domain/deployment.js';
import type { User } from '../domain/user.js';
import type { PlannedNode } from '../services/planner.js';
import type { JobDeps } from './deps.js';
import { nodeDeployer, nodesTried, updateDeployment } from './deploy-node.js';
import type { Journal } from './journal.js';
import { notify } from './notify.js';
import { replacementGridName, storageProvisioner } from './storage.js';
import type { JobHandler, JobResult } from './worker.js';

export interface RedeployParams {
  index: number;
  /** who asked: the watchdog after a failure, or the user with /redeploy */
  by: 'system' | 'user';
}

type Ending = { kind: 'replaced'; node: NodeInstance } | { kind: 'failed'; reason: string };

/** The grid name of a node's n-th replacement: unique in the project, so old and new coexist while swapping. */
export const gridNameOf = (d: Pick<Deployment, 'name'>, index: number, generation: number): string =>
  generation === 0 ? `${d.name}_${index}` : `${d.name}_${index}_${generation}`;

/** The grid name the replacement of `old` is deployed under: a VM's or a storage backend's. */
const nextGridName = (d: Pick<Deployment, 'name'>, old: NodeInstance): string =>
  old.zdb ? replacementGridName(d, old) : gridNameOf(d, old.index, old.generation + 1);

const minutes = (ms: number) => plural(Math.max(1, Math.round(ms / 60_000)), 'minute');

export function redeployJob(deps: JobDeps): JobHandler {
  const { store, users, planner, grid, outbox, clock, log } = deps;
  const deployNode = nodeDeployer(deps);
  const storage = storageProvisioner(deps);
  const say = (user: User, text: string) => notify(outbox, log, user, { text });
  /** the wait before the next try, doubling with each one */
  const backoffAfter = (tries: number) => deps.recovery.backoffMs * 2 ** Math.max(0, tries - 1);

  /** As in provisioning, how it ends is one journaled step of idempotent work, so the user is always told. */
  async function end(j: Journal, user: User, d: Deployment, old: NodeInstance, ending: Ending): Promise<JobResult> {
    if (!j.isInterrupted('end')) await j.begin('end', ending);
    const identity = users.identityOf(user);
    const now = clock.now();
    const { by } = j.job.params as unknown as RedeployParams;
    if (ending.kind === 'replaced') {
      // a node replaced after a failure carries the count on: if replacements keep breaking, the
      // bound still stops them (the watchdog forgets it once the node has stayed up a day)
      const fresh: NodeInstance = old.problem
        ? { ...ending.node, recovery: { failures: (old.recovery?.failures ?? 0) + 1, nextAt: now + backoffAfter((old.recovery?.failures ?? 0) + 1), gaveUp: false } }
        : ending.node;
      const after = await updateDeployment(store, user.id, d.id, (x) => {
        if (x.state !== 'redeploying') return x;
        const nodes = x.nodes.map((n) => (n.index === fresh.index ? fresh : n));
        const stillBroken = nodes.some((n) => n.state === 'ok' && n.problem);
        const next = { ...x, nodes, hourlyCost: nodes.filter((n) => n.state === 'ok').reduce((s, n) => s + n.hourlyCost, 0) };
        return transition(next, stillBroken ? 'degraded' : 'active', now, 'job', `node ${fresh.index} replaced`);
      });
      const swapped = after?.nodes.some((n) => n.gridName === fresh.gridName) ?? false;
      // swapped: the old node goes; not swapped (deleted meanwhile): the new one must not outlive it
      await grid.deleteDeployment(identity, d.projectName, swapped ? old.gridName : fresh.gridName);
      if (swapped && fresh.zdb) {
        log.info({ user: user.id, deployment: d.id, backend: fresh.index, from: old.nodeId, to: fresh.nodeId }, 'storage backend replaced');
        await storage.replaced(user, after!, old, fresh);
      } else if (swapped) {
        log.info({ user: user.id, deployment: d.id, from: old.nodeId, to: fresh.nodeId }, 'node replaced');
        await say(
          user,
          [
            `🔁 Node ${fresh.index} of <b>${esc(d.name)}</b> was replaced: it now runs on grid node ${fresh.nodeId} (${esc(fresh.city)}, ${esc(fresh.country)}).`,
            `The old one on grid node ${old.nodeId} is cancelled.`,
            '',
            ...nodeBlocks([{ ...fresh, state: 'ok' }]),
          ].join('\n'),
        );
      }
    } else {
      await grid.deleteDeployment(identity, d.projectName, nextGridName(d, old));
      const wasBroken = old.problem !== undefined;
      const failures = (old.recovery?.failures ?? 0) + (wasBroken ? 1 : 0);
      const gaveUp = wasBroken && failures >= deps.recovery.maxTries;
      const backoff = backoffAfter(failures);
      await updateDeployment(store, user.id, d.id, (x) => {
        if (x.state !== 'redeploying') return x;
        const nodes = x.nodes.map((n) => (n.index === old.index && wasBroken ? { ...n, recovery: { failures, nextAt: now + backoff, gaveUp } } : n));
        const broken = nodes.some((n) => n.state === 'ok' && n.problem);
        return transition({ ...x, nodes }, broken ? 'degraded' : 'active', now, 'job', `replacing node ${old.index} failed: ${ending.reason}`);
      });
      log.warn({ user: user.id, deployment: d.id, node: old.index, failures, gaveUp, reason: ending.reason }, 'node replacement failed');
      const what = `I could not replace node ${old.index} of <b>${esc(d.name)}</b>: ${esc(ending.reason)}.`;
      if (!wasBroken) await say(user, `${what} The node keeps running as it was; nothing changed.`);
      else if (gaveUp) {
        await say(
          user,
          `❌ ${what}\nAfter ${plural(failures, 'try', 'tries')} I stopped trying, so it does not keep spending your TFT. ` +
            `Try again with /redeploy ${esc(d.name)}, or remove it with /delete ${esc(d.name)}.`,
        );
      } else if (by === 'user') await say(user, `⚠️ ${what} I'll try again by myself in about ${minutes(backoff)}.`);
      else await say(user, `⚠️ ${what} I'll try again in about ${minutes(backoff)}.`);
    }
    await j.done('end');
    return { done: true };
  }

  return async (j) => {
    const { userId, deploymentId } = j.job;
    const { index, by } = j.job.params as unknown as RedeployParams;
    const user = await store.get(userId);
    let d = user?.deployments.find((x) => x.id === deploymentId);
    if (!user || !d) return { done: true };
    const old = j.result<{ old: NodeInstance }>('start')?.old;
    if (j.isInterrupted('end') && old) return end(j, user, d, old, j.begunWith<Ending>('end')!);

    if (!old) {
      const current = d.nodes.find((n) => n.index === index && n.state === 'ok');
      if (!current || (d.state !== 'active' && d.state !== 'degraded')) return { done: true };
      d = await updateDeployment(store, userId, d.id, (x) => transition(x, 'redeploying', clock.now(), by === 'user' ? 'user' : 'system', `replacing node ${index}`));
      await j.done('start', { old: current });
      return run(j, user, d!, current);
    }
    if (d.state !== 'redeploying') return { done: true }; // deleted meanwhile: the teardown cleans up
    return run(j, user, d, old);
  };

  async function run(j: Journal, user: User, d: Deployment, old: NodeInstance): Promise<JobResult> {
    if (old.zdb) {
      const r = await storage.replace(j, user, d, old);
      return end(j, user, d, old, r.ok ? { kind: 'replaced', node: r.node } : { kind: 'failed', reason: r.reason });
    }
    const profile = profileById(d.profileId);
    if (!profile) throw new Error(`deployment ${d.id} has unknown profile ${d.profileId}`);
    const inUse = () => d.nodes.filter((n) => n.state === 'ok').map((n) => n.nodeId);
    let first = j.result<PlannedNode>('plan');
    if (!first) {
      const p = await planner.plan(profile, 1, d.placement, inUse(), d.size, d.certifiedOnly);
      if (!p.ok) return end(j, user, d, old, { kind: 'failed', reason: p.reason });
      first = p.nodes[0]!;
      await j.done('plan', first);
    }
    const generation = old.generation + 1;
    const r = await deployNode(j, user, d, profile, users.identityOf(user), {
      index: old.index,
      generation,
      gridName: gridNameOf(d, old.index, generation),
      step: 'new',
      replaceStep: 'new:replace',
      first,
      avoid: () => [...inUse(), ...nodesTried(j, (s) => s === 'new' || s === 'new:replace')],
    });
    return end(j, user, d, old, r.ok ? { kind: 'replaced', node: r.node } : { kind: 'failed', reason: r.reason });
  }
}

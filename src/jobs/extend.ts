/**
 * /extend's job: waits for the payment when one was asked, then either reports the top-up with the
 * new runway, or deploys the added nodes (journaled like an order's) and adds them to the
 * deployment; for a storage deployment, one more group of data backends (jobs/storage.ts), after
 * which the user gets the updated zstor config. Added nodes that fail are removed again by name:
 * the deployment's other nodes are never touched. How it ends is one journaled step, so the user
 * is always told.
 */
import { profileById } from '../catalog/index.js';
import { chunk, duration, esc, plural } from '../chat/format.js';
import { nodeBlocks } from '../chat/views.js';
import { extensionClaim, isWatched, type Deployment, type Extension, type NodeInstance } from '../domain/deployment.js';
import { formatTft } from '../domain/money.js';
import type { User } from '../domain/user.js';
import type { PlannedNode } from '../services/planner.js';
import type { JobDeps } from './deps.js';
import { nodeDeployer, nodesTried, updateDeployment } from './deploy-node.js';
import type { Journal } from './journal.js';
import { notify } from './notify.js';
import { storageProvisioner } from './storage.js';
import type { JobHandler, JobResult } from './worker.js';

type Ending =
  | { kind: 'topped_up' }
  | { kind: 'grown'; nodes: NodeInstance[] }
  | { kind: 'rolled_back'; reason: string; gridNames: string[] }
  | { kind: 'expired'; reason: string };

interface GrowPlan {
  nodes: PlannedNode[];
  firstIndex: number;
}

export function extendJob(deps: JobDeps): JobHandler {
  const { store, users, wallet, planner, grid, outbox, clock, log } = deps;
  const deployNode = nodeDeployer(deps);
  const storage = storageProvisioner(deps);
  const say = (user: User, text: string) => notify(outbox, log, user, { text });
  const withoutExtension = (x: Deployment): Deployment => {
    const { extension: _done, ...rest } = x;
    return rest as Deployment;
  };

  async function end(j: Journal, user: User, d: Deployment, ending: Ending): Promise<JobResult> {
    if (!j.isInterrupted('end')) await j.begin('end', ending);
    if (ending.kind === 'grown') {
      const after = await updateDeployment(store, user.id, d.id, (x) => {
        const alive = isWatched(x.state) || x.state === 'redeploying';
        if (!alive || !x.extension || x.nodes.some((n) => n.gridName === ending.nodes[0]?.gridName)) return withoutExtension(x);
        const nodes = [...x.nodes, ...ending.nodes];
        const live = nodes.filter((n) => n.state === 'ok');
        return { ...withoutExtension(x), nodes, count: live.length, hourlyCost: live.reduce((s, n) => s + n.hourlyCost, 0), updatedAt: clock.now() };
      });
      const kept = after?.nodes.some((n) => n.gridName === ending.nodes[0]?.gridName) ?? false;
      if (!kept) {
        // deleted while the nodes came up: they must not outlive it
        for (const n of ending.nodes) await grid.deleteDeployment(users.identityOf(user), d.projectName, n.gridName);
      } else {
        log.info({ user: user.id, deployment: d.id, added: ending.nodes.map((n) => n.nodeId) }, 'nodes added');
        if (ending.nodes.some((n) => n.zdb)) {
          await storage.grown(user, after!, ending.nodes);
          await j.done('end');
          return { done: true };
        }
        const head = `➕ Added ${plural(ending.nodes.length, 'node')} to <b>${esc(d.name)}</b>: it now has ${plural(after!.count, 'node')}, ${formatTft(after!.hourlyCost)}/h in all.`;
        for (const text of chunk([head, ...nodeBlocks(ending.nodes)])) await say(user, text);
      }
    } else {
      if (ending.kind === 'rolled_back') {
        for (const name of ending.gridNames) await grid.deleteDeployment(users.identityOf(user), d.projectName, name);
      }
      await updateDeployment(store, user.id, d.id, withoutExtension);
      const balance = await wallet.balance(user);
      if (ending.kind === 'topped_up') {
        const view = await deps.deployments.walletView((await store.get(user.id)) ?? user);
        await say(
          user,
          `💰 Top-up received: your wallet holds ${formatTft(balance)}. At ${formatTft(view.hourlyBurn)}/h that lasts ${duration(view.runwayMs)}` +
            (Number.isFinite(view.runwayMs) ? ` (until about ${new Date(clock.now() + view.runwayMs).toISOString().slice(0, 16).replace('T', ' ')} UTC).` : '.'),
        );
      } else if (ending.kind === 'rolled_back') {
        log.warn({ user: user.id, deployment: d.id, reason: ending.reason }, 'adding nodes rolled back');
        const what = d.storage ? 'storage' : 'nodes';
        await say(user, `❌ I could not add ${what} to <b>${esc(d.name)}</b>: ${esc(ending.reason)}. Anything new was removed; its existing ${d.storage ? 'backends' : 'nodes'} are untouched. Your balance is ${formatTft(balance)}.`);
      } else {
        await say(user, `⌛ The extension of <b>${esc(d.name)}</b> is cancelled: ${esc(ending.reason)}. TFT that arrive later stay in your wallet.`);
      }
    }
    await j.done('end');
    return { done: true };
  }

  return async (j) => {
    const { userId, deploymentId } = j.job;
    const user = await store.get(userId);
    const d = user?.deployments.find((x) => x.id === deploymentId);
    if (!user || !d) return { done: true };
    if (j.isInterrupted('end')) return end(j, user, d, j.begunWith<Ending>('end')!);
    const x: Extension | undefined = d.extension;
    if (!x) return { done: true }; // cancelled

    if (x.payment && !j.isDone('paid')) {
      // isPaid credits new deposits itself, after it reads the balance
      if (!(await wallet.isPaid(userId, extensionClaim(d.id, x.payment), x.payment))) {
        if (clock.now() < x.payment.expiresAt) return { retryAfterMs: deps.depositPollMs };
        const minutes = Math.round((x.payment.expiresAt - x.payment.requestedAt) / 60_000);
        return end(j, user, d, { kind: 'expired', reason: `no payment arrived within ${minutes} minutes` });
      }
      await j.done('paid');
      // paid: from here on it goes through, and can no longer be cancelled
      await updateDeployment(store, userId, d.id, (y) => {
        if (y.extension?.kind !== 'grow' && y.extension?.kind !== 'storage') return y;
        const { payment: _paid, ...rest } = y.extension;
        return { ...y, extension: rest };
      });
    }
    if (x.kind === 'topup') return end(j, user, d, { kind: 'topped_up' });
    if (!isWatched(d.state) && d.state !== 'redeploying') {
      return end(j, user, d, { kind: 'rolled_back', reason: `it is ${d.state.replace('_', ' ')} now`, gridNames: [] });
    }
    if (x.kind === 'storage') {
      const r = await storage.grow(j, user, d);
      return end(j, user, d, r.ok ? { kind: 'grown', nodes: r.nodes } : { kind: 'rolled_back', reason: r.reason, gridNames: r.gridNames });
    }
    const profile = profileById(d.profileId);
    if (!profile) throw new Error(`deployment ${d.id} has unknown profile ${d.profileId}`);
    const existing = () => d.nodes.filter((n) => n.state === 'ok').map((n) => n.nodeId);
    let plan = j.result<GrowPlan>('plan');
    if (!plan) {
      const p = await planner.plan(profile, x.count, x.placement, existing(), d.size, d.certifiedOnly);
      if (!p.ok) return end(j, user, d, { kind: 'rolled_back', reason: p.reason, gridNames: [] });
      plan = { nodes: p.nodes, firstIndex: Math.max(0, ...d.nodes.map((n) => n.index)) + 1 };
      await j.done('plan', plan);
    }
    const identity = users.identityOf(user);
    const made: NodeInstance[] = [];
    const names = plan.nodes.map((_, k) => `${d.name}_${plan.firstIndex + k}`);
    for (let k = 0; k < plan.nodes.length; k++) {
      const index = plan.firstIndex + k;
      const before = j.result<NodeInstance>(`node:${index}`);
      if (before) {
        made.push(before);
        continue;
      }
      const r = await deployNode(j, user, d, profile, identity, {
        index,
        generation: 0,
        gridName: names[k]!,
        step: `node:${index}`,
        replaceStep: `replace:${index}`,
        first: plan.nodes[k]!,
        avoid: () => [...existing(), ...plan.nodes.map((n) => n.nodeId), ...nodesTried(j, (s) => /^(node|replace):\d+$/.test(s))],
      });
      if (!r.ok) return end(j, user, d, { kind: 'rolled_back', reason: r.reason, gridNames: names });
      made.push(r.node);
    }
    return end(j, user, d, { kind: 'grown', nodes: made });
  };
}

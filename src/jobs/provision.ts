/**
 * The provisioning job: waits for the payment, then deploys each node of an order, journaling every
 * step, and either finishes with every node up or rolls back everything under the order's project
 * name. Because all of an order's contracts carry that project name, a crash at any moment (even
 * between the grid creating a contract and the journal hearing of it) is cleaned up on resume.
 */
import { profileById } from '../catalog/index.js';
import { chunk, esc, plural } from '../chat/format.js';
import type { OutMessage } from '../chat/types.js';
import { nodeBlocks } from '../chat/views.js';
import { transition, type Deployment, type NodeInstance } from '../domain/deployment.js';
import { formatTft } from '../domain/money.js';
import type { User } from '../domain/user.js';
import type { Identity } from '../grid/port.js';
import type { PlannedNode } from '../services/planner.js';
import type { JobDeps } from './deps.js';
import { nodeDeployer, nodesTried, updateDeployment } from './deploy-node.js';
import type { Journal } from './journal.js';
import { notify } from './notify.js';
import { storageProvisioner } from './storage.js';
import type { JobHandler, JobResult } from './worker.js';

type Ending = { kind: 'up' } | { kind: 'rolled_back'; reason: string } | { kind: 'expired'; reason: string };

/** Every grid node this order planned, tried or chose as a replacement: a replacement must avoid them all. */
export function nodesOfOrder(j: Journal, plan: PlannedNode[]): number[] {
  return [...new Set([...plan.map((p) => p.nodeId), ...nodesTried(j, (step) => /^(node|replace):\d+$/.test(step))])];
}

export function provisionJob(deps: JobDeps): JobHandler {
  const { store, users, wallet, planner, grid, outbox, clock, log } = deps;

  const setDeployment = (userId: number, id: string, change: (d: Deployment) => Deployment) => updateDeployment(store, userId, id, change);
  const say = (user: User, msg: OutMessage) => notify(outbox, log, user, msg);
  const deployNode = nodeDeployer(deps);
  const storage = storageProvisioner(deps);

  /**
   * One message per order shows the progress, edited as nodes come up (Telegram allows a chat about
   * one message a second, so a message per step would be throttled). It opens with the payment
   * receipt when there was one.
   */
  async function progress(j: Journal, user: User, line: string): Promise<void> {
    const receipt = j.note<string>('receipt');
    const text = receipt ? `${receipt}\n${line}` : line;
    const id = j.note<number>('progress-message');
    if (id !== undefined) await outbox.edit(user.chatId, id, { text }, 'notice').catch(() => undefined);
    else {
      const sent = await say(user, { text });
      if (sent !== undefined) await j.record('progress-message', sent);
    }
  }

  /**
   * How an order ends, as one journaled step: it is begun with what happened, does only idempotent
   * work (cancel what is left, move the state, tell the user), and is done last. A run interrupted
   * in the middle finishes it on resume, so the user is always told (at worst twice, never not).
   */
  async function end(j: Journal, user: User, d: Deployment, ending: Ending): Promise<JobResult> {
    if (!j.isInterrupted('end')) await j.begin('end', ending);
    const now = clock.now();
    if (ending.kind === 'expired') {
      // the user may have cancelled the order meanwhile: then it is over already, and they were told
      const moved = await setDeployment(user.id, d.id, (x) => (x.state === 'awaiting_payment' ? transition(x, 'failed', now, 'job', ending.reason) : x));
      if (moved?.state === 'failed' && moved.reason === ending.reason) {
        await say(user, {
          text:
            `⌛ Order <b>${esc(d.name)}</b> is cancelled: ${esc(ending.reason)}. ` +
            `Nothing was charged; TFT that arrive later stay in your wallet for your next /deploy.`,
        });
      }
    } else if (ending.kind === 'rolled_back') {
      const cancelled = [...(j.result<number[]>('sweep') ?? []), ...(await sweep(users.identityOf(user), d.projectName))];
      await j.done('sweep', cancelled);
      await setDeployment(user.id, d.id, (x) =>
        x.state !== 'provisioning'
          ? x
          : transition({ ...x, nodes: x.nodes.map((n) => ({ ...n, state: 'deleted' as const })) }, 'failed', now, 'job', ending.reason),
      );
      const balance = await wallet.balance(user);
      log.warn({ user: user.id, deployment: d.id, reason: ending.reason, cancelled }, 'provisioning rolled back');
      await say(user, {
        text:
          `❌ <b>${esc(d.name)}</b> could not be deployed: ${esc(ending.reason)}.\n` +
          `Everything that was created has been removed${cancelled.length ? ` (${plural(cancelled.length, 'contract')} cancelled)` : ''}, ` +
          `and nothing was charged. Your balance is ${formatTft(balance)}.\nYou can try again with /deploy.`,
      });
    } else if (d.storage) {
      await storage.finish(j, user, d);
    } else {
      const nodes = Array.from({ length: d.count }, (_, k) => j.result<NodeInstance>(`node:${k + 1}`)!);
      const hourlyCost = nodes.reduce((sum, n) => sum + n.hourlyCost, 0);
      const active = (await setDeployment(user.id, d.id, (x) =>
        x.state === 'provisioning' ? transition({ ...x, nodes, hourlyCost }, 'active', now, 'job') : x,
      ))!;
      for (const text of upMessages(active, nodes)) await say(user, { text });
      log.info({ user: user.id, deployment: d.id, nodes: nodes.map((n) => n.nodeId) }, 'deployment active');
    }
    await j.done('end');
    return { done: true };
  }

  /** The news that an order is up: a summary with the secrets first, then the nodes in messages that fit Telegram. */
  function upMessages(d: Deployment, nodes: NodeInstance[]): string[] {
    const profile = profileById(d.profileId)!;
    const secrets = Object.entries(deps.deployments.generatedSecrets(d)).map(([k, v]) => `${esc(k)}: <code>${esc(v)}</code>`);
    const summary = [
      `✅ <b>${esc(d.name)}</b> is up: ${plural(d.count, 'node')}, ${formatTft(d.hourlyCost)}/h.`,
      esc(profile.howToReach(nodes[0]?.publicIp)),
      ...(secrets.length ? ['', 'Keep these safe; this is the only time the chat shows them:', ...secrets] : []),
      '',
      `See it any time with /status ${esc(d.name)}.`,
    ].join('\n');
    return chunk([summary, ...nodeBlocks(nodes)]);
  }

  /** Cancels every contract of the project; returns their ids. */
  async function sweep(identity: Identity, projectName: string): Promise<number[]> {
    const contracts = await grid.listContracts(identity, { projectPrefix: projectName });
    const mine = contracts.filter((c) => c.projectName === projectName);
    for (const c of mine) await grid.cancelContract(identity, c.contractId);
    return mine.map((c) => c.contractId);
  }

  return async (j) => {
    const { userId, deploymentId } = j.job;
    const user = await store.get(userId);
    let d = user?.deployments.find((x) => x.id === deploymentId);
    if (!user || !d) return { done: true };
    if (j.isInterrupted('end')) return end(j, user, d, j.begunWith<Ending>('end')!);

    /** The identity's twin, once: deployments need it, and the Stellar bridge form names it. */
    async function registerTwin(): Promise<void> {
      if (j.isDone('twin')) return;
      await j.begin('twin');
      const twinId = await grid.ensureTwin(users.identityOf(user!));
      await store.update(userId, (u) => {
        u.identity.twinId = twinId;
      });
      await j.done('twin', { twinId });
    }

    if (d.state === 'awaiting_payment' && wallet.offersStellar && user.identity.twinId === undefined && j.note('early-twin') === undefined) {
      // registered while the user reads the prompt, so the bridge form is there when they ask for it.
      // Tried once: a failure only delays that form (the step runs again once the order is paid), and
      // a registration waits up to 30 s for activation, which each deposit poll must not repeat.
      await j.record('early-twin', clock.now());
      await registerTwin().catch((err: unknown) => log.warn({ err, user: userId, deployment: d!.id }, 'early twin registration failed'));
    }
    if (d.state === 'awaiting_payment') {
      // isOrderPaid credits new deposits itself, after it reads the balance
      if (!(await wallet.isOrderPaid(userId, d))) {
        const p = d.payment!;
        if (clock.now() < p.expiresAt) return { retryAfterMs: deps.depositPollMs };
        const minutes = Math.round((p.expiresAt - p.requestedAt) / 60_000);
        return end(j, user, d, { kind: 'expired', reason: `no payment arrived within ${minutes} minutes` });
      }
      // a cancel may have won the race: then this order is over
      d = await setDeployment(userId, d.id, (x) =>
        x.state === 'awaiting_payment' ? transition(x, 'provisioning', clock.now(), 'job', 'payment received') : x,
      );
      await j.record('receipt', `💰 Payment received: your balance is ${formatTft(await wallet.balance(user))}.`);
    }
    if (!d || d.state !== 'provisioning') return { done: true };
    const profile = profileById(d.profileId);
    if (!profile) throw new Error(`deployment ${d.id} has unknown profile ${d.profileId}`);
    const identity = users.identityOf(user);

    await registerTwin();

    if (profile.kind === 'storage') {
      // 0-db backends instead of VMs (jobs/storage.ts); ends the same way: up, or rolled back by the sweep
      const r = await storage.deploy(j, user, d, identity, (line) => progress(j, user, line));
      return end(j, user, d, r.ok ? { kind: 'up' } : { kind: 'rolled_back', reason: r.reason });
    }

    let plan = j.result<PlannedNode[]>('plan');
    if (!plan) {
      // the nodes the user accepted, if they chose; a node gone meanwhile is replaced like a failed one
      const p = d.plan?.length === d.count ? { ok: true as const, nodes: d.plan } : await planner.plan(profile, d.count, d.placement, [], d.size, d.certifiedOnly);
      if (!p.ok) return end(j, user, d, { kind: 'rolled_back', reason: p.reason });
      plan = p.nodes;
      await j.done('plan', plan);
    }

    for (let i = 1; i <= d.count; i++) {
      if (j.isDone(`node:${i}`)) continue;
      await progress(j, user, `🔧 Deploying <b>${esc(d.name)}</b>: node ${i} of ${d.count}…`);
      const r = await deployNode(j, user, d, profile, identity, {
        index: i,
        generation: 0,
        gridName: `${d.name}_${i}`,
        step: `node:${i}`,
        replaceStep: `replace:${i}`,
        first: plan[i - 1]!,
        avoid: () => nodesOfOrder(j, plan),
      });
      if (!r.ok) return end(j, user, d, { kind: 'rolled_back', reason: r.reason });
    }
    return end(j, user, d, { kind: 'up' });
  };
}

/**
 * Deploying one node of a deployment, journaled, as provisioning, growing and replacing all need
 * it: a resumed step first looks at what the grid holds under the node's name, a failure retries on
 * another node that fits the same placement, and a step that cannot succeed says why in plain words.
 */
import { sizeOf, type NodeProfile } from '../catalog/index.js';
import type { Deployment, NodeInstance } from '../domain/deployment.js';
import type { User } from '../domain/user.js';
import { GridError, type Identity, type VmInfo } from '../grid/port.js';
import type { PlannedNode } from '../services/planner.js';
import type { UserStore } from '../store/user-store.js';
import type { JobDeps } from './deps.js';
import { plainReason, recordFailure } from './grid-failure.js';
import type { Journal } from './journal.js';

/** Attempts per node before giving up; each retry goes to another node. */
export const ATTEMPTS_PER_NODE = 3;
const RETRYABLE = new Set(['no_capacity', 'node_down', 'no_public_ip', 'workload_error', 'timeout']);

/** One node to bring up: the journal step that records it, the grid name it lives under, where it goes first. */
export interface NodeSlot {
  index: number;
  generation: number;
  gridName: string;
  /** journal step of the node; its replacement choices are recorded under `${step}:replace` */
  step: string;
  replaceStep: string;
  first: PlannedNode;
  /** grid nodes a retry must avoid (the deployment's other nodes, earlier tries) */
  avoid: () => number[];
}

/** Changes one deployment of a user in place; undefined when it does not exist. */
export function updateDeployment(store: UserStore, userId: number, id: string, change: (d: Deployment) => Deployment): Promise<Deployment | undefined> {
  return store.update(userId, (u) => {
    const i = u.deployments.findIndex((d) => d.id === id);
    if (i < 0) return undefined;
    u.deployments[i] = change(u.deployments[i]!);
    return u.deployments[i];
  });
}

/** The grid nodes a journal's node steps began on: a retry avoids them all. */
export function nodesTried(j: Journal, isNodeStep: (step: string) => boolean): number[] {
  return j.job.journal
    .filter((e) => isNodeStep(e.step) && e.data !== undefined && typeof (e.data as { nodeId?: unknown }).nodeId === 'number')
    .map((e) => (e.data as { nodeId: number }).nodeId);
}

/** A node that came up: where it runs, its contracts and cost; VMs and 0-db backends add their own parts. */
export function placedNode(slot: Pick<NodeSlot, 'index' | 'gridName' | 'generation'>, node: PlannedNode, contractIds: number[]): NodeInstance {
  return {
    index: slot.index,
    gridName: slot.gridName,
    nodeId: node.nodeId,
    farmId: node.farmId,
    country: node.country,
    city: node.city,
    contractIds,
    hourlyCost: node.hourlyCost,
    state: 'ok',
    generation: slot.generation,
  };
}

export function instanceOf(slot: Pick<NodeSlot, 'index' | 'gridName' | 'generation'>, node: PlannedNode, vms: VmInfo[]): NodeInstance {
  const vm = vms[0];
  return {
    ...placedNode(slot, node, vms.map((v) => v.contractId)),
    ...(vm?.publicIp ? { publicIp: vm.publicIp.replace(/\/\d+$/, '') } : {}),
    ...(vm?.mycelium ? { mycelium: vm.mycelium } : {}),
  };
}

/** The planned node with this id among the slot's first choice and its replacements, as the journal recorded them. */
function plannedOn(j: Journal, slot: NodeSlot, nodeId: number): PlannedNode | undefined {
  if (slot.first.nodeId === nodeId) return slot.first;
  return j.job.journal
    .filter((e) => e.step === slot.replaceStep && e.phase === 'done')
    .map((e) => e.data as PlannedNode | undefined)
    .findLast((p) => p?.nodeId === nodeId);
}

export function nodeDeployer(deps: JobDeps) {
  const { grid, planner, clock, log } = deps;

  /** Waits for a deployment an earlier run started, which the grid may still be bringing up. */
  async function awaitReady(identity: Identity, d: Deployment, gridName: string): Promise<VmInfo[]> {
    const deadline = clock.now() + deps.readyTimeoutMs;
    for (;;) {
      const vms = await grid.getVms(identity, d.projectName, gridName);
      if (vms.length === 0 || vms.every((v) => v.state === 'ok') || vms.some((v) => v.state === 'error')) return vms;
      if (clock.now() > deadline) return vms;
      await deps.sleep(deps.readyPollMs);
    }
  }

  /** Brings the slot's node up (its result is the step's done data), or says why it could not. */
  return async function deployNode(
    j: Journal,
    user: User,
    d: Deployment,
    profile: NodeProfile,
    identity: Identity,
    slot: NodeSlot,
  ): Promise<{ ok: true; node: NodeInstance } | { ok: false; reason: string }> {
    const { step, gridName } = slot;
    for (;;) {
      const node = j.result<PlannedNode>(slot.replaceStep) ?? slot.first;
      if (j.attempts(step) > 0) {
        // an earlier run began this node: the grid may have it, half-made or whole
        const vms = await awaitReady(identity, d, gridName);
        if (vms.length > 0 && vms.every((v) => v.state === 'ok')) {
          // a deploy that timed out after the grid made it runs where that try went, not where the next one would
          const made = instanceOf(slot, plannedOn(j, slot, vms[0]!.nodeId) ?? node, vms);
          await j.done(step, made);
          return { ok: true, node: made };
        }
        if (vms.length > 0) await grid.deleteDeployment(identity, d.projectName, gridName);
      }
      if (j.attempts(step) >= ATTEMPTS_PER_NODE) return { ok: false, reason: `node ${slot.index} failed ${ATTEMPTS_PER_NODE} times` };
      await j.begin(step, { nodeId: node.nodeId });
      try {
        const inputs = deps.deployments.inputsOf(d);
        const size = sizeOf(profile, d.size);
        const generated = deps.deployments.generatedSecrets(d);
        await grid.deployVms(identity, {
          projectName: d.projectName,
          name: gridName,
          machines: [
            {
              name: gridName,
              nodeId: node.nodeId,
              cpu: size.cpu,
              memoryMb: size.memoryMb,
              rootfsGb: size.rootfsGb,
              disks: size.disks,
              flist: profile.flist,
              entrypoint: profile.entrypoint,
              env: { ...size.env, ...profile.env(inputs, generated), ...(user.settings.sshKey ? { SSH_KEY: user.settings.sshKey } : {}) },
              publicIp: profile.publicIpv4,
              mycelium: true,
            },
          ],
        });
        const made = instanceOf(slot, node, await grid.getVms(identity, d.projectName, gridName));
        await j.done(step, made);
        return { ok: true, node: made };
      } catch (err) {
        log.warn({ err, user: user.id, deployment: d.id, node: node.nodeId }, 'node deployment failed');
        await recordFailure(j, step, node.nodeId, err);
        if (!(err instanceof GridError) || !RETRYABLE.has(err.code)) return { ok: false, reason: plainReason(err) };
        if (j.attempts(step) >= ATTEMPTS_PER_NODE) return { ok: false, reason: plainReason(err) };
        const again = await planner.plan(profile, 1, d.placement, [...new Set(slot.avoid())], d.size, d.certifiedOnly);
        if (!again.ok) return { ok: false, reason: `${plainReason(err)}, and ${again.reason}` };
        await j.done(slot.replaceStep, again.nodes[0]);
      }
    }
  };
}

/**
 * The deletion job: cancels every contract of a deployment, node by node and then by sweeping its
 * project name (which also catches a contract an interrupted job never recorded), then marks the
 * deployment deleted and tells the user. Safe to run again from any point.
 */
import { esc, plural } from '../chat/format.js';
import { transition } from '../domain/deployment.js';
import { formatTft } from '../domain/money.js';
import type { JobDeps } from './deps.js';
import { notify } from './notify.js';
import type { JobHandler } from './worker.js';

export function teardownJob(deps: JobDeps): JobHandler {
  const { store, users, grid, outbox, clock, log, wallet } = deps;
  return async (j) => {
    const { userId, deploymentId } = j.job;
    const user = await store.get(userId);
    const d = user?.deployments.find((x) => x.id === deploymentId);
    if (!user || !d) return { done: true };
    const resumedAfterDeletion = d.state === 'deleted' && j.isDone('contracts-cancelled');
    if (d.state !== 'deleting' && !resumedAfterDeletion) return { done: true };

    if (d.state === 'deleting') {
      const identity = users.identityOf(user);
      const cancelled: number[] = [];
      for (const n of d.nodes.filter((x) => x.state !== 'deleted')) {
        cancelled.push(...(await grid.deleteDeployment(identity, d.projectName, n.gridName)));
      }
      const leftovers = (await grid.listContracts(identity, { projectPrefix: d.projectName })).filter((c) => c.projectName === d.projectName);
      for (const c of leftovers) {
        await grid.cancelContract(identity, c.contractId);
        cancelled.push(c.contractId);
      }
      await j.done('contracts-cancelled', [...(j.result<number[]>('contracts-cancelled') ?? []), ...cancelled]);
      await store.update(userId, (u) => {
        const i = u.deployments.findIndex((x) => x.id === d.id);
        const cur = u.deployments[i]!;
        u.deployments[i] = transition({ ...cur, nodes: cur.nodes.map((n) => ({ ...n, state: 'deleted' as const })) }, 'deleted', clock.now(), 'job');
      });
    }
    // told last: a crash before this line tells the user on the next start
    const cancelled = j.result<number[]>('contracts-cancelled') ?? [];
    log.info({ user: userId, deployment: d.id, cancelled }, 'deployment deleted');
    const balance = await wallet.balance(user);
    const asked = d.audit.findLast((a) => a.to === 'deleting');
    const why = asked?.by === 'system' && asked.note ? ` (${esc(asked.note)})` : '';
    await notify(outbox, log, user, {
      text:
        `🗑 <b>${esc(d.name)}</b> is deleted${why}` +
        (cancelled.length ? `: ${plural(cancelled.length, 'contract')} cancelled, billing stopped.` : '.') +
        ` Your balance is ${formatTft(balance)}.`,
    });
    return { done: true };
  };
}

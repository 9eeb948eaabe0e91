/** The deployment life cycle: every (from, to) pair, checked against the product rule. */
import { describe, it, expect } from '@jest/globals';
import {
  DEPLOYMENT_STATES,
  DeploymentSchema,
  IllegalTransition,
  canTransition,
  isLive,
  transition,
  type Deployment,
  type DeploymentState,
} from '../../../src/domain/deployment.js';

/**
 * The product rule, written out independently of the code: an order waits for payment, is then
 * provisioned, lives (possibly degraded / being redeployed) and is finally deleted. A failed order
 * can only be cleaned up; a deleted one is final.
 */
const RULE: Record<DeploymentState, DeploymentState[]> = {
  awaiting_payment: ['provisioning', 'failed', 'deleting'],
  provisioning: ['active', 'failed'],
  active: ['degraded', 'redeploying', 'deleting'],
  degraded: ['active', 'redeploying', 'deleting'],
  redeploying: ['active', 'degraded', 'deleting'],
  deleting: ['deleted'],
  failed: ['deleting'],
  deleted: [],
};

function deployment(state: DeploymentState, over: Partial<Deployment> = {}): Deployment {
  return {
    id: 'd1',
    name: 'my node',
    profileId: 'presearch',
    count: 1,
    placement: { kind: 'random' },
    inputs: {},
    state,
    projectName: 'jukebox-1-d1',
    hourlyCost: 1000,
    nodes: [],
    autoRedeploy: true,
    createdAt: 1_000,
    updatedAt: 1_000,
    audit: [{ at: 1_000, by: 'user', to: state }],
    ...over,
  };
}

const pairs = DEPLOYMENT_STATES.flatMap((from) => DEPLOYMENT_STATES.map((to) => [from, to] as const));

describe('deployment transitions', () => {
  it('the rule written here covers every state the code knows (a new state needs a reviewed rule)', () => {
    expect(Object.keys(RULE).sort()).toEqual([...DEPLOYMENT_STATES].sort());
  });

  it.each(pairs)('%s → %s follows the product rule', (from, to) => {
    const allowed = RULE[from].includes(to);
    expect(canTransition(from, to)).toBe(allowed);
    const d = deployment(from);
    if (allowed) {
      const next = transition(d, to, 5_000, 'job');
      expect(next.state).toBe(to);
      expect(next.updatedAt).toBe(5_000);
      // the result is still a deployment the store accepts
      expect(DeploymentSchema.safeParse(next).success).toBe(true);
    } else {
      let caught: unknown;
      try {
        transition(d, to, 5_000, 'job');
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(IllegalTransition);
      expect((caught as IllegalTransition).from).toBe(from);
      expect((caught as IllegalTransition).to).toBe(to);
      expect((caught as Error).message).toContain(`from ${from} to ${to}`);
    }
  });

  it('no state can move to itself (a repeated step is never silently accepted)', () => {
    for (const s of DEPLOYMENT_STATES) expect(() => transition(deployment(s), s, 1, 'job')).toThrow(IllegalTransition);
  });

  it('deleted is final and failed can only be cleaned up', () => {
    expect(DEPLOYMENT_STATES.filter((to) => canTransition('deleted', to))).toEqual([]);
    expect(DEPLOYMENT_STATES.filter((to) => canTransition('failed', to))).toEqual(['deleting']);
  });

  it('appends who, when and the note to the audit trail, keeping earlier entries', () => {
    const d0 = deployment('awaiting_payment');
    const d1 = transition(d0, 'provisioning', 2_000, 'user', 'paid 12 TFT');
    const d2 = transition(d1, 'active', 3_000, 'job');
    expect(d2.audit).toEqual([
      { at: 1_000, by: 'user', to: 'awaiting_payment' },
      { at: 2_000, by: 'user', to: 'provisioning', note: 'paid 12 TFT' },
      { at: 3_000, by: 'job', to: 'active' },
    ]);
    // an entry without a note has no `note` key at all (it stays valid, compact JSON)
    expect(Object.keys(d2.audit[2]!)).not.toContain('note');
  });

  it('sets `reason` from the note only when the deployment fails', () => {
    const failed = transition(deployment('provisioning'), 'failed', 2_000, 'job', 'no node with enough disk');
    expect(failed.reason).toBe('no node with enough disk');

    const active = transition(deployment('provisioning'), 'active', 2_000, 'job', 'all nodes up');
    expect(active.reason).toBeUndefined();
    expect(active.audit.at(-1)?.note).toBe('all nodes up');

    // cleaning up a failed deployment keeps the reason it failed, for the user to read
    const deleting = transition(failed, 'deleting', 3_000, 'user', 'user asked');
    expect(deleting.reason).toBe('no node with enough disk');
  });

  it('does not mutate the deployment it is given', () => {
    const d = deployment('active');
    const snapshot = structuredClone(d);
    const next = transition(d, 'degraded', 9_000, 'system', 'node 12 down');
    expect(d).toEqual(snapshot);
    expect(next).not.toBe(d);
    expect(next.audit).not.toBe(d.audit);
    expect(d.audit).toHaveLength(1);
  });

  it('a refused transition leaves the deployment untouched', () => {
    const d = deployment('deleted');
    const snapshot = structuredClone(d);
    expect(() => transition(d, 'active', 9_000, 'user')).toThrow(IllegalTransition);
    expect(d).toEqual(snapshot);
  });

  it('isLive is false exactly for the states that own no contracts (deleted, failed)', () => {
    const live = DEPLOYMENT_STATES.filter(isLive);
    expect(live.sort()).toEqual(['active', 'awaiting_payment', 'degraded', 'deleting', 'provisioning', 'redeploying']);
  });
});

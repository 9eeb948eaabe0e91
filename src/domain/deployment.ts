/**
 * A deployment (one order) and the only moves it can make. Jobs and services change a deployment's
 * state through `transition`, never by assignment, so an illegal move is an error, not a surprise.
 */
import { z } from 'zod';

export const DEPLOYMENT_STATES = [
  'awaiting_payment',
  'provisioning',
  'active',
  'degraded',
  'redeploying',
  'deleting',
  'deleted',
  'failed',
] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];

/** The draft of an order lives in the conversation; a Deployment exists from the confirmation on. */
const ALLOWED: Record<DeploymentState, readonly DeploymentState[]> = {
  awaiting_payment: ['provisioning', 'failed', 'deleting'],
  provisioning: ['active', 'failed'],
  active: ['degraded', 'redeploying', 'deleting'],
  degraded: ['active', 'redeploying', 'deleting'],
  redeploying: ['active', 'degraded', 'deleting'],
  deleting: ['deleted'],
  deleted: [],
  failed: ['deleting'],
};

export function canTransition(from: DeploymentState, to: DeploymentState): boolean {
  return ALLOWED[from].includes(to);
}

/** States the user can delete from (the others must finish first). */
export function isDeletable(state: DeploymentState): boolean {
  return canTransition(state, 'deleting');
}

/** States in which the grid bills the deployment's contracts. */
export function isBilled(state: DeploymentState): boolean {
  return ['provisioning', 'active', 'degraded', 'redeploying'].includes(state);
}

/** States in which the deployment owns (or may own) contracts on the grid. */
export function isLive(state: DeploymentState): boolean {
  return state !== 'deleted' && state !== 'failed';
}

export class IllegalTransition extends Error {
  constructor(readonly from: DeploymentState, readonly to: DeploymentState) {
    super(`a deployment cannot go from ${from} to ${to}`);
    this.name = 'IllegalTransition';
  }
}

export const PlacementSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('random') }),
  z.object({ kind: z.literal('country'), country: z.string().min(1).max(64) }),
]);
export type Placement = z.infer<typeof PlacementSchema>;

export const NodeInstanceSchema = z.object({
  index: z.number().int().min(1),
  /** the name of this node's deployment on the grid, unique for the user's twin */
  gridName: z.string(),
  nodeId: z.number().int(),
  farmId: z.number().int(),
  country: z.string(),
  city: z.string(),
  contractIds: z.array(z.number().int()),
  publicIp: z.string().optional(),
  mycelium: z.string().optional(),
  hourlyCost: z.number().int(),
  state: z.enum(['ok', 'deleted']),
});
export type NodeInstance = z.infer<typeof NodeInstanceSchema>;

export const AuditEntrySchema = z.object({
  at: z.number(),
  by: z.enum(['user', 'job', 'system']),
  to: z.enum(DEPLOYMENT_STATES),
  note: z.string().optional(),
});

export const DeploymentSchema = z.object({
  id: z.string(),
  name: z.string(),
  profileId: z.string(),
  count: z.number().int().min(1),
  placement: PlacementSchema,
  /** the profile's inputs the user gave; secret ones are encrypted with the master key */
  inputs: z.record(z.string(), z.string()),
  state: z.enum(DEPLOYMENT_STATES),
  /** why it failed, in words shown to the user */
  reason: z.string().optional(),
  /** the grid project all of this deployment's contracts live under */
  projectName: z.string(),
  hourlyCost: z.number().int(),
  payment: z
    .object({
      /** a month of this order's cost: a balance this high pays it whatever happened before */
      required: z.number().int(),
      /** what the prompt asked for: deposits this large after the request pay it too */
      due: z.number().int(),
      requestedAt: z.number(),
      expiresAt: z.number(),
      uri: z.string(),
    })
    .optional(),
  nodes: z.array(NodeInstanceSchema),
  createdAt: z.number(),
  updatedAt: z.number(),
  audit: z.array(AuditEntrySchema),
});
export type Deployment = z.infer<typeof DeploymentSchema>;

export function transition(
  d: Deployment,
  to: DeploymentState,
  at: number,
  by: 'user' | 'job' | 'system',
  note?: string,
): Deployment {
  if (!canTransition(d.state, to)) throw new IllegalTransition(d.state, to);
  return {
    ...d,
    state: to,
    updatedAt: at,
    reason: to === 'failed' ? note : d.reason,
    audit: [...d.audit, { at, by, to, ...(note ? { note } : {}) }],
  };
}

/** What a user sees for a state. */
export const STATE_LABEL: Record<DeploymentState, string> = {
  awaiting_payment: '⏳ awaiting payment',
  provisioning: '🔧 provisioning',
  active: '✅ active',
  degraded: '⚠️ degraded',
  redeploying: '🔁 redeploying',
  deleting: '🗑 deleting',
  deleted: '✖️ deleted',
  failed: '❌ failed',
};

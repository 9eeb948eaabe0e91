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

/** States the watchdog checks: the deployment should be up, and no job is changing it. */
export function isWatched(state: DeploymentState): boolean {
  return state === 'active' || state === 'degraded';
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
  z.object({ kind: z.literal('city'), country: z.string().min(1).max(64), city: z.string().min(1).max(64) }),
  z.object({ kind: z.literal('farm'), farmId: z.number().int(), farmName: z.string().max(64) }),
]);
export type Placement = z.infer<typeof PlacementSchema>;

/** A placement in words: "anywhere", "Belgium", "Ghent, Belgium", "farm Freefarm (1)". */
export function placementLabel(p: Placement): string {
  switch (p.kind) {
    case 'random':
      return 'anywhere';
    case 'country':
      return p.country;
    case 'city':
      return `${p.city}, ${p.country}`;
    case 'farm':
      return `farm ${p.farmName} (${p.farmId})`;
  }
}

export const NodeProblemSchema = z.object({
  kind: z.enum(['node_down', 'workload_error', 'contract_gone', 'sync_stalled']),
  /** in words for the user */
  detail: z.string(),
  since: z.number(),
  /** set once the user was offered a Redeploy button for this problem */
  offeredAt: z.number().optional(),
});
export type NodeProblem = z.infer<typeof NodeProblemSchema>;

export const RecoverySchema = z.object({
  failures: z.number().int().min(0),
  nextAt: z.number(),
  gaveUp: z.boolean(),
});
export type Recovery = z.infer<typeof RecoverySchema>;

/** A storage backend: one 0-db on the node, data (seq mode) or zstor metadata (user mode). */
export const ZdbBackendSchema = z.object({
  role: z.enum(['data', 'meta']),
  /** the namespace the grid made for it */
  namespace: z.string(),
  port: z.number().int(),
  /** as the grid reports them: public IPv6 and mycelium */
  ips: z.array(z.string()),
  sizeGb: z.number(),
  /** a data backend's group (zstor's `[[groups]]`): 1 for the order's, 2 and on for the ones /extend added; absent: 1 */
  group: z.number().int().min(1).optional(),
});
export type ZdbBackend = z.infer<typeof ZdbBackendSchema>;

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
  /** how many times this node was replaced; its grid name carries it from the first replacement on */
  generation: z.number().int().min(0).default(0),
  /** what the watchdog last found wrong with it; absent while it is healthy */
  problem: NodeProblemSchema.optional(),
  /** replacing it after a failure: tries so far, when the next may start, whether the bot gave up */
  recovery: RecoverySchema.optional(),
  /** a storage backend (a 0-db, not a VM); its password is among the deployment's sealed secrets */
  zdb: ZdbBackendSchema.optional(),
  /** the chain's own view, as the watchdog last saw it change: `since` is when the height last moved */
  sync: z.object({ state: z.enum(['synced', 'syncing']), progress: z.number(), height: z.number(), since: z.number() }).optional(),
});
export type NodeInstance = z.infer<typeof NodeInstanceSchema>;

export const AuditEntrySchema = z.object({
  at: z.number(),
  by: z.enum(['user', 'job', 'system']),
  to: z.enum(DEPLOYMENT_STATES),
  note: z.string().optional(),
});

export const PaymentSchema = z.object({
  /** a month of the cost: a balance this high pays it whatever happened before */
  required: z.number().int(),
  /** what the prompt asked for: deposits this large after the request pay it too */
  due: z.number().int(),
  requestedAt: z.number(),
  expiresAt: z.number(),
  uri: z.string(),
});
export type Payment = z.infer<typeof PaymentSchema>;

export const ExtensionSchema = z.discriminatedUnion('kind', [
  /** a deposit that buys `hours` more of the wallet's runway */
  z.object({ kind: z.literal('topup'), hours: z.number().int().min(1), payment: PaymentSchema }),
  /** nodes to add, with their placement and cost; paid first when the wallet lacks a month of it */
  z.object({
    kind: z.literal('grow'),
    count: z.number().int().min(1),
    placement: PlacementSchema,
    hourlyCost: z.number().int(),
    payment: PaymentSchema.optional(),
  }),
  /** a storage deployment's added capacity: `groups` more groups of k + m data backends, paid like nodes */
  z.object({
    kind: z.literal('storage'),
    groups: z.number().int().min(1),
    hourlyCost: z.number().int(),
    payment: PaymentSchema.optional(),
  }),
]);
export type Extension = z.infer<typeof ExtensionSchema>;

/** What the deposits paying an extension are claimed for, so one deposit never pays twice. */
export const extensionClaim = (deploymentId: string, p: Payment): string => `extend:${deploymentId}:${p.requestedAt}`;

/** What a storage order asked for and how it is laid out (src/storage/plan.ts). */
export const StorageOrderSchema = z.object({
  usableGb: z.number().int().min(1),
  /** k data shards and m parity shards: k + m data backends, any m of which can be lost */
  data: z.number().int().min(1),
  parity: z.number().int().min(1),
  /** each data backend, GB */
  backendGb: z.number().positive(),
  /** each of the 4 metadata backends, GB */
  metaGb: z.number().positive(),
});
export type StorageOrder = z.infer<typeof StorageOrderSchema>;

export const DeploymentSchema = z.object({
  id: z.string(),
  name: z.string(),
  profileId: z.string(),
  /** the profile's size (see the catalog); absent means its default */
  size: z.string().optional(),
  /** the user chose certified nodes only: retries and replacements keep to them */
  certifiedOnly: z.boolean().optional(),
  /** the nodes the user accepted at the summary, where provisioning starts */
  plan: z
    .array(z.object({ nodeId: z.number().int(), farmId: z.number().int(), country: z.string(), city: z.string(), certified: z.boolean(), hourlyCost: z.number().int() }))
    .optional(),
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
  payment: PaymentSchema.optional(),
  nodes: z.array(NodeInstanceSchema),
  /** replace a failed node by itself (true) or offer the user a Redeploy button (false) */
  autoRedeploy: z.boolean().default(true),
  /** a storage deployment's size and redundancy; its nodes are the 0-db backends */
  storage: StorageOrderSchema.optional(),
  /** what /extend is doing, until it is paid and done (or expires): one at a time */
  extension: ExtensionSchema.optional(),
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

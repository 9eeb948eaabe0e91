/** A user, as kept in their own file: identity (sealed), settings, deposits, deployments, conversation. */
import { z } from 'zod';
import { DeploymentSchema, isBilled } from './deployment.js';

export const FlowStateSchema = z.object({
  flow: z.string(),
  version: z.number().int(),
  step: z.string(),
  /** changes with every question, so buttons of older questions are recognisably stale */
  token: z.string(),
  data: z.record(z.string(), z.unknown()),
  /** the values behind the current question's buttons; callback data carries only their index */
  choices: z.array(z.string()),
  page: z.number().int().min(0),
  updatedAt: z.number(),
});
export type FlowState = z.infer<typeof FlowStateSchema>;

export const CreditSchema = z.object({
  id: z.string(),
  amount: z.number().int(),
  at: z.number(),
  /** the order this deposit paid for, so one deposit never pays two orders */
  paidOrder: z.string().optional(),
});

export const UserSchema = z.object({
  schema: z.literal(1),
  id: z.number().int(),
  chatId: z.number().int(),
  firstName: z.string().optional(),
  createdAt: z.number(),
  identity: z.object({
    address: z.string(),
    /** the mnemonic, sealed with the master key */
    mnemonicSealed: z.string(),
    twinId: z.number().int().optional(),
  }),
  settings: z.object({ sshKey: z.string().optional() }),
  /** deposits credited to this user, each once, by the chain's transfer id */
  credits: z.array(CreditSchema),
  deployments: z.array(DeploymentSchema),
  /** per-user counter for deployment ids */
  nextDeploymentId: z.number().int().min(1),
  /** legacy: conversations now have their own file (src/store/flow-store.ts); dropped from here at their next step */
  flow: FlowStateSchema.optional(),
  /**
   * Runway reminders sent in the current run-down of the wallet. A top-up that lifts the runway above
   * every threshold starts a new epoch, so the next run-down reminds again.
   */
  reminders: z.object({ epoch: z.number().int().min(0), sent: z.array(z.string()) }).default({ epoch: 0, sent: [] }),
  /** set when Telegram answers 403: the user blocked the bot */
  unreachableSince: z.number().optional(),
  /** the fingerprint of the master key this file's sealed values are sealed with (`npm run rotate-key` moves it) */
  sealedWith: z.string().optional(),
});
export type User = z.infer<typeof UserSchema>;

/** Whether the watchdog must look at this user: the grid bills one of their deployments. */
export function needsWatching(u: User): boolean {
  return u.deployments.some((d) => isBilled(d.state));
}
export const USER_SCHEMA_VERSION = 1;

/** What jobs are built from; the composition root fills it in. */
import type { Clock } from '../clock.js';
import type { OutMessage } from '../chat/types.js';
import type { Grid } from '../grid/port.js';
import type { Logger } from '../log.js';
import type { DeploymentService } from '../services/deployments.js';
import type { Planner } from '../services/planner.js';
import type { UserService } from '../services/users.js';
import type { WalletService } from '../services/wallet.js';
import type { UserStore } from '../store/user-store.js';

export interface Notifier {
  send(chatId: number, msg: OutMessage): Promise<number | undefined>;
  edit(chatId: number, messageId: number, msg: OutMessage, priority?: 'interactive' | 'notice'): Promise<void>;
}

export interface JobDeps {
  store: UserStore;
  users: UserService;
  wallet: WalletService;
  planner: Planner;
  deployments: DeploymentService;
  grid: Grid;
  outbox: Notifier;
  clock: Clock;
  log: Logger;
  sleep: (ms: number) => Promise<void>;
  depositPollMs: number;
  paymentTimeoutMs: number;
  readyPollMs: number;
  readyTimeoutMs: number;
  /** replacing failed nodes: tries before giving up, and the wait after the first failure (doubling) */
  recovery: { maxTries: number; backoffMs: number };
}

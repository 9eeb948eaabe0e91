/** What the watchdog's passes are built from; the composition root fills it in. */
import type { Clock } from '../clock.js';
import type { Grid } from '../grid/port.js';
import type { JobQueue } from '../jobs/worker.js';
import type { Prober } from '../probes/prober.js';
import type { Logger } from '../log.js';
import type { DeploymentService } from '../services/deployments.js';
import type { UserService } from '../services/users.js';
import type { WalletService } from '../services/wallet.js';
import type { UserStore } from '../store/user-store.js';
import type { Notice } from '../telegram/notice-queue.js';

export interface WatchdogDeps {
  store: UserStore;
  users: UserService;
  grid: Grid;
  wallet: WalletService;
  deployments: DeploymentService;
  jobs: JobQueue;
  /** the outbox's queue on disk: the same id is sent once */
  notices: { notice(n: Notice): Promise<boolean> };
  /** the chain's own health: sync progress, 0-db PING */
  prober: Prober;
  clock: Clock;
  log: Logger;
  /** the period a reminder's top-up QR buys, in hours */
  topUpHours: number;
  /** replacements of one node (failed, or up and broken again) before the bot stops */
  maxRecoveries: number;
}

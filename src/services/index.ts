/** The product's services, as flows see them: flows talk to these, never to adapters. */
import type { NodeProfile } from '../catalog/index.js';
import type { AdminService } from './admin.js';
import type { DeploymentService } from './deployments.js';
import type { Planner } from './planner.js';
import type { UserService } from './users.js';
import type { VerificationService } from './verification.js';
import type { WalletService } from './wallet.js';

export interface Services {
  users: UserService;
  deployments: DeploymentService;
  wallet: WalletService;
  verification: VerificationService;
  planner: Planner;
  profiles: readonly NodeProfile[];
  /** ADMIN_IDS users' /admin; refuses everyone else */
  admin: AdminService;
}

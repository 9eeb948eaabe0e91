/**
 * The grid's identity verification (KYC) of a user's Jukebox wallet. The grid refuses deployments
 * from an account that is not verified, so /deploy asks for it before anything is paid, and /verify
 * gives the link where the user verifies, in a browser, as the owner of their Jukebox wallet.
 */
import type { User } from '../domain/user.js';
import type { Grid, VerificationStatus } from '../grid/port.js';
import type { UserService } from './users.js';

export class VerificationService {
  constructor(
    private readonly users: UserService,
    private readonly grid: Grid,
  ) {}

  status(user: User): Promise<VerificationStatus> {
    return this.grid.verification(this.users.identityOf(user));
  }

  /** A fresh verification session's link (each one is a new session at the KYC provider: only on request). */
  link(user: User): Promise<string> {
    return this.grid.verificationLink(this.users.identityOf(user));
  }
}

/**
 * The grid's identity verification (KYC). grid_client 2.9 refuses every deployment from an account
 * its KYC service does not call verified, so each user verifies their Jukebox wallet's identity once,
 * in a browser (an iDenfy session opened with the wallet's key). Jukebox never sees the documents.
 */
import type { Logger } from '../../log.js';
import { GridError, type Identity, type VerificationStatus } from '../port.js';
import { loadGridClientPackage, type KycLike } from './client-seam.js';
import { classify, scrubSecrets } from './errors.js';
import type { GridNetwork, TfGridSettings } from './seams.js';

export type KycFactory = (identity: Identity) => KycLike;

/** iDenfy's page for a session token (documentation.idenfy.com, "KYC Redirect to WEB UI"). */
export const IDENFY_REDIRECT = 'https://ivs.idenfy.com/api/v2/redirect?authToken=';

const STATUS: Record<string, VerificationStatus> = { VERIFIED: 'verified', PENDING: 'pending', REJECTED: 'rejected', UNVERIFIED: 'unverified' };

/**
 * The KYC service grid_client asks before every deployment: https://kyc.<network>.grid.tf, always.
 * grid_client 2.9 takes no KYC URL (GridClient.getDefaultUrls hardcodes it, a `KycURL` option is
 * ignored), so the status shown to the user must come from that same service, whatever else the
 * settings override.
 */
export function gridClientKycUrl(network: GridNetwork): string {
  return `https://kyc.${network === 'main' ? '' : `${network}.`}grid.tf`;
}

export function kycFactory(settings: TfGridSettings): KycFactory {
  const url = gridClientKycUrl(settings.network);
  return (id) => new (loadGridClientPackage().KYC)(url, id.mnemonic, 'sr25519');
}

const VERIFIED_TRUST_MS = 60 * 60_000;

export class Verifications {
  /**
   * accounts found verified, until when that answer is trusted: /deploy asks at every start, and a
   * verification the service withdrew must show in /verify within the hour, as grid_client sees it
   */
  private readonly verified = new Map<string, number>();

  constructor(
    private readonly kyc: KycFactory,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async status(id: Identity): Promise<VerificationStatus> {
    if ((this.verified.get(id.address) ?? 0) > this.now()) return 'verified';
    this.verified.delete(id.address);
    const raw = await this.ask(id, (k) => k.status());
    const status = STATUS[raw.toUpperCase()];
    if (!status) throw new GridError('unavailable', `the KYC service answered an unknown status "${raw.slice(0, 40)}"`);
    if (status === 'verified') this.verified.set(id.address, this.now() + VERIFIED_TRUST_MS);
    return status;
  }

  async link(id: Identity): Promise<string> {
    const token = await this.ask(id, (k) => k.getToken());
    if (!/^[\w-]{8,200}$/.test(token)) throw new GridError('unavailable', 'the KYC service answered a token that does not look like one');
    return `${IDENFY_REDIRECT}${encodeURIComponent(token)}`;
  }

  private async ask(id: Identity, call: (k: KycLike) => Promise<string>): Promise<string> {
    try {
      return await call(this.kyc(id));
    } catch (err) {
      const message = scrubSecrets(err instanceof Error ? err.message : String(err), [id.mnemonic]);
      // the service opens a session only for an account holding some TFT (HTTP 402, which grid_client
      // throws as InsufficientBalanceError): the user can act on that, so it is not "unavailable"
      if (classify(err, 'unavailable') === 'insufficient_funds') {
        throw new GridError('insufficient_funds', `the identity verification service wants TFT in the wallet first: ${message}`);
      }
      this.log.warn({ address: id.address, message }, 'the KYC service failed');
      throw new GridError('unavailable', `the identity verification service failed: ${message}`);
    }
  }
}

/**
 * /verify: the grid's identity verification (KYC) of the user's Jukebox wallet. The grid deploys
 * only for verified accounts; the user verifies once, in a browser, and the bot never sees the
 * documents. /deploy sends users here when they are not verified yet.
 */
import { esc } from '../src/chat/format.js';
import type { Flow, OutMessage } from '../src/chat/types.js';
import type { User } from '../src/domain/user.js';
import { formatTft, UNITS_PER_TFT } from '../src/domain/money.js';
import { GridError, type VerificationStatus } from '../src/grid/port.js';
import type { Services } from '../src/services/index.js';

/** tf-kyc-verifier's VERIFICATION_MIN_BALANCE_TO_VERIFY_ACCOUNT default: 1 TFT. */
const VERIFY_MIN_BALANCE = UNITS_PER_TFT;

const WHY =
  'The ThreeFold Grid deploys only for verified accounts. You verify once, in your browser: a photo of an ID document and a selfie, checked by iDenfy for ThreeFold. ' +
  'You verify as the owner of your Jukebox wallet; Jukebox never sees your documents.';

const DOWN = '🪪 The grid asks you to verify your identity, but its verification service does not answer right now. Please send /verify again in a few minutes.';

/**
 * The verification service opens a session only for a wallet holding some TFT (1 by default), so
 * a new user pays that into their own wallet first; it stays theirs and pays their deployments.
 */
async function fundFirst(s: Services, user: User, first: string[]): Promise<OutMessage> {
  const uri = s.wallet.paymentUri(user.identity.address, VERIFY_MIN_BALANCE);
  return {
    photo: await s.wallet.qrPng(uri),
    text: [
      ...first,
      `🪪 Please verify your identity before your first deployment. The grid's verification service first asks for at least ${formatTft(VERIFY_MIN_BALANCE)} in your Jukebox wallet: scan this with ThreeFold Connect (the TFT stay yours and pay your deployments).`,
      'When it has arrived, send /verify again for the verification link.',
      `<code>${esc(uri)}</code>`,
    ].join('\n\n'),
  };
}

/** What the user reads about their verification, with the link when they still have to verify. */
export async function verificationMessage(s: Services, user: User, status: VerificationStatus, lead?: string): Promise<OutMessage> {
  const first = lead ? [lead, ''] : [];
  switch (status) {
    case 'verified':
      return { text: '✅ Your identity is verified: the grid deploys for your Jukebox wallet. Start with /deploy.' };
    case 'pending':
      return { text: [...first, '⏳ Your identity verification is being reviewed. This usually takes a few minutes; send /verify to see where it stands.'].join('\n') };
    case 'unverified':
    case 'rejected': {
      const link = await s.verification.link(user).catch((err: unknown) => err as Error);
      if (link instanceof GridError && link.code === 'insufficient_funds') return fundFirst(s, user, first);
      if (typeof link !== 'string') return { text: [...first, DOWN].join('\n') };
      return {
        text: [
          ...first,
          status === 'rejected'
            ? '❌ Your last identity verification was not accepted. You can try again with the button below (use a valid ID document and good light).'
            : '🪪 Please verify your identity before your first deployment.',
          WHY,
          `Your Jukebox wallet: <code>${esc(user.identity.address)}</code>`,
          'When you are done, send /verify to check, then /deploy.',
        ].join('\n\n'),
        buttons: [[{ label: '🪪 Verify my identity', url: link }]],
      };
    }
  }
}

export const verifyFlow: Flow = {
  command: 'verify',
  description: 'Verify your identity for the grid (once, before your first deployment)',
  version: 1,
  newData: () => ({}),
  steps: {},
  async begin(c) {
    const status = await c.services.verification.status(c.user).catch(() => undefined);
    if (status === undefined) return { done: [{ text: DOWN }] };
    return { done: [await verificationMessage(c.services, c.user, status)] };
  },
};

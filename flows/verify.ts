/**
 * /verify: the grid's identity verification (KYC) of the user's Jukebox wallet. The grid deploys
 * only for verified accounts; the user verifies once, in a browser, and the bot never sees the
 * documents. /deploy sends users here when they are not verified yet.
 */
import { esc } from '../src/chat/format.js';
import type { Flow, OutMessage } from '../src/chat/types.js';
import type { User } from '../src/domain/user.js';
import type { VerificationStatus } from '../src/grid/port.js';
import type { Services } from '../src/services/index.js';

const WHY =
  'The ThreeFold Grid deploys only for verified accounts. You verify once, in your browser: a photo of an ID document and a selfie, checked by iDenfy for ThreeFold. ' +
  'You verify as the owner of your Jukebox wallet; Jukebox never sees your documents.';

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
      const link = await s.verification.link(user).catch(() => undefined);
      if (!link) return { text: [...first, '🪪 The grid asks you to verify your identity, but its verification service does not answer right now. Please send /verify again in a few minutes.'].join('\n') };
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
    return { done: [await verificationMessage(c.services, c.user, await c.services.verification.status(c.user))] };
  },
};

/**
 * The withdrawal job: sends TFT from a user's wallet to the address they gave, at most once.
 *
 * The journal's 'transfer' step is begun (on disk) before the chain is asked, and done with its
 * outcome before the user is told. A run that finds it begun but not done cannot know whether the
 * chain took the transfer (a crash or a timeout in between), so it never sends again: it tells the
 * user to look at /wallet and logs it for an operator. Sending twice would lose the user's money;
 * asking them to withdraw again costs a minute.
 */
import { esc } from '../chat/format.js';
import { formatTft, type Units } from '../domain/money.js';
import type { User } from '../domain/user.js';
import { GridError } from '../grid/port.js';
import type { WithdrawalParams } from '../services/wallet.js';
import type { JobDeps } from './deps.js';
import { notify } from './notify.js';
import type { JobHandler } from './worker.js';

/** What the 'transfer' step came to: sent (the chain's transfer id), or refused with nothing sent. */
export type TransferOutcome = { sent: string } | { refused: string };

/** Refusals the chain gives before anything moves; any other failure leaves the outcome unknown. */
const REFUSALS = new Set(['insufficient_funds', 'invalid']);

function paramsOf(p: Record<string, unknown> | undefined): WithdrawalParams | undefined {
  const to = p?.to;
  const amount = p?.amount;
  return typeof to === 'string' && typeof amount === 'number' && Number.isSafeInteger(amount) && amount > 0 ? { to, amount } : undefined;
}

export function withdrawJob(deps: JobDeps): JobHandler {
  const { store, users, wallet, outbox, log } = deps;

  /** Why the job must not send, checked again here: billing may have taken some since the user confirmed. */
  async function refusal(user: User, p: WithdrawalParams): Promise<TransferOutcome | undefined> {
    const dest = wallet.checkDestination(user, p.to);
    if (!dest.ok) return { refused: dest.reason };
    const most: Units = await wallet.withdrawable(user, p.to);
    if (most < p.amount) return { refused: 'Your wallet no longer holds that much: the grid may have billed your deployments meanwhile.' };
    return undefined;
  }

  return async (j) => {
    const { userId } = j.job;
    const user = await store.get(userId);
    if (!user) return { done: true };
    const params = paramsOf(j.job.params);
    const say = (text: string) => notify(outbox, log, user, { text });
    if (!params) {
      log.error({ job: j.job.id, user: userId }, 'withdrawal job without a valid destination and amount; nothing sent');
      await say('⚠️ I could not read your withdrawal request, so I sent nothing. Please try again with /wallet.');
      return { done: true };
    }
    const { to, amount } = params;
    const ctx = { job: j.job.id, user: userId, to, amount };

    if (j.isInterrupted('transfer')) {
      log.error(ctx, 'withdrawal interrupted after its transfer was begun: it may or may not be on chain; not sent again, check by hand');
      await say(
        `⚠️ I was interrupted while sending <b>${formatTft(amount)}</b> to <code>${esc(to)}</code>, so I can't tell whether it went through. ` +
          `I will not send it again. Check /wallet: if your balance did not go down by ${formatTft(amount)}, nothing left and you can withdraw again.`,
      );
      return { done: true };
    }

    if (!j.isDone('transfer')) {
      const outcome = await refusal(user, params);
      if (outcome) await j.done('transfer', outcome);
      else {
        const identity = users.identityOf(user);
        await j.begin('transfer', { to, amount });
        let sent: TransferOutcome;
        try {
          sent = { sent: (await wallet.transfer(identity, to, amount)).id };
        } catch (err) {
          if (!(err instanceof GridError && REFUSALS.has(err.code))) {
            // the step stays begun: a retry of this job would find it interrupted and send nothing
            log.error({ ...ctx, err }, 'withdrawal transfer failed without a clear answer from the chain; not sent again, check by hand');
            await say(
              `⚠️ Sending <b>${formatTft(amount)}</b> to <code>${esc(to)}</code> failed midway, so I can't tell whether it went through. ` +
                `I will not send it again. Check /wallet: if your balance did not go down by ${formatTft(amount)}, nothing left and you can withdraw again.`,
            );
            return { done: true };
          }
          sent = { refused: err.code === 'insufficient_funds' ? 'Your wallet no longer holds that much.' : `The chain refused it (${err.message}).` };
        }
        await j.done('transfer', sent);
      }
    }

    // told last, from the journal: a crash before this tells the user on the next start
    const outcome = j.result<TransferOutcome>('transfer')!;
    const balance = await wallet.latestBalance(user);
    if ('refused' in outcome) {
      log.info({ ...ctx, reason: outcome.refused }, 'withdrawal refused; nothing sent');
      await say(
        `⚠️ I did not send <b>${formatTft(amount)}</b> to <code>${esc(to)}</code>. ${esc(outcome.refused)} ` +
          `Nothing left your wallet, which holds ${formatTft(balance)}.`,
      );
      return { done: true };
    }
    log.info({ ...ctx, transfer: outcome.sent }, 'withdrawal sent');
    await say(
      [
        `💸 Sent <b>${formatTft(amount)}</b> to <code>${esc(to)}</code>.`,
        `Transfer: <code>${esc(outcome.sent)}</code>`,
        `Your wallet now holds ${formatTft(balance)}.`,
      ].join('\n'),
    );
    return { done: true };
  };
}

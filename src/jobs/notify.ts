/**
 * How jobs tell users what happened. A notice Telegram refuses (after the outbox's own 429 retries)
 * is logged, not thrown: a job must never fail, retry, or roll back because a message could not be
 * delivered. Users who blocked the bot are not written to.
 */
import type { OutMessage } from '../chat/types.js';
import type { User } from '../domain/user.js';
import type { Logger } from '../log.js';
import type { Notifier } from './deps.js';

export async function notify(outbox: Notifier, log: Logger, user: User, msg: OutMessage): Promise<number | undefined> {
  if (user.unreachableSince !== undefined) return undefined;
  try {
    return await outbox.send(user.chatId, msg);
  } catch (err) {
    log.warn({ err, user: user.id }, 'could not deliver a notice');
    return undefined;
  }
}

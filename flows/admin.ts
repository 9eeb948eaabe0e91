/**
 * /admin, for ADMIN_IDS only (src/services/admin.ts): counts, a user's deployments by id, pausing
 * the watchdog, a broadcast. To anyone else it does not exist: `allowed` makes the engine answer
 * /admin like any unknown command, leave it out of /help and the menu, and treat its buttons as stale,
 * at every step, not only at the command.
 */
import { clip, duration, esc, plural } from '../src/chat/format.js';
import type { Flow, FlowContext, OutMessage, Outcome, Question } from '../src/chat/types.js';
import { DEPLOYMENT_STATES, STATE_LABEL } from '../src/domain/deployment.js';
import { formatTft, HOURS_PER_MONTH } from '../src/domain/money.js';
import type { Counts, UserLookup } from '../src/services/admin.js';

interface AdminData {
  /** the broadcast being composed: its id and the message as users will see it */
  broadcastId?: string;
  html?: string;
}

type C = FlowContext<AdminData>;

const when = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';

export function countsMessage(k: Counts, now: number): OutMessage {
  const lines = ['📊 <b>Counts</b>'];
  const c = k.census;
  if (c) {
    lines.push(
      `Users: ${c.users} (${c.reachable} reachable) · with something billed: ${c.billedUsers}`,
      `Deployments by state:`,
      ...DEPLOYMENT_STATES.filter((s) => c.byState[s] > 0).map((s) => `  ${STATE_LABEL[s]}: ${c.byState[s]}`),
      ...(DEPLOYMENT_STATES.every((s) => c.byState[s] === 0) ? ['  none'] : []),
      ...(c.unreadable ? [`⚠️ ${plural(c.unreadable, 'user file')} would not load (see the log)`] : []),
      `<i>Users and deployments counted ${now - c.at < 60_000 ? 'just now' : `${Math.round((now - c.at) / 60_000)} min ago`} (a scan of every user file, kept 5 minutes)${k.counting !== undefined ? `; a new count is running (${k.counting} so far)` : ''}.</i>`,
    );
  } else {
    lines.push(`Users and deployments: counting every user file (${k.counting ?? 0} so far); press 📊 Counts again in a moment.`);
  }
  lines.push(
    `Jobs in flight: ${k.jobsInFlight}`,
    `Watchdog: ${k.watchdogPaused ? '⏸ paused (scheduled passes are skipped)' : '▶️ running'}`,
    `Outbox: ${plural(k.outboxQueue, 'notice')} queued`,
  );
  return { text: lines.join('\n') };
}

export function lookupMessage(u: UserLookup, now: number): OutMessage {
  const head = [
    `🔎 <b>User ${u.id}</b>${u.firstName ? ` (${esc(u.firstName)})` : ''} · since ${when(u.createdAt)}${u.unreachable ? ' · ⛔ blocked the bot' : ''}`,
    `Wallet <code>${esc(u.address)}</code>${u.twinId !== undefined ? ` · twin ${u.twinId}` : ''}`,
    `Balance: ${u.balance === undefined ? 'could not be read' : formatTft(u.balance)}`,
  ];
  if (u.deployments.length === 0) return { text: [...head, '', 'No deployments.'].join('\n') };
  const rows = u.deployments.map(
    (d) =>
      `<b>${esc(d.name)}</b> #${esc(d.id)} · ${esc(d.profile)} · ${STATE_LABEL[d.state]}\n` +
      `  ${d.nodes}/${d.count} nodes up · ${formatTft(d.hourlyCost)}/h (${formatTft(d.hourlyCost * HOURS_PER_MONTH)}/month) · created ${when(d.createdAt)} (${duration(now - d.createdAt)} ago)`,
  );
  // one message: a user with hundreds of deployments is clipped (their /list pages through them)
  return { text: clip([...head, '', `${plural(u.deployments.length, 'deployment')}:`, ...rows].join('\n'), 3900) };
}

async function menu(c: C): Promise<Question> {
  const paused = c.services.admin.watchdogPaused(c.user.id);
  return {
    text: '🛠 <b>Admin</b>: what would you like to do?',
    columns: 2,
    choices: [
      { label: '📊 Counts', value: 'counts' },
      { label: '🔎 User…', value: 'user' },
      paused ? { label: '▶️ Resume watchdog', value: 'resume' } : { label: '⏸ Pause watchdog', value: 'pause' },
      { label: '📣 Broadcast…', value: 'broadcast' },
    ],
  };
}

const back = { label: '‹ Back', value: 'back' };

export const adminFlow: Flow<AdminData> = {
  command: 'admin',
  description: 'Operators only: counts, a user, the watchdog, a broadcast',
  version: 1,
  // leaving it for another command loses nothing worth a "was cancelled" notice
  browsing: true,
  allowed: (user, services) => services.admin.isAdmin(user.id),
  newData: () => ({}),
  begin: () => ({ goto: 'menu' }),
  steps: {
    menu: {
      ask: menu,
      async onChoice(c, value): Promise<Outcome> {
        const admin = c.services.admin;
        switch (value) {
          case 'counts':
            return { goto: 'menu', say: [countsMessage(await admin.counts(c.user.id), c.now)] };
          case 'user':
            return { goto: 'user' };
          case 'pause':
          case 'resume':
            await admin.setWatchdogPaused(c.user.id, value === 'pause');
            return {
              goto: 'menu',
              say: [
                {
                  text:
                    value === 'pause'
                      ? '⏸ Watchdog paused: its scheduled passes (health, runway, reconcile) are skipped until you resume, across restarts too. Jobs and chats go on.'
                      : '▶️ Watchdog resumed: its passes run on schedule again.',
                },
              ],
            };
          case 'broadcast':
            return { goto: 'compose' };
          default:
            return { retry: 'Please choose one of the buttons.' };
        }
      },
    },
    user: {
      ask: () => ({ text: 'Send the Telegram user id to look up.', choices: [back] }),
      onChoice: () => ({ goto: 'menu' }),
      async onText(c, text) {
        const t = text.trim();
        if (!/^\d{1,15}$/.test(t)) return { retry: 'A Telegram user id is a number, like 123456789.' };
        const found = await c.services.admin.lookup(c.user.id, Number(t));
        if (!found) return { retry: `No user with id ${t} has talked to the bot.` };
        return { goto: 'menu', say: [lookupMessage(found, c.now)] };
      },
    },
    compose: {
      ask: () => ({
        text: 'Type the message to send to every user who has not blocked the bot. It goes as plain text (no formatting) under a “Message from the Jukebox operators” header. You will see it before it goes.',
        choices: [back],
      }),
      onChoice: () => ({ goto: 'menu' }),
      onText(c, text) {
        const checked = c.services.admin.checkBroadcast(c.user.id, text);
        if (!checked.ok) return { retry: checked.reason };
        c.data.html = checked.value;
        c.data.broadcastId = c.services.admin.newBroadcastId();
        return { goto: 'confirm' };
      },
    },
    confirm: {
      async ask(c) {
        const k = await c.services.admin.counts(c.user.id);
        const who = k.census
          ? `about ${plural(k.census.reachable, 'user')} (counted ${c.now - k.census.at < 60_000 ? 'just now' : `${Math.round((c.now - k.census.at) / 60_000)} min ago`})`
          : 'every reachable user (still counting them)';
        return {
          text: `This goes to ${who}, as one notice each, at Telegram's limits behind replies:\n\n${c.data.html}`,
          choices: [
            { label: '✅ Confirm, send it', value: 'send' },
            { label: '✏️ Change the text', value: 'edit' },
            back,
          ],
        };
      },
      async onChoice(c, value) {
        if (value === 'edit') return { goto: 'compose' };
        if (value !== 'send') return { goto: 'menu' };
        const { broadcastId, html } = c.data;
        await c.services.admin.startBroadcast(c.user.id, c.user.chatId, broadcastId!, html!);
        delete c.data.broadcastId;
        delete c.data.html;
        return {
          goto: 'menu',
          say: [{ text: `📣 Broadcast <code>${esc(broadcastId!)}</code> is being queued in the background; I'll report here when every notice is queued.` }],
        };
      },
    },
  },
};

/**
 * Runway: how long each user's wallet keeps their deployments running, and the reminders before it
 * runs out. The wallet pays every deployment of the user, so the runway is the balance over the
 * hourly cost of all their live contracts, read from the grid, in whole hours as the grid bills.
 *
 * Each threshold is reminded once per run-down. The reminder is queued on the outbox (durable, by
 * a stable id) before the user's file records it, so a pass interrupted between the two sends it
 * once on the next pass, never twice and never not.
 */
import { duration, esc, plural } from '../chat/format.js';
import { isBilled, isWatched, type Deployment } from '../domain/deployment.js';
import { ceilToTft, formatTft, HOUR_MS, type Units } from '../domain/money.js';
import type { User } from '../domain/user.js';
import type { ContractInfo } from '../grid/port.js';
import { BRIDGE_DEPOSIT_FEE, LOW_RUNWAY_MS } from '../services/wallet.js';
import type { WatchdogDeps } from './deps.js';

export const LEVELS = ['7d', '3d', '1d', 'grace'] as const;
export type Level = (typeof LEVELS)[number];
/** Runway left, in hours, at which each reminder goes out. */
export const THRESHOLD_HOURS: Record<Exclude<Level, 'grace'>, number> = { '7d': LOW_RUNWAY_MS / HOUR_MS, '3d': 3 * 24, '1d': 24 };
/** TFChain's grace period before contracts are deleted for lack of funds. */
const GRACE_MS = 14 * 24 * HOUR_MS;

export function levelOf(runwayHours: number, inGrace: boolean): Level | undefined {
  if (inGrace) return 'grace';
  if (runwayHours <= THRESHOLD_HOURS['1d']) return '1d';
  if (runwayHours <= THRESHOLD_HOURS['3d']) return '3d';
  if (runwayHours <= THRESHOLD_HOURS['7d']) return '7d';
  return undefined;
}

export interface ReminderState {
  epoch: number;
  sent: string[];
}

/**
 * What to remind, given what this run-down already reminded. Getting worse sends the new level
 * (and counts the milder ones skipped by a jump as said). Getting better (a top-up) starts a new
 * epoch that keeps only the levels still true, so a later run-down reminds again.
 */
export function nextReminder(state: ReminderState, level: Level | undefined): { state: ReminderState; send?: Level } {
  const rank = level === undefined ? -1 : LEVELS.indexOf(level);
  const top = Math.max(-1, ...state.sent.map((l) => LEVELS.indexOf(l as Level)));
  const upTo = LEVELS.slice(0, rank + 1) as string[];
  if (rank > top) return { state: { epoch: state.epoch, sent: upTo }, send: level! };
  if (rank < top) return { state: { epoch: state.epoch + 1, sent: upTo } };
  return { state };
}

/** The user's runway as the grid bills it. */
export interface Runway {
  balance: Units;
  /** hourly cost of every live contract */
  burn: Units;
  /** whole hours the balance pays at that burn; Infinity with nothing billed */
  hours: number;
  grace: ContractInfo[];
  /** roughly what contracts in grace owe: their cost for every hour since grace started */
  owed: Units;
}

export function runwayOf(balance: Units, contracts: ContractInfo[], now: number): Runway {
  const live = contracts.filter((c) => c.state !== 'deleted');
  const burn = live.reduce((s, c) => s + c.hourlyCost, 0);
  const grace = live.filter((c) => c.state === 'grace');
  const owed = grace.reduce((s, c) => s + c.hourlyCost * (Math.floor((now - (c.graceStartedAt ?? now)) / HOUR_MS) + 1), 0);
  return { balance, burn, hours: burn > 0 ? Math.floor(balance / burn) : Infinity, grace, owed };
}

/** The bridge form for users whose TFT are on Stellar: short, as it shares the caption's 1,024 characters. */
function stellarLine(deps: WatchdogDeps, user: User, amount: Units): string {
  const twinId = user.identity.twinId;
  if (!deps.wallet.offersStellar || twinId === undefined) return '';
  return `\nFrom Stellar (memo <code>twin_${twinId}</code>, the bridge’s ${formatTft(BRIDGE_DEPOSIT_FEE)} fee included):\n<code>${esc(deps.wallet.bridgeUri(twinId, amount))}</code>`;
}

const NAMES_SHOWN = 5;
const when = (t: number) => `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function reminderText(level: Level, r: Runway, billed: Deployment[], amount: Units, topUpHours: number, now: number): string {
  // a photo caption holds 1,024 characters: a user with 50 deployments gets the first few by name
  const shown = billed.slice(0, NAMES_SHOWN).map((d) => `<b>${esc(d.name)}</b>`);
  const names = billed.length > NAMES_SHOWN ? `${shown.join(', ')} and ${billed.length - NAMES_SHOWN} more` : shown.join(', ');
  const buys = `Add <b>${formatTft(amount)}</b> to keep them running about ${plural(Math.round(topUpHours / 24), 'day')} more`;
  if (level === 'grace') {
    const since = Math.min(...r.grace.map((c) => c.graceStartedAt ?? now));
    return [
      `⛔ Your Jukebox wallet is empty. Since ${when(since)} the grid has paused ${names}: the nodes are unreachable until funds return.`,
      `If nothing arrives by ${when(since + GRACE_MS)}, the grid deletes them for good.`,
      `${buys} (this includes the ${formatTft(r.owed)} owed): scan the QR with ThreeFold Connect.`,
    ].join('\n');
  }
  return [
    `⏰ Your Jukebox wallet runs out in ${duration(r.hours * HOUR_MS)} (around ${when(now + r.hours * HOUR_MS)}).`,
    `Then the grid pauses ${names} (${formatTft(r.burn)}/h in all). Your balance is ${formatTft(r.balance)}.`,
    `${buys}: scan the QR with ThreeFold Connect. /extend tops up for another period.`,
  ].join('\n');
}

export async function checkRunway(deps: WatchdogDeps, user: User): Promise<{ reminded?: Level; deleted: number }> {
  const { grid, store, clock, log } = deps;
  const billed = user.deployments.filter((d) => isBilled(d.state));
  const now = clock.now();
  let contracts: ContractInfo[] = [];
  let deleted = 0;
  if (billed.length > 0) {
    contracts = await grid.listContracts(deps.users.identityOf(user), { projectPrefix: `jukebox/u${user.id}/`, includeDeleted: true });
    deleted = await deleteStarved(deps, user, billed, contracts);
  }
  const r = runwayOf(await deps.wallet.balance(user), contracts, now);
  const plan = nextReminder(user.reminders, levelOf(r.hours, r.grace.length > 0));
  if (plan.send && user.unreachableSince === undefined) {
    const amount = ceilToTft(Math.max(1, r.burn * deps.topUpHours + r.owed));
    const uri = deps.wallet.paymentUri(user.identity.address, amount);
    const stillBilled = billed.filter((d) => isWatched(d.state));
    await deps.notices.notice({
      id: `runway:${user.id}:${plan.state.epoch}:${plan.send}`,
      chatId: user.chatId,
      text: `${reminderText(plan.send, r, stillBilled.length ? stillBilled : billed, amount, deps.topUpHours, now)}\n\n<code>${esc(uri)}</code>${stellarLine(deps, user, amount)}`,
      qr: uri,
    });
    log.info({ user: user.id, level: plan.send, runwayHours: r.hours, balance: r.balance, burn: r.burn }, 'runway reminder queued');
  }
  if (plan.state !== user.reminders) {
    await store.update(user.id, (u) => {
      u.reminders = plan.state;
    });
  }
  return { ...(plan.send ? { reminded: plan.send } : {}), deleted };
}

/** Deployments whose contracts the grid deleted after the grace period: nothing is left to keep alive. */
async function deleteStarved(deps: WatchdogDeps, user: User, billed: Deployment[], contracts: ContractInfo[]): Promise<number> {
  let n = 0;
  for (const d of billed.filter((x) => isWatched(x.state))) {
    const ids = new Set(d.nodes.filter((x) => x.state === 'ok').flatMap((x) => x.contractIds));
    const mine = contracts.filter((c) => ids.has(c.contractId));
    if (mine.length === 0 || !mine.every((c) => c.state === 'deleted') || !mine.some((c) => c.deletedCause === 'out_of_funds')) continue;
    const r = await deps.deployments.requestDelete(user.id, d.id, 'the grid deleted it after 14 days without funds');
    if (r.ok) n++;
  }
  return n;
}

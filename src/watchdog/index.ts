/**
 * The watchdog: cron schedules for health (every 5 minutes), runway (hourly) and reconcile (at
 * start and daily). Each pass walks the users the store's watch index names, a few at a time, and
 * is idempotent: a pass that overlaps one still running is skipped, and a pass cut short by a
 * restart is simply run again (what it already did is recorded, what it said is deduplicated).
 */
import cron, { type ScheduledTask } from 'node-cron';
import { needsWatching, type User } from '../domain/user.js';
import type { GridNode } from '../grid/port.js';
import type { WatchdogDeps } from './deps.js';
import { checkHealth } from './health.js';
import { reconcileUser, type ReconcileOutcome } from './reconcile.js';
import { checkRunway } from './runway.js';

export interface Schedules {
  health: string;
  runway: string;
  reconcile: string;
}

export const DEFAULT_SCHEDULES: Schedules = { health: '*/5 * * * *', runway: '0 * * * *', reconcile: '30 3 * * *' };

export interface PassReport {
  pass: keyof Schedules;
  users: number;
  ms: number;
  /** false when another pass of the same kind was still running */
  ran: boolean;
  checked?: number;
  broken?: number;
  redeploys?: number;
  reminders?: number;
  deleted?: number;
  orphans?: number[];
  resumed?: number;
  errors: number;
}

/** What the chain says happened to a contract; it names the owner's twin, not the user. */
export interface ContractEvent {
  kind: 'grace_started' | 'grace_ended' | 'canceled';
  contractId: number;
  twinId: number;
}

type Wanted = { health: boolean; runway: boolean };

/** How long one look at one user may take before the watchdog gives up on it. */
const LOOK_TIMEOUT_MS = 10 * 60_000;

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms / 60_000} minutes`)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** How many users a pass looks at concurrently: grid reads overlap, the store serializes per user. */
const CONCURRENCY = 16;

export class Watchdog {
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Map<keyof Schedules, Promise<unknown>>();
  private stopping = false;
  private paused = false;
  /** hears each pass that ran, once it is done (metrics) */
  onPass: ((report: PassReport) => void) | undefined;
  /** twin → user, learned as passes walk the users: chain events name twins */
  private readonly twins = new Map<number, number>();
  /** users a chain event is being handled for; events meanwhile ask for one more look of their kind */
  private readonly looking = new Map<number, Wanted>();
  /** per user, the look in progress: a pass and a chain event never look at one user at the same time */
  private readonly lookingAt = new Map<number, Promise<unknown>>();

  constructor(private readonly deps: WatchdogDeps, private readonly schedules: Schedules = DEFAULT_SCHEDULES) {
    for (const [k, v] of Object.entries(schedules)) {
      if (!cron.validate(v)) throw new Error(`watchdog: the ${k} schedule "${v}" is not a cron expression`);
    }
  }

  /** Starts the schedules, then reconciles and looks at everything once, in the background. */
  start(): void {
    const every = (pass: keyof Schedules, run: () => Promise<PassReport>) =>
      this.tasks.push(
        cron.schedule(this.schedules[pass], () => (this.paused ? undefined : void run().catch(() => undefined)), { name: `watchdog-${pass}` }),
      );
    every('health', () => this.health());
    every('runway', () => this.runway());
    every('reconcile', () => this.reconcile());
    void (async () => {
      await this.reconcile();
      await this.runway();
      await this.health();
    })().catch((err: unknown) => this.deps.log.error({ err }, 'watchdog start-up passes failed'));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.tasks) await t.destroy();
    await Promise.allSettled(this.running.values());
  }

  /** Pausing skips scheduled passes (an operator's switch); passes called directly still run. */
  setPaused(paused: boolean): void {
    this.paused = paused;
  }

  isPaused(): boolean {
    return this.paused;
  }

  /**
   * A contract event from the chain: its owner is looked at now rather than at the next pass, so a
   * cancelled contract is replaced and a grace period reported within seconds. Events about twins
   * no pass has met yet (none of our users, or a user whose first deployment is minutes old) are
   * left to the schedule, which finds the same state by polling.
   */
  async onContractEvent(e: ContractEvent): Promise<void> {
    const userId = this.twins.get(e.twinId);
    if (userId === undefined || this.paused || this.stopping) return;
    const look: keyof Wanted = e.kind === 'canceled' ? 'health' : 'runway';
    const busy = this.looking.get(userId);
    if (busy) {
      busy[look] = true;
      return;
    }
    const wanted: Wanted = { health: false, runway: false, [look]: true };
    this.looking.set(userId, wanted);
    try {
      while ((wanted.health || wanted.runway) && !this.stopping) {
        const now = { ...wanted };
        wanted.health = wanted.runway = false;
        const goOn = await this.exclusive(userId, async () => {
          const user = await this.deps.store.get(userId);
          if (!user || !needsWatching(user)) return false;
          if (now.health) await checkHealth(this.deps, user, new Map());
          if (now.runway) await checkRunway(this.deps, user);
          return true;
        });
        if (!goOn) break;
      }
      this.deps.log.info({ user: userId, event: e.kind, contract: e.contractId }, 'chain event handled');
    } catch (err) {
      this.deps.log.error({ err, user: userId, event: e }, 'watchdog could not act on a chain event');
    } finally {
      this.looking.delete(userId);
    }
  }

  /**
   * Runs `fn` after any other look at this user has finished (a pass's or a chain event's). A look
   * that hangs (a grid call that never answers) gives the user up after LOOK_TIMEOUT_MS, so one
   * user cannot hold a whole pass, and every pass after it, for ever.
   */
  private async exclusive<T>(userId: number, fn: () => Promise<T>): Promise<T> {
    const run = (this.lookingAt.get(userId) ?? Promise.resolve()).then(() => bounded(fn(), LOOK_TIMEOUT_MS, `looking at user ${userId}`));
    const tail = run.catch(() => undefined);
    this.lookingAt.set(userId, tail);
    try {
      return await run;
    } finally {
      if (this.lookingAt.get(userId) === tail) this.lookingAt.delete(userId);
    }
  }

  health(): Promise<PassReport> {
    const nodes = new Map<number, Promise<GridNode | undefined>>(); // node statuses, once per pass
    return this.pass('health', async (u, r) => {
      const o = await checkHealth(this.deps, u, nodes);
      r.checked = (r.checked ?? 0) + o.checked;
      r.broken = (r.broken ?? 0) + o.broken;
      r.redeploys = (r.redeploys ?? 0) + o.redeploys;
    });
  }

  runway(): Promise<PassReport> {
    return this.pass('runway', async (u, r) => {
      const o = await checkRunway(this.deps, u);
      if (o.reminded) r.reminders = (r.reminders ?? 0) + 1;
      r.deleted = (r.deleted ?? 0) + o.deleted;
    });
  }

  /** Every user with a twin, not only the watched ones: an orphan may belong to someone with nothing left. */
  reconcile(): Promise<PassReport> {
    const out: ReconcileOutcome = { users: 0, orphans: [], resumed: 0 };
    return this.pass(
      'reconcile',
      async (u, r) => {
        await reconcileUser(this.deps, u, out);
        r.orphans = out.orphans;
        r.resumed = out.resumed;
      },
      () => this.deps.store.ids(),
    );
  }

  private async pass(
    name: keyof Schedules,
    perUser: (u: User, report: PassReport) => Promise<void>,
    ids: () => AsyncIterable<number> | Promise<Iterable<number>> = () => this.deps.store.watched.all(),
  ): Promise<PassReport> {
    const report: PassReport = { pass: name, users: 0, ms: 0, ran: false, errors: 0 };
    if (this.running.has(name) || this.stopping) {
      this.deps.log.info({ pass: name }, 'watchdog pass skipped: the previous one is still running');
      return report;
    }
    let finished!: () => void;
    this.running.set(name, new Promise<void>((r) => (finished = r)));
    const started = performance.now();
    try {
      report.ran = true;
      const source = await ids();
      const iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : toAsync(source as Iterable<number>);
      const worker = async () => {
        for (let next = await iterator.next(); !next.done && !this.stopping; next = await iterator.next()) {
          const id = next.value;
          try {
            await this.exclusive(id, async () => {
              const user = await this.deps.store.get(id);
              if (!user) return;
              if (user.identity.twinId !== undefined) this.twins.set(user.identity.twinId, user.id);
              report.users++;
              if (name !== 'reconcile' && !needsWatching(user)) {
                await this.deps.store.unwatchIfIdle(id);
                if (name === 'health' || user.reminders.sent.length === 0) return;
              }
              await perUser(user, report);
            });
          } catch (err) {
            report.errors++;
            this.deps.log.error({ err, user: id, pass: name }, 'watchdog could not check a user');
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      this.running.delete(name);
      finished();
      report.ms = Math.round(performance.now() - started);
    }
    this.deps.log.info(report, 'watchdog pass done');
    this.onPass?.(report);
    return report;
  }
}

async function* toAsync(items: Iterable<number>): AsyncGenerator<number> {
  yield* items;
}

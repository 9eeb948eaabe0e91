/**
 * The product's Prometheus metrics, on a registry of its own (not prom-client's global one, so two
 * apps or two tests in one process never clash). Counters are bumped where things happen; gauges
 * whose truth lives elsewhere (jobs, outbox, deployments) are read from their source at each scrape
 * through `attach`. No label ever holds a user, chat or deployment id: only kinds, states and names
 * from the code.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DEPLOYMENT_STATES } from '../domain/deployment.js';
import { JOB_TYPES } from '../jobs/job-store.js';

export type UpdateKind = 'message' | 'callback';
export type JobState = 'queued' | 'running' | 'waiting';
export type JobOutcome = 'done' | 'set_aside';
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'waiting'];
export const WATCHDOG_PASSES = ['health', 'runway', 'reconcile'] as const;

/** What the chat wiring reports (src/chat/bot.ts). */
export interface ChatMetrics {
  /** an update answered: replies are queued on the outbox */
  updateHandled(kind: UpdateKind, seconds: number): void;
  /** an update whose handler threw (the user got the apology) */
  updateFailed(): void;
}

/** Where the scrape-time gauges read from; each is optional (a part not wired reads as nothing). */
export interface MetricSources {
  /** jobs in memory now, by type and state */
  jobs?: () => Iterable<{ type: string; state: JobState; count: number }>;
  /** what the outbox still has to send */
  outbox?: () => { interactive: number; notices: number };
  /** deployments by state, and whether the count is complete (the start-up scan is done) */
  deployments?: () => { counts: ReadonlyMap<string, number>; complete: boolean };
  /** ms epoch of the last successful getUpdates, if any */
  lastPoll?: () => number | undefined;
}

/** The watchdog's report of one pass that ran (src/watchdog/index.ts PassReport). */
export interface PassSummary {
  pass: string;
  ms: number;
  users: number;
  errors: number;
}

export interface MetricsOptions {
  /** process metrics (CPU, memory, event loop lag, GC) with the jukebox_ prefix; default true */
  processMetrics?: boolean;
}

/** A notice id's kind: its first segment when that is a plain word (`runway:<user>:…` → runway). */
export function noticeKind(id: string): string {
  return /^([a-z][a-z_-]{0,30}):/.exec(id)?.[1] ?? 'other';
}

export class Metrics implements ChatMetrics {
  readonly registry = new Registry();
  private sources: MetricSources = {};

  private readonly updates: Counter<'kind'>;
  private readonly updateErrors: Counter;
  private readonly reply: Histogram<'kind'>;
  private readonly jobsFinished: Counter<'type' | 'outcome'>;
  private readonly reminders: Counter<'kind'>;
  private readonly telegram429: Counter<'method'>;
  private readonly pass: Histogram<'pass'>;
  private readonly passLastSeconds: Gauge<'pass'>;
  private readonly passLastAt: Gauge<'pass'>;
  private readonly passLastUsers: Gauge<'pass'>;
  private readonly passLastErrors: Gauge<'pass'>;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'jukebox_' });
    const self = this;

    this.updates = new Counter({ name: 'jukebox_updates_total', help: 'Telegram updates handled, by kind', labelNames: ['kind'], registers });
    this.updateErrors = new Counter({ name: 'jukebox_update_errors_total', help: 'Telegram updates whose handler failed (answered with an apology)', registers });
    this.reply = new Histogram({
      name: 'jukebox_reply_seconds',
      help: 'From an update reaching its handler to its replies being queued on the outbox',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Gauge({
      name: 'jukebox_jobs',
      help: 'Jobs in the worker now, by type and state (waiting: for a timer, e.g. a payment poll or a backoff)',
      labelNames: ['type', 'state'],
      registers,
      collect() {
        this.reset();
        for (const type of JOB_TYPES) for (const state of JOB_STATES) this.set({ type, state }, 0);
        for (const j of self.sources.jobs?.() ?? []) this.inc({ type: j.type, state: j.state }, j.count);
      },
    });
    this.jobsFinished = new Counter({
      name: 'jukebox_jobs_finished_total',
      help: 'Jobs that ended: done, or set aside in jobs/failed/ after failing too often',
      labelNames: ['type', 'outcome'],
      registers,
    });
    new Gauge({
      name: 'jukebox_deployments',
      help: 'Deployments in the store, by state (kept from every store update, seeded by one scan at start)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const d = self.sources.deployments?.();
        if (!d) return;
        for (const state of DEPLOYMENT_STATES) this.set({ state }, d.counts.get(state) ?? 0);
      },
    });
    new Gauge({
      name: 'jukebox_deployments_counted',
      help: '1 once the start-up scan of the user files is done and jukebox_deployments is complete',
      registers,
      collect() {
        this.set(self.sources.deployments?.().complete ? 1 : 0);
      },
    });
    this.reminders = new Counter({
      name: 'jukebox_reminders_sent_total',
      help: 'Durable notices (runway reminders, node problems) Telegram accepted, by kind',
      labelNames: ['kind'],
      registers,
    });
    new Gauge({
      name: 'jukebox_outbox_queue_depth',
      help: 'Messages the outbox has still to send: interactive replies and edits in progress, and pending notices',
      labelNames: ['queue'],
      registers,
      collect() {
        const o = self.sources.outbox?.() ?? { interactive: 0, notices: 0 };
        this.set({ queue: 'interactive' }, o.interactive);
        this.set({ queue: 'notices' }, o.notices);
      },
    });
    this.telegram429 = new Counter({
      name: 'jukebox_telegram_429_total',
      help: 'Calls Telegram refused with 429 Too Many Requests, by Bot API method',
      labelNames: ['method'],
      registers,
    });
    new Gauge({
      name: 'jukebox_telegram_last_poll_timestamp_seconds',
      help: 'When the last getUpdates call succeeded (Unix time); 0 before the first',
      registers,
      collect() {
        this.set((self.sources.lastPoll?.() ?? 0) / 1000);
      },
    });
    this.pass = new Histogram({
      name: 'jukebox_watchdog_pass_seconds',
      help: 'How long a watchdog pass took, by pass',
      labelNames: ['pass'],
      buckets: [0.05, 0.25, 1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.passLastSeconds = new Gauge({ name: 'jukebox_watchdog_last_pass_seconds', help: 'Duration of the last pass, by pass', labelNames: ['pass'], registers });
    this.passLastAt = new Gauge({
      name: 'jukebox_watchdog_last_pass_timestamp_seconds',
      help: 'When the last pass ended (Unix time), by pass',
      labelNames: ['pass'],
      registers,
    });
    this.passLastUsers = new Gauge({ name: 'jukebox_watchdog_last_pass_users', help: 'Users the last pass looked at, by pass', labelNames: ['pass'], registers });
    this.passLastErrors = new Gauge({
      name: 'jukebox_watchdog_last_pass_errors',
      help: 'Users the last pass could not check, by pass',
      labelNames: ['pass'],
      registers,
    });
    // every series exists from the first scrape, at zero: rate() and absent() behave from the start
    for (const kind of ['message', 'callback'] as const) this.updates.inc({ kind }, 0);
    for (const type of JOB_TYPES) for (const outcome of ['done', 'set_aside'] as const) this.jobsFinished.inc({ type, outcome }, 0);
  }

  /** Where the scrape-time gauges read from; a later call (a restarted app) replaces the earlier. */
  attach(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  updateHandled(kind: UpdateKind, seconds: number): void {
    this.updates.inc({ kind });
    this.reply.observe({ kind }, seconds);
  }

  updateFailed(): void {
    this.updateErrors.inc();
  }

  jobFinished(type: string, outcome: JobOutcome): void {
    this.jobsFinished.inc({ type, outcome });
  }

  noticeSent(id: string): void {
    this.reminders.inc({ kind: noticeKind(id) });
  }

  tooManyRequests(method: string): void {
    this.telegram429.inc({ method: /^[A-Za-z]{1,40}$/.test(method) ? method : 'other' });
  }

  watchdogPass(r: PassSummary, endedAt = Date.now()): void {
    const pass = (WATCHDOG_PASSES as readonly string[]).includes(r.pass) ? r.pass : 'other';
    this.pass.observe({ pass }, r.ms / 1000);
    this.passLastSeconds.set({ pass }, r.ms / 1000);
    this.passLastAt.set({ pass }, endedAt / 1000);
    this.passLastUsers.set({ pass }, r.users);
    this.passLastErrors.set({ pass }, r.errors);
  }

  /** The exposition text, as /metrics serves it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

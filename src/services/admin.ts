/**
 * What ADMIN_IDS users may do with /admin: counts, one user's deployments, pausing the watchdog, and a
 * broadcast. Every method takes the caller's id and refuses anyone else, whatever the chat layer
 * already checked. No telegraf here: the flow (flows/admin.ts) words it, a job sends the broadcast.
 *
 * - Counts of deployments by state need every user file. They come from a **census**: one scan of
 *   the store (every user id, each file loaded), kept for `censusTtlMs` (5 minutes) and shared by
 *   everyone asking meanwhile; a press waits for a running scan half a second at most (telegraf
 *   waits for a whole polling batch), never for 100,000 reads.
 *   Jobs, the outbox queue and the watchdog's switch are read live.
 * - The watchdog's pause is kept in `admin/watchdog.json` under the data directory, so a restart
 *   keeps it paused (scheduled passes only: see Watchdog.setPaused).
 * - A broadcast is a `broadcast` job: it queues one durable notice per reachable user with the id
 *   `broadcast:<broadcast id>:<user id>`, in batches, recording how far it got. A restart resumes it,
 *   and the outbox refuses an id it already has, so nobody gets it twice.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { JSONFile } from 'lowdb/node';
import { z } from 'zod';
import { profileById } from '../catalog/index.js';
import { esc, TEXT_LIMIT } from '../chat/format.js';
import type { Clock } from '../clock.js';
import { DEPLOYMENT_STATES, isBilled, isLive, type DeploymentState } from '../domain/deployment.js';
import type { Units } from '../domain/money.js';
import type { JobQueue } from '../jobs/worker.js';
import type { Logger } from '../log.js';
import type { UserStore } from '../store/user-store.js';
import type { Checked, WalletService } from './wallet.js';

/** One look at every user file. */
export interface Census {
  at: number;
  users: number;
  /** not marked as having blocked the bot: who a broadcast reaches */
  reachable: number;
  /** users with a deployment the grid bills */
  billedUsers: number;
  byState: Record<DeploymentState, number>;
  /** files that would not load (the log names them) */
  unreadable: number;
}

export interface Counts {
  /** absent while the first census is still running */
  census?: Census;
  /** a census is running now (users counted so far) */
  counting?: number;
  jobsInFlight: number;
  watchdogPaused: boolean;
  /** durable notices waiting in the outbox */
  outboxQueue: number;
}

export interface UserLookup {
  id: number;
  firstName?: string;
  createdAt: number;
  unreachable: boolean;
  address: string;
  /** undefined when the chain could not be asked */
  balance?: Units;
  twinId?: number;
  deployments: {
    id: string;
    name: string;
    profile: string;
    state: DeploymentState;
    /** nodes running now, and how many were ordered */
    nodes: number;
    count: number;
    hourlyCost: Units;
    createdAt: number;
  }[];
}

export interface BroadcastParams {
  /** the broadcast's id, in every notice id */
  broadcastId: string;
  /** where the report goes */
  adminChatId: number;
  /** the message as sent, HTML */
  html: string;
}

export interface AdminDeps {
  adminIds: readonly number[];
  store: UserStore;
  wallet: WalletService;
  jobs: JobQueue & { pendingCount(): number };
  watchdog: { setPaused(paused: boolean): void; isPaused(): boolean };
  outbox: { pendingNotices(): number };
  clock: Clock;
  dataDir: string;
  log: Logger;
  /** how long a census is good for; 5 minutes by default */
  censusTtlMs?: number;
}

export class NotAdmin extends Error {
  constructor(userId: number) {
    super(`user ${userId} is not an admin`);
    this.name = 'NotAdmin';
  }
}

const PauseFileSchema = z.object({ paused: z.boolean(), by: z.number().int().optional(), at: z.number().optional() });

/** The header every broadcast carries, so users know it is not a reply. */
export const BROADCAST_HEADER = '📣 <b>Message from the Jukebox operators</b>';

export class AdminService {
  private readonly admins: Set<number>;
  private readonly ttlMs: number;
  private census: Census | undefined;
  private scanning: { promise: Promise<Census>; seen: number } | undefined;
  readonly pauseFile: string;

  constructor(private readonly d: AdminDeps) {
    this.admins = new Set(d.adminIds);
    this.ttlMs = d.censusTtlMs ?? 5 * 60_000;
    this.pauseFile = path.join(d.dataDir, 'admin', 'watchdog.json');
  }

  isAdmin(userId: number): boolean {
    return this.admins.has(userId);
  }

  /** Applies what was saved: a watchdog paused before a restart stays paused. */
  async open(): Promise<void> {
    const raw = await readFile(this.pauseFile, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
    if (raw === undefined) return;
    const parsed = PauseFileSchema.safeParse(JSON.parse(raw));
    if (!parsed.success) throw new Error(`${this.pauseFile} is invalid: ${parsed.error.message}`);
    this.d.watchdog.setPaused(parsed.data.paused);
    if (parsed.data.paused) this.d.log.warn({ file: this.pauseFile }, 'the watchdog is paused (an admin paused it); /admin resumes it');
  }

  // ---- counts ----

  /** Live figures and the latest census; a stale one is refreshed, waiting at most `waitMs` for it. */
  async counts(by: number, waitMs = 500): Promise<Counts> {
    this.require(by);
    const census = await this.freshCensus(waitMs);
    return {
      ...(census ? { census } : {}),
      ...(this.scanning ? { counting: this.scanning.seen } : {}),
      jobsInFlight: this.d.jobs.pendingCount(),
      watchdogPaused: this.d.watchdog.isPaused(),
      outboxQueue: this.d.outbox.pendingNotices(),
    };
  }

  /** The census if it is fresh; otherwise one is started (once) and waited for a moment; else the last one, if any. */
  private async freshCensus(waitMs: number): Promise<Census | undefined> {
    const now = this.d.clock.now();
    if (this.census && now - this.census.at < this.ttlMs) return this.census;
    if (!this.scanning) {
      const state = { seen: 0, promise: undefined as unknown as Promise<Census> };
      state.promise = this.scan((n) => (state.seen = n)).then(
        (c) => {
          this.census = c;
          return c;
        },
        (err: unknown) => {
          this.d.log.error({ err }, 'admin census failed');
          throw err;
        },
      ).finally(() => {
        if (this.scanning === state) this.scanning = undefined;
      });
      state.promise.catch(() => undefined);
      this.scanning = state;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), waitMs)));
    try {
      return (await Promise.race([this.scanning.promise.catch(() => undefined), late])) ?? this.census;
    } finally {
      clearTimeout(timer);
    }
  }

  private async scan(progress: (n: number) => void): Promise<Census> {
    const c: Census = {
      at: this.d.clock.now(),
      users: 0,
      reachable: 0,
      billedUsers: 0,
      byState: Object.fromEntries(DEPLOYMENT_STATES.map((s) => [s, 0])) as Record<DeploymentState, number>,
      unreadable: 0,
    };
    for await (const id of this.d.store.ids()) {
      const u = await this.d.store.get(id).catch((err: unknown) => {
        this.d.log.error({ err, user: id }, 'admin census: a user file would not load');
        return null;
      });
      if (u === undefined) continue;
      c.users++;
      progress(c.users);
      if (u === null) {
        c.unreadable++;
        continue;
      }
      if (u.unreachableSince === undefined) c.reachable++;
      if (u.deployments.some((x) => isBilled(x.state))) c.billedUsers++;
      for (const x of u.deployments) c.byState[x.state]++;
    }
    return c;
  }

  // ---- one user ----

  /** A user's deployments and wallet, without anything secret (no mnemonic, no inputs). */
  async lookup(by: number, userId: number): Promise<UserLookup | undefined> {
    this.require(by);
    if (!Number.isSafeInteger(userId)) return undefined;
    const u = await this.d.store.get(userId);
    if (!u) return undefined;
    const balance = await this.d.wallet.balance(u).catch((err: unknown) => {
      this.d.log.warn({ err, user: userId }, 'admin lookup: could not read the balance');
      return undefined;
    });
    return {
      id: u.id,
      ...(u.firstName ? { firstName: u.firstName } : {}),
      createdAt: u.createdAt,
      unreachable: u.unreachableSince !== undefined,
      address: u.identity.address,
      ...(balance !== undefined ? { balance } : {}),
      ...(u.identity.twinId !== undefined ? { twinId: u.identity.twinId } : {}),
      deployments: u.deployments.map((x) => ({
        id: x.id,
        name: x.name,
        profile: profileById(x.profileId)?.title ?? x.profileId,
        state: x.state,
        nodes: isLive(x.state) ? x.nodes.filter((n) => n.state === 'ok').length : 0,
        count: x.count,
        hourlyCost: x.hourlyCost,
        createdAt: x.createdAt,
      })),
    };
  }

  // ---- the watchdog ----

  watchdogPaused(by: number): boolean {
    this.require(by);
    return this.d.watchdog.isPaused();
  }

  /** Saved first, then applied: what the admin was told is what the next start does. */
  async setWatchdogPaused(by: number, paused: boolean): Promise<void> {
    this.require(by);
    await mkdir(path.dirname(this.pauseFile), { recursive: true, mode: 0o700 });
    await new JSONFile(this.pauseFile).write({ paused, by, at: this.d.clock.now() });
    this.d.watchdog.setPaused(paused);
    this.d.log.info({ by, paused }, paused ? 'watchdog paused by an admin' : 'watchdog resumed by an admin');
  }

  // ---- broadcast ----

  /** The message as users will see it, or why it cannot go. */
  checkBroadcast(by: number, text: string): Checked<string> {
    this.require(by);
    const body = text.trim();
    if (!body) return { ok: false, reason: 'The message is empty.' };
    const html = `${BROADCAST_HEADER}\n\n${esc(body)}`;
    // room for the preview's own line around it, which must fit one message too
    const limit = TEXT_LIMIT - 300;
    if (html.length > limit) return { ok: false, reason: `That is ${html.length - limit} characters too long for one Telegram message.` };
    return { ok: true, value: html };
  }

  /** A new broadcast's id: short, and part of every notice id. */
  newBroadcastId(): string {
    return `${this.d.clock.now().toString(36)}${randomBytes(3).toString('hex')}`;
  }

  /**
   * Hands the broadcast to a job and returns: the job queues the notices in the background and
   * reports to `adminChatId`. Starting the same broadcast id twice sends nothing twice.
   */
  async startBroadcast(by: number, adminChatId: number, broadcastId: string, html: string): Promise<void> {
    this.require(by);
    const params: BroadcastParams = { broadcastId, adminChatId, html };
    await this.d.jobs.enqueue('broadcast', by, `broadcast-${broadcastId}`, async () => undefined, { ...params });
    this.d.log.info({ by, broadcast: broadcastId }, 'broadcast started');
  }

  private require(by: number): void {
    if (!this.isAdmin(by)) throw new NotAdmin(by);
  }
}

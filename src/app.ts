/**
 * The product's graph: store, services, jobs, flows and the bot, wired from adapters it is given.
 * `main.ts` builds the adapters from config and calls this; tests call it with theirs. Nothing in
 * here reads the environment or decides which grid or Telegram it talks to.
 */
import path from 'node:path';
import { Telegraf } from 'telegraf';
import { ACTIONS, BUILTIN_COMMANDS, FLOWS, helpMessage } from '../flows/index.js';
import { PROFILES } from './catalog/index.js';
import { cryptoReady } from './chain/identity.js';
import { SecretBox } from './chain/secret-box.js';
import { wireBot } from './chat/bot.js';
import { FlowEngine } from './chat/engine.js';
import { systemClock, type Clock } from './clock.js';
import type { User } from './domain/user.js';
import type { Chain, Faucet, Grid } from './grid/port.js';
import { Backup, type BackupSettings } from './backup/index.js';
import { JobStore } from './jobs/job-store.js';
import type { JobDeps } from './jobs/deps.js';
import { broadcastJob } from './jobs/broadcast.js';
import { extendJob } from './jobs/extend.js';
import { provisionJob } from './jobs/provision.js';
import { redeployJob } from './jobs/redeploy.js';
import { teardownJob } from './jobs/teardown.js';
import { withdrawJob } from './jobs/withdraw.js';
import { JobWorker, type JobHandler, type JobType } from './jobs/worker.js';
import type { Logger } from './log.js';
import { Health, instrumentTelegram, PollingWatch, wireMetrics, type HealthOptions, type Metrics } from './metrics/index.js';
import type { Prober } from './probes/prober.js';
import { AdminService } from './services/admin.js';
import { DeploymentService } from './services/deployments.js';
import type { Services } from './services/index.js';
import { Planner } from './services/planner.js';
import { UserService } from './services/users.js';
import { VerificationService } from './services/verification.js';
import { WalletService } from './services/wallet.js';
import { FlowStore } from './store/flow-store.js';
import { UserStore } from './store/user-store.js';
import { Outbox, type OutboxLimits } from './telegram/outbox.js';
import { DEFAULT_SCHEDULES, Watchdog, type Schedules } from './watchdog/index.js';

export interface AppOptions {
  dataDir: string;
  log: Logger;
  grid: Grid;
  /** balances, deposits and transfers (the simulated grid is both) */
  chain: Chain;
  /** only the simulated grid has one */
  faucet?: Faucet;
  /** asks nodes about their chain's sync (the simulated grid answers for its own) */
  prober: Prober;
  masterKey: Buffer;
  telegram: { token: string; apiRoot?: string };
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  paymentTimeoutMs: number;
  depositPollMs: number;
  jobConcurrency?: number;
  userCacheSize?: number;
  /** how often a resumed job looks at a deployment the grid is still bringing up */
  readyPollMs?: number;
  /** Telegram's flood limits as the outbox keeps them; the defaults are Telegram's */
  outboxLimits?: OutboxLimits;
  /** the watchdog's cron schedules; 'manual' runs no schedule (tests call the passes themselves) */
  watchdog?: Schedules | 'manual';
  /** replacing failed nodes: tries before giving up, wait after the first failure (doubling) */
  recovery?: { maxTries: number; backoffMs: number };
  /** the period a reminder's top-up QR buys; default 30 days */
  topUpHours?: number;
  /** the TFT bridge on Stellar: payment prompts then also offer paying from a Stellar wallet */
  bridgeAddress?: string;
  /** incoming updates per user (token bucket); no limit when absent */
  rateLimit?: { perMinute: number; burst: number };
  /** Telegram user ids that get /admin (ADMIN_IDS); nobody when absent */
  adminIds?: number[];
  /** the Prometheus metrics this app reports into (main.ts serves them); none when absent */
  metrics?: Metrics;
  /** /healthz's bounds: a stale poll, the grid answer's cache, each check's timeout */
  health?: Pick<HealthOptions, 'pollStaleMs' | 'gridCacheMs' | 'timeoutMs'>;
  /** scheduled backups of the data directory to S3 (src/backup/); none when absent */
  backup?: BackupSettings;
}

export interface App {
  bot: Telegraf;
  services: Services;
  store: UserStore;
  /** where each chat stands in its conversation */
  flows: FlowStore;
  worker: JobWorker;
  outbox: Outbox;
  watchdog: Watchdog;
  /** /healthz's checks: polling alive, store writable, grid reachable */
  health: Health;
  /** the S3 backups, when configured: runNow() takes one at once */
  backup?: Backup;
  /** resumes interrupted jobs, registers the commands, starts polling */
  start(): Promise<void>;
  /** finishes the update in hand and the job steps running, flushes messages and the store */
  stop(): Promise<void>;
  /** settles when polling ends: resolves after stop(), rejects if Telegram ended it (401, 409) */
  polling(): Promise<void>;
}

export async function createApp(o: AppOptions): Promise<App> {
  await cryptoReady();
  const clock = o.clock ?? systemClock;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const box = new SecretBox(o.masterKey);
  const store = new UserStore(o.dataDir, o.userCacheSize);
  const flowStore = new FlowStore(o.dataDir, o.userCacheSize);
  const users = new UserService(store, box, clock);

  const bot = new Telegraf(o.telegram.token, {
    telegram: { ...(o.telegram.apiRoot ? { apiRoot: o.telegram.apiRoot } : {}), webhookReply: false },
  });
  const outbox = new Outbox(bot.telegram, o.log.child({ mod: 'outbox' }), (chatId) => users.markUnreachable(chatId), {
    ...o.outboxLimits,
    notices: path.join(o.dataDir, 'outbox', 'notices.jsonl'),
    ...(o.metrics ? { onNoticeSent: o.metrics.noticeSent.bind(o.metrics) } : {}),
  });

  const planner = new Planner(o.grid);
  const jobStore = new JobStore(o.dataDir);
  // the worker and the services need each other: services enqueue jobs, jobs use services
  const handlers = {} as Record<JobType, JobHandler>;
  const worker = new JobWorker(jobStore, handlers, clock, o.log.child({ mod: 'jobs' }), o.jobConcurrency ?? 4);
  const wallet = new WalletService(store, o.chain, o.faucet, worker, o.bridgeAddress);
  const deployments = new DeploymentService(store, users, planner, wallet, o.grid, worker, box, clock, o.paymentTimeoutMs, o.prober);
  const deps: JobDeps = {
    store,
    users,
    wallet,
    planner,
    deployments,
    grid: o.grid,
    outbox,
    clock,
    log: o.log.child({ mod: 'jobs' }),
    sleep,
    depositPollMs: o.depositPollMs,
    paymentTimeoutMs: o.paymentTimeoutMs,
    readyPollMs: o.readyPollMs ?? 2000,
    readyTimeoutMs: 15 * 60_000,
    recovery: o.recovery ?? { maxTries: 3, backoffMs: 10 * 60_000 },
  };
  handlers.provision = provisionJob(deps);
  handlers.teardown = teardownJob(deps);
  handlers.redeploy = redeployJob(deps);
  handlers.extend = extendJob(deps);
  handlers.withdraw = withdrawJob(deps);
  handlers.broadcast = broadcastJob({ store, notices: outbox, outbox, log: o.log.child({ mod: 'jobs' }) });

  const watchdog = new Watchdog(
    {
      store,
      users,
      grid: o.grid,
      wallet,
      deployments,
      jobs: worker,
      notices: outbox,
      prober: o.prober,
      clock,
      log: o.log.child({ mod: 'watchdog' }),
      topUpHours: o.topUpHours ?? 30 * 24,
      maxRecoveries: deps.recovery.maxTries,
    },
    o.watchdog === 'manual' ? DEFAULT_SCHEDULES : (o.watchdog ?? DEFAULT_SCHEDULES),
  );

  const verification = new VerificationService(users, o.grid);
  const admin = new AdminService({ adminIds: o.adminIds ?? [], store, wallet, jobs: worker, watchdog, outbox, clock, dataDir: o.dataDir, log: o.log.child({ mod: 'admin' }) });
  await admin.open(); // a watchdog an admin paused stays paused
  const services: Services = { users, deployments, wallet, verification, planner, profiles: PROFILES, admin };
  // flows only some may use (/admin) are in their /help alone, and in nobody's menu
  const line = (f: (typeof FLOWS)[number]) => ({ command: f.command, description: f.description });
  const commands = [...FLOWS.filter((f) => !f.allowed).map(line), ...BUILTIN_COMMANDS];
  const helpFor = (u: User) => helpMessage([...FLOWS.filter((f) => !f.allowed || f.allowed(u, services)).map(line), ...BUILTIN_COMMANDS]);
  const engine = new FlowEngine(FLOWS, ACTIONS, services, store, flowStore, clock, helpFor);
  wireBot(bot, engine, users, outbox, o.log.child({ mod: 'chat' }), { clock, ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}), ...(o.metrics ? { metrics: o.metrics } : {}) });

  const pollWatch = new PollingWatch();
  instrumentTelegram(bot.telegram, { polled: () => pollWatch.polled(), tooManyRequests: (method) => o.metrics?.tooManyRequests(method) });
  const health = new Health({ ...o.health, dataDir: o.dataDir, grid: o.grid, polling: pollWatch });
  const observed = o.metrics ? wireMetrics(o.metrics, { store, worker, outbox, watchdog, polling: pollWatch, log: o.log.child({ mod: 'metrics' }) }) : undefined;

  const backup = o.backup ? new Backup({ dataDir: o.dataDir, settings: o.backup, log: o.log.child({ mod: 'backup' }), clock }) : undefined;

  let polling: Promise<void> | undefined;
  let launched = false;
  return {
    bot,
    services,
    store,
    flows: flowStore,
    worker,
    outbox,
    watchdog,
    health,
    ...(backup ? { backup } : {}),
    async start() {
      await outbox.open();
      const resumed = await worker.start();
      observed?.start();
      await bot.telegram.setMyCommands(commands);
      pollWatch.started();
      await new Promise<void>((resolve, reject) => {
        polling = bot.launch({ dropPendingUpdates: false }, () => resolve());
        void polling.then(() => pollWatch.stoppedPolling(), () => pollWatch.stoppedPolling());
        polling.then(
          () => (launched = false),
          (err: unknown) => {
            launched = false;
            o.log.fatal({ err }, 'polling stopped');
            reject(err as Error);
          },
        );
        launched = true;
      });
      if (o.watchdog !== 'manual') watchdog.start();
      backup?.start();
      o.log.info({ resumedJobs: resumed, bot: bot.botInfo?.username }, 'bot started');
    },
    polling() {
      return polling ?? Promise.resolve();
    },
    async stop() {
      // telegraf calls launch's callback before it starts polling, so right after start() there
      // may be no poller to stop yet ("Bot is not running!"): wait until there is one
      while (launched) {
        try {
          bot.stop('shutdown');
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      await polling?.catch(() => undefined);
      observed?.stop();
      await backup?.stop(); // a backup under way is aborted: it leaves no snapshot
      await watchdog.stop();
      await worker.stop();
      await outbox.stopNotices();
      await outbox.drain();
      await store.flush();
      await flowStore.flush();
      o.log.info('bot stopped');
    },
  };
}

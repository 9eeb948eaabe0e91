/**
 * Metrics and health: the registry (metrics.ts), the deployment counts kept from store changes,
 * the health checks, and the HTTP endpoint. `wireMetrics` hooks one app's parts into a Metrics.
 */
import type { Logger } from '../log.js';
import type { JobWorker } from '../jobs/worker.js';
import type { UserStore } from '../store/user-store.js';
import type { Outbox } from '../telegram/outbox.js';
import type { Watchdog } from '../watchdog/index.js';
import { DeploymentCounts } from './deployment-counts.js';
import type { PollingWatch } from './health.js';
import type { Metrics } from './metrics.js';

export { DeploymentCounts } from './deployment-counts.js';
export { Health, PollingWatch, type HealthOptions, type HealthReport } from './health.js';
export { Metrics, type ChatMetrics } from './metrics.js';
export { startMetricsServer, type MetricsServer } from './server.js';
export { instrumentTelegram } from './telegram.js';

export interface Observed {
  /** starts counting the deployments already stored (one scan, in the background) */
  start(): void;
  stop(): void;
}

/** Hooks the app's parts into `m`; the scrape-time gauges read them from then on. */
export function wireMetrics(
  m: Metrics,
  p: { store: UserStore; worker: JobWorker; outbox: Outbox; watchdog: Watchdog; polling: PollingWatch; log: Logger },
): Observed {
  const counts = new DeploymentCounts();
  p.store.onChange = (id, before, after) => counts.changed(id, before, after);
  p.worker.onJobEnd = (type, outcome) => m.jobFinished(type, outcome);
  p.watchdog.onPass = (r) => m.watchdogPass(r);
  m.attach({
    jobs: () => p.worker.stateCounts(),
    outbox: () => ({ interactive: p.outbox.pendingSends(), notices: p.outbox.pendingNotices() }),
    deployments: () => ({ counts: counts.counts, complete: counts.complete }),
    lastPoll: () => p.polling.last,
  });
  return {
    start() {
      const started = Date.now();
      counts
        .seed(p.store, (err, userId) => p.log.warn({ err, user: userId }, 'metrics: a user file did not load; its deployments are not counted'))
        .then(
          () => p.log.info({ ms: Date.now() - started }, 'metrics: deployments counted'),
          (err: unknown) => p.log.error({ err }, 'metrics: counting the deployments failed'),
        );
    },
    stop() {
      counts.stop();
    },
  };
}

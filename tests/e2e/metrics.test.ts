/**
 * Metrics and health through the real bot: a conversation and a deployment, then /metrics and
 * /healthz scraped over HTTP, as Prometheus and a supervisor would.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { chmod, mkdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { Metrics, startMetricsServer, type HealthReport, type MetricsServer } from '../../src/metrics/index.js';
import { confirmOrder, fillOrder, payAndAwaitUp } from '../helpers/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { sample, total } from '../helpers/metrics.js';

let h: Harness | undefined;
let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  await h?.stop();
});

describe('metrics and health', () => {
  it('counts a conversation and a deployment, and says which check fails', async () => {
    const metrics = new Metrics();
    // no cache of the grid's answer, so closing the grid shows at the next request
    h = await startHarness({ metrics, health: { gridCacheMs: 0 } });
    const app = h.app;
    server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, health: () => app.health.check() });
    const scrape = async () => {
      const res = await fetch(`${server!.url}/metrics`);
      expect(res.status).toBe(200);
      return res.text();
    };
    const healthz = async () => {
      const res = await fetch(`${server!.url}/healthz`);
      return { status: res.status, body: (await res.json()) as HealthReport };
    };

    const u = h.emu.user({ id: 4242, first_name: 'Mo' });
    await u.sendText('/start');
    await u.waitForText('Welcome to Jukebox');
    await fillOrder(u, { name: 'counted' });
    await confirmOrder(u);
    // waiting for the payment: the provisioning job is in the worker (waiting, queued or running)
    let t = await scrape();
    expect(total(t, 'jukebox_jobs', 'type="provision"')).toBe(1);
    expect(sample(t, 'jukebox_deployments{state="awaiting_payment"}')).toBe(1);

    await payAndAwaitUp(u, 'counted');
    await app.worker.idle();
    await app.watchdog.health();

    t = await scrape();
    expect(sample(t, 'jukebox_updates_total{kind="message"}')).toBeGreaterThanOrEqual(3); // /start, /deploy, the name
    expect(sample(t, 'jukebox_updates_total{kind="callback"}')).toBeGreaterThanOrEqual(4); // count, place, confirm, pay
    expect(sample(t, 'jukebox_reply_seconds_count{kind="message"}')).toBe(sample(t, 'jukebox_updates_total{kind="message"}'));
    expect(sample(t, 'jukebox_reply_seconds_bucket{le="+Inf",kind="callback"}')).toBeGreaterThanOrEqual(4);
    expect(sample(t, 'jukebox_jobs_finished_total{type="provision",outcome="done"}')).toBe(1);
    expect(total(t, 'jukebox_jobs')).toBe(0);
    expect(sample(t, 'jukebox_deployments_counted')).toBe(1);
    expect(sample(t, 'jukebox_deployments{state="active"}')).toBe(1);
    expect(sample(t, 'jukebox_deployments{state="awaiting_payment"}')).toBe(0);
    expect(sample(t, 'jukebox_watchdog_pass_seconds_count{pass="health"}')).toBe(1);
    expect(sample(t, 'jukebox_watchdog_last_pass_users{pass="health"}')).toBe(1);
    expect(sample(t, 'jukebox_telegram_429_total{method="sendMessage"}') ?? 0).toBe(0);
    expect(sample(t, 'jukebox_outbox_queue_depth{queue="notices"}')).toBe(0);
    expect(sample(t, 'jukebox_telegram_last_poll_timestamp_seconds')).toBeGreaterThan(0);
    expect(t).toContain('jukebox_process_resident_memory_bytes');
    expect(t).not.toContain('4242'); // no user id in any label or value

    const fine = await healthz();
    expect(fine.status).toBe(200);
    expect(fine.body.ok).toBe(true);
    expect(Object.keys(fine.body.checks).sort()).toEqual(['grid', 'polling', 'store']);

    // a data directory that takes no file: read-only for a normal user; root writes anyway, so
    // then the probe's own file name is taken by a directory
    const dataDir = h.dataDir;
    const asRoot = process.getuid?.() === 0;
    const blocker = path.join(dataDir, '.healthz-probe.tmp');
    if (asRoot) await mkdir(blocker);
    else await chmod(dataDir, 0o500);
    try {
      const broken = await healthz();
      expect(broken.status).toBe(503);
      expect(broken.body.ok).toBe(false);
      expect(broken.body.checks.store.ok).toBe(false);
      expect(broken.body.checks.store.detail).toMatch(/cannot write in the data directory/);
      expect(broken.body.checks.polling.ok && broken.body.checks.grid.ok).toBe(true);
    } finally {
      if (asRoot) await rmdir(blocker);
      else await chmod(dataDir, 0o700);
    }
    expect((await healthz()).status).toBe(200);

    await h.grid.close();
    const gridDown = await healthz();
    expect(gridDown.status).toBe(503);
    expect(gridDown.body.checks.grid).toEqual({ ok: false, detail: 'the grid did not answer (unavailable: the simulated grid is closed)' });
    expect(gridDown.body.checks.store.ok && gridDown.body.checks.polling.ok).toBe(true);

    // and once the bot stops polling, it is not alive
    await h.stop();
    expect((await healthz()).body.checks.polling).toEqual({ ok: false, detail: 'polling stopped' });
  });
});

/** The metrics registry, the deployment counts, the health checks, the Telegram watch and the HTTP endpoint, piece by piece. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { register as globalRegistry } from 'prom-client';
import type { Telegram } from 'telegraf';
import { systemClock } from '../../../src/clock.js';
import type { User } from '../../../src/domain/user.js';
import { GridError, type GridNode } from '../../../src/grid/port.js';
import { JobStore } from '../../../src/jobs/job-store.js';
import { JobWorker } from '../../../src/jobs/worker.js';
import { silentLogger } from '../../../src/log.js';
import { DeploymentCounts, Health, instrumentTelegram, Metrics, PollingWatch, startMetricsServer, type MetricsServer } from '../../../src/metrics/index.js';
import { noticeKind } from '../../../src/metrics/metrics.js';
import { sample } from '../../helpers/metrics.js';

const userWith = (...states: string[]) => ({ deployments: states.map((state) => ({ state })) }) as unknown as User;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'metrics-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Metrics', () => {
  it('keeps its own registry: two side by side, nothing in the global one', async () => {
    const a = new Metrics();
    const b = new Metrics({ processMetrics: false });
    a.updateHandled('message', 0.02);
    expect(sample(await a.text(), 'jukebox_updates_total{kind="message"}')).toBe(1);
    expect(sample(await b.text(), 'jukebox_updates_total{kind="message"}')).toBe(0);
    expect(await globalRegistry.metrics()).not.toContain('jukebox_');
    expect(await a.text()).toContain('jukebox_process_cpu_user_seconds_total');
    expect(await b.text()).not.toContain('jukebox_process_cpu_user_seconds_total');
  });

  it('counts updates and observes reply latency by kind', async () => {
    const m = new Metrics({ processMetrics: false });
    m.updateHandled('message', 0.003);
    m.updateHandled('message', 0.2);
    m.updateHandled('callback', 0.04);
    m.updateFailed();
    const t = await m.text();
    expect(sample(t, 'jukebox_updates_total{kind="message"}')).toBe(2);
    expect(sample(t, 'jukebox_updates_total{kind="callback"}')).toBe(1);
    expect(sample(t, 'jukebox_update_errors_total')).toBe(1);
    expect(sample(t, 'jukebox_reply_seconds_count{kind="message"}')).toBe(2);
    expect(sample(t, 'jukebox_reply_seconds_bucket{le="0.005",kind="message"}')).toBe(1);
    expect(sample(t, 'jukebox_reply_seconds_bucket{le="0.05",kind="callback"}')).toBe(1);
  });

  it('reads jobs, outbox and deployments from their sources at each scrape, every series present', async () => {
    const m = new Metrics({ processMetrics: false });
    let t = await m.text();
    expect(sample(t, 'jukebox_jobs{type="provision",state="running"}')).toBe(0);
    expect(sample(t, 'jukebox_outbox_queue_depth{queue="notices"}')).toBe(0);
    expect(sample(t, 'jukebox_deployments_counted')).toBe(0);
    const counts = new Map([['active', 3]]);
    let jobs = [{ type: 'provision', state: 'waiting' as const, count: 2 }];
    m.attach({
      jobs: () => jobs,
      outbox: () => ({ interactive: 4, notices: 7 }),
      deployments: () => ({ counts, complete: true }),
      lastPoll: () => 1_700_000_000_000,
    });
    t = await m.text();
    expect(sample(t, 'jukebox_jobs{type="provision",state="waiting"}')).toBe(2);
    expect(sample(t, 'jukebox_jobs{type="teardown",state="queued"}')).toBe(0);
    expect(sample(t, 'jukebox_outbox_queue_depth{queue="interactive"}')).toBe(4);
    expect(sample(t, 'jukebox_outbox_queue_depth{queue="notices"}')).toBe(7);
    expect(sample(t, 'jukebox_deployments{state="active"}')).toBe(3);
    expect(sample(t, 'jukebox_deployments{state="failed"}')).toBe(0);
    expect(sample(t, 'jukebox_deployments_counted')).toBe(1);
    expect(sample(t, 'jukebox_telegram_last_poll_timestamp_seconds')).toBe(1_700_000_000);
    jobs = [];
    counts.set('active', 2);
    t = await m.text();
    expect(sample(t, 'jukebox_jobs{type="provision",state="waiting"}')).toBe(0);
    expect(sample(t, 'jukebox_deployments{state="active"}')).toBe(2);
  });

  it('names notices, Telegram methods and passes by kind, never by user', async () => {
    expect(noticeKind('runway:123456:2:24h')).toBe('runway');
    expect(noticeKind('down:123456:d1:0:1700000000')).toBe('down');
    expect(noticeKind('123456:runway')).toBe('other');
    const m = new Metrics({ processMetrics: false });
    m.noticeSent('runway:123456:2:24h');
    m.tooManyRequests('sendMessage');
    m.tooManyRequests('send/../123456');
    m.jobFinished('provision', 'done');
    m.watchdogPass({ pass: 'health', ms: 1500, users: 12, errors: 1 }, 1_700_000_000_000);
    const t = await m.text();
    expect(sample(t, 'jukebox_reminders_sent_total{kind="runway"}')).toBe(1);
    expect(sample(t, 'jukebox_telegram_429_total{method="sendMessage"}')).toBe(1);
    expect(sample(t, 'jukebox_telegram_429_total{method="other"}')).toBe(1);
    expect(sample(t, 'jukebox_jobs_finished_total{type="provision",outcome="done"}')).toBe(1);
    expect(sample(t, 'jukebox_jobs_finished_total{type="teardown",outcome="set_aside"}')).toBe(0);
    expect(sample(t, 'jukebox_watchdog_pass_seconds_count{pass="health"}')).toBe(1);
    expect(sample(t, 'jukebox_watchdog_pass_seconds_bucket{le="5",pass="health"}')).toBe(1);
    expect(sample(t, 'jukebox_watchdog_last_pass_seconds{pass="health"}')).toBe(1.5);
    expect(sample(t, 'jukebox_watchdog_last_pass_users{pass="health"}')).toBe(12);
    expect(sample(t, 'jukebox_watchdog_last_pass_errors{pass="health"}')).toBe(1);
    expect(sample(t, 'jukebox_watchdog_last_pass_timestamp_seconds{pass="health"}')).toBe(1_700_000_000);
    expect(t).not.toContain('123456');
  });
});

describe('DeploymentCounts', () => {
  it('adds the stored deployments once and follows every change after', async () => {
    const users = new Map<number, User>([
      [1, userWith('active', 'deleted')],
      [2, userWith('awaiting_payment')],
    ]);
    const c = new DeploymentCounts();
    await c.seed({ ids: async function* () { yield* users.keys(); }, get: async (id) => users.get(id) });
    expect(c.complete).toBe(true);
    expect(Object.fromEntries(c.counts)).toEqual({ active: 1, deleted: 1, awaiting_payment: 1 });
    c.changed(2, userWith('awaiting_payment'), userWith('provisioning'));
    c.changed(3, undefined, userWith());
    c.changed(3, userWith(), userWith('awaiting_payment'));
    expect(Object.fromEntries(c.counts)).toEqual({ active: 1, deleted: 1, awaiting_payment: 1, provisioning: 1 });
  });

  it('during the scan, ignores changes to users it has not read yet and counts those to users it has', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const users = new Map<number, User>([
      [1, userWith('active')],
      [2, userWith('awaiting_payment')],
    ]);
    const c = new DeploymentCounts();
    const scan = c.seed({
      ids: async function* () {
        yield 1;
        await gate;
        yield 2;
      },
      get: async (id) => users.get(id),
    });
    await new Promise((r) => setImmediate(r)); // the scan has read user 1 and waits before user 2
    expect(c.complete).toBe(false);
    c.changed(1, userWith('active'), userWith('degraded'));
    users.set(2, userWith('provisioning'));
    c.changed(2, userWith('awaiting_payment'), userWith('provisioning'));
    release();
    await scan;
    expect(Object.fromEntries(c.counts)).toEqual({ active: 0, degraded: 1, provisioning: 1 });
  });
});

describe('Health', () => {
  const grid = (findNodes: () => Promise<GridNode[]>) => ({ findNodes });
  const alive = () => {
    const p = new PollingWatch();
    p.started();
    p.polled();
    return p;
  };

  it('is healthy when polling runs, the data directory takes a file, and the grid answers', async () => {
    const h = new Health({ dataDir: dir, grid: grid(async () => []), polling: alive() });
    const r = await h.check();
    expect(r.ok).toBe(true);
    expect(r.checks.store).toEqual({ ok: true });
    expect(r.checks.grid.ok).toBe(true);
    expect(await readdir(dir)).toEqual([]); // the probe leaves nothing behind
  });

  it('names the store when the data directory cannot be written (a path under a file: refused even to root)', async () => {
    await writeFile(path.join(dir, 'file'), '');
    const h = new Health({ dataDir: path.join(dir, 'file', 'data'), grid: grid(async () => []), polling: alive() });
    const r = await h.check();
    expect(r.ok).toBe(false);
    expect(r.checks.store.ok).toBe(false);
    expect(r.checks.store.detail).toMatch(/cannot write in the data directory \(ENOTDIR/);
    expect(r.checks.grid.ok && r.checks.polling.ok).toBe(true);
  });

  it('asks the grid at most once per cache period, failures included, and bounds a call that hangs', async () => {
    let now = 1_000_000;
    let calls = 0;
    let answer: () => Promise<GridNode[]> = async () => [];
    const h = new Health({
      dataDir: dir,
      grid: grid(() => {
        calls++;
        return answer();
      }),
      polling: alive(),
      gridCacheMs: 30_000,
      timeoutMs: 50,
      now: () => now,
    });
    await Promise.all([h.check(), h.check(), h.check()]);
    await h.check();
    expect(calls).toBe(1);
    now += 30_000;
    answer = () => Promise.reject(new GridError('unavailable', 'the simulated grid is closed'));
    expect((await h.check()).checks.grid).toEqual({ ok: false, detail: 'the grid did not answer (unavailable: the simulated grid is closed)' });
    expect((await h.check()).checks.grid.ok).toBe(false);
    expect(calls).toBe(2);
    now += 30_000;
    answer = () => new Promise<never>(() => undefined);
    const r = await h.check();
    expect(r.ok).toBe(false);
    expect(r.checks.grid).toEqual({ ok: false, detail: 'no answer within 0.05 s' });
  });

  it('calls polling dead before it starts, when getUpdates has not succeeded for too long, and once stopped', () => {
    let now = 0;
    const p = new PollingWatch(() => now);
    expect(p.check(120_000)).toEqual({ ok: false, detail: 'not polling yet' });
    p.started();
    now = 60_000;
    expect(p.check(120_000)).toEqual({ ok: true, detail: 'starting' });
    now = 121_000;
    expect(p.check(120_000)).toEqual({ ok: false, detail: 'no successful getUpdates for 121 s' });
    p.polled();
    now = 131_000;
    expect(p.check(120_000)).toEqual({ ok: true, detail: 'last getUpdates 10 s ago' });
    p.stoppedPolling();
    expect(p.check(120_000)).toEqual({ ok: false, detail: 'polling stopped' });
  });
});

describe('instrumentTelegram', () => {
  it('sees each successful getUpdates and each 429, and passes answers and errors through', async () => {
    const tooMany = Object.assign(new Error('429: Too Many Requests: retry after 3'), {
      code: 429,
      response: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 3', parameters: { retry_after: 3 } },
    });
    const calls: string[] = [];
    const fake = {
      callApi(this: unknown, method: string) {
        calls.push(method);
        if (method === 'sendMessage') return Promise.reject(tooMany);
        if (method === 'getUpdates' && calls.length > 2) return Promise.reject(new Error('network'));
        return Promise.resolve(method === 'getUpdates' ? [] : true);
      },
    };
    const seen: string[] = [];
    instrumentTelegram(fake as unknown as Telegram, { polled: () => seen.push('polled'), tooManyRequests: (m) => seen.push(`429 ${m}`) });
    const t = fake as unknown as { callApi: (m: string, p: unknown) => Promise<unknown> };
    await expect(t.callApi('getUpdates', {})).resolves.toEqual([]);
    await expect(t.callApi('sendMessage', {})).rejects.toBe(tooMany);
    await expect(t.callApi('getUpdates', {})).rejects.toThrow('network');
    expect(seen).toEqual(['polled', '429 sendMessage']);
  });
});

describe('JobWorker stateCounts and onJobEnd', () => {
  it('lists jobs by type and state and reports each one that ends', async () => {
    let finish!: () => void;
    const running = new Promise<void>((r) => (finish = r));
    let started!: () => void;
    const isRunning = new Promise<void>((r) => (started = r));
    const worker = new JobWorker(
      new JobStore(dir),
      {
        provision: async () => {
          started();
          await running;
          return { done: true };
        },
      },
      systemClock,
      silentLogger,
      1,
    );
    const ended: string[] = [];
    worker.onJobEnd = (type, outcome) => ended.push(`${type} ${outcome}`);
    await worker.start();
    await worker.enqueue('provision', 1, 'd1', async () => undefined);
    await worker.enqueue('provision', 1, 'd2', async () => undefined);
    await isRunning;
    expect(worker.stateCounts().sort((a, b) => a.state.localeCompare(b.state))).toEqual([
      { type: 'provision', state: 'queued', count: 1 },
      { type: 'provision', state: 'running', count: 1 },
    ]);
    finish();
    await worker.idle();
    expect(worker.stateCounts()).toEqual([]);
    expect(ended).toEqual(['provision done', 'provision done']);
    await worker.stop();
  });
});

describe('the endpoint', () => {
  let server: MetricsServer;
  afterEach(async () => {
    await server?.close();
  });

  it('serves GET /metrics and /healthz only', async () => {
    const m = new Metrics({ processMetrics: false });
    let healthy = true;
    server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      registry: m.registry,
      health: async () => ({
        ok: healthy,
        checks: { polling: { ok: true }, store: { ok: healthy, ...(healthy ? {} : { detail: 'cannot write' }) }, grid: { ok: true } },
      }),
    });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(await metrics.text(), 'jukebox_updates_total{kind="callback"}')).toBe(0);
    const ok = await fetch(`${server.url}/healthz?verbose=1`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true, checks: { polling: { ok: true }, store: { ok: true }, grid: { ok: true } } });
    healthy = false;
    const bad = await fetch(`${server.url}/healthz`);
    expect(bad.status).toBe(503);
    expect(((await bad.json()) as { checks: { store: unknown } }).checks.store).toEqual({ ok: false, detail: 'cannot write' });
    expect((await fetch(`${server.url}/`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics/x`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });

  it('says so when the port is taken', async () => {
    const m = new Metrics({ processMetrics: false });
    server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: m.registry, health: async () => ({ ok: true, checks: {} as never }) });
    await expect(startMetricsServer({ host: '127.0.0.1', port: server.port, registry: m.registry, health: async () => ({ ok: true, checks: {} as never }) })).rejects.toThrow(/EADDRINUSE/);
  });
});

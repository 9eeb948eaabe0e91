/**
 * The composition root: reads the config, builds the adapters (emulator or Telegram, simulated or
 * real grid), wires them into the app, and stops it cleanly on SIGINT/SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createApp, type App } from './app.js';
import { applyCatalogFile } from './catalog/index.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { ChainWatcher } from './chain/chain-watcher.js';
import { assertKeyMatches, assertNoRotationPending, writePidFile } from './chain/rotate-key.js';
import type { Chain, Faucet, Grid } from './grid/port.js';
import { SimGrid } from './grid/sim/index.js';
import { scrubSecrets } from './grid/tfgrid/errors.js';
import type { Prober } from './probes/prober.js';
import { closeLogger, createLogger, scrub, type Logger } from './log.js';
import { Metrics, startMetricsServer, type MetricsServer } from './metrics/index.js';
import { BotApiEmulator } from './telegram/emulator/index.js';
import { startTerminalChat } from './telegram/terminal-chat.js';

/** The master key from the environment, or in local mode one generated once and kept under data/. */
async function masterKey(config: Config): Promise<{ key: Buffer; generatedAt?: string }> {
  if (config.masterKeyHex) return { key: Buffer.from(config.masterKeyHex, 'hex') };
  const file = path.join(config.dataDir, 'master.key');
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing !== undefined) {
    if (!/^[0-9a-f]{64}\s*$/i.test(existing)) throw new ConfigError(`${file} does not hold a 64-hex-character key`);
    return { key: Buffer.from(existing.trim(), 'hex'), generatedAt: file };
  }
  const hex = randomBytes(32).toString('hex');
  await writeFile(file, `${hex}\n`, { mode: 0o600, flag: 'wx' });
  return { key: Buffer.from(hex, 'hex'), generatedAt: file };
}

function banner(config: Config, emu: BotApiEmulator, keyFile: string | undefined): string {
  const t = config.telegram;
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  return [
    '\x1b[1mJukebox: local mode\x1b[0m',
    `No TELEGRAM_BOT_TOKEN is set, so ${config.grid.kind === 'sim' ? 'the whole product' : 'Telegram'} runs on this machine:`,
    `  • a Telegram Bot API emulator at ${emu.apiRoot}`,
    config.grid.kind === 'sim'
      ? `  • the simulated ThreeFold Grid (seed ${config.grid.seed}), its state in ${rel(config.dataDir)}/`
      : `  • the real ThreeFold Grid (${config.grid.settings.network}net): deployments cost real TFT`,
    t.mode === 'local' && t.chat === 'terminal' ? `  • this terminal as your Telegram chat (you are user ${t.userId})` : '',
    keyFile ? `  • a master key generated for local use in ${rel(keyFile)}` : '',
    '',
    t.mode === 'local' && t.chat === 'terminal'
      ? 'Type /deploy to begin, /help for every command. Type a number to press a button. Ctrl-D or Ctrl-C quits.'
      : 'The terminal chat is off (LOCAL_CHAT=off): nobody is chatting, the bot just waits.',
    'To talk to real Telegram instead: TELEGRAM_BOT_TOKEN=<token from @BotFather> npm start',
    `Logs: ${rel(path.join(config.dataDir, 'logs', 'jukebox.log'))} (npm run logs).`,
    '',
  ]
    .filter((l, i, a) => l !== '' || a[i - 1] !== '')
    .join('\n');
}

interface Adapters {
  grid: Grid;
  chain: Chain;
  prober: Prober;
  faucet?: Faucet;
  watcher?: ChainWatcher;
  close(): Promise<void>;
}

/** How long the first connection to a real grid may take before the start is given up. */
const GRID_CONNECT_TIMEOUT_MS = 120_000;

/** The simulated grid, or the real one (loaded only then: grid_client takes a second to load). */
async function openGrid(config: Config, log: Logger): Promise<Adapters> {
  if (config.grid.kind === 'sim') {
    const sim = await SimGrid.open({
      dataDir: config.dataDir,
      seed: config.grid.seed,
      deployMs: config.grid.deployMs,
      workloadFailureRate: config.grid.failureRate,
      faultRate: config.grid.faultRate,
      faultSeed: process.pid,
    });
    return { grid: sim, chain: sim, prober: sim, faucet: sim, close: () => sim.close() };
  }
  // grid_client and tfchain_client print deployment models (env and secrets included) and chain
  // events with console.*: nothing of theirs may reach stdout or a log. Ours go through pino.
  for (const m of ['log', 'info', 'debug', 'warn', 'error', 'trace'] as const) console[m] = () => undefined;
  const { settings, mnemonic } = config.grid;
  const { openTfGrid } = await import('./grid/tfgrid/index.js');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${GRID_CONNECT_TIMEOUT_MS / 1000} s`)), GRID_CONNECT_TIMEOUT_MS);
  });
  try {
    const real = await Promise.race([openTfGrid({ settings, operatorMnemonic: mnemonic, dataDir: config.dataDir, log }), timeout]);
    return { grid: real.grid, chain: real.chain, prober: real.prober, watcher: real.watcher, close: () => real.close() };
  } catch (err) {
    const why = scrubSecrets(err instanceof Error ? err.message : String(err), [mnemonic]).trim();
    process.stderr.write(
      `Jukebox cannot reach the ThreeFold Grid (${settings.network}net): ${why}\n` +
        `It tried ${settings.urls.substrate}, ${settings.urls.proxy} and ${settings.urls.relay}; ` +
        'check the network, the GRID_*_URL overrides, and that GRID_MNEMONIC has a twin on this network.\n',
    );
    process.exit(1);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  process.umask(0o077); // wallets and keys live in data/: owner-only files
  let config: Config;
  try {
    config = loadConfig();
    // the operator's changes to the node catalog, before any flow or job reads it
    if (config.catalogFile) await applyCatalogFile(config.catalogFile);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`Jukebox cannot start, the configuration is wrong:\n${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  // a key rotation cut short leaves secrets of two keys: finish it first (npm run rotate-key)
  await assertNoRotationPending(config.dataDir).catch((e: Error) => {
    process.stderr.write(`Jukebox cannot start: ${e.message}\n`);
    process.exit(2);
  });
  const removePidFile = await writePidFile(config.dataDir); // rotate-key refuses while the bot runs
  const log: Logger = createLogger({ dataDir: config.dataDir, level: config.logLevel, stdout: config.logToStdout });
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

  const { key, generatedAt } = await masterKey(config);
  if (generatedAt) log.warn({ file: generatedAt }, 'using the master key kept under data/ (set JUKEBOX_MASTER_KEY in production)');
  await assertKeyMatches(config.dataDir, key).catch((e: Error) => {
    process.stderr.write(`Jukebox cannot start: ${e.message}\n`);
    process.exit(2);
  });
  const adapters = await openGrid(config, log);
  const { grid, chain, prober } = adapters;

  const emu = config.telegram.mode === 'local' ? await BotApiEmulator.start() : undefined;
  const telegram = config.telegram.mode === 'remote' ? config.telegram : { token: emu!.token, apiRoot: emu!.apiRoot };
  const metrics = config.metrics ? new Metrics() : undefined;
  const app: App = await createApp({
    dataDir: config.dataDir,
    log,
    grid,
    chain,
    ...(adapters.faucet ? { faucet: adapters.faucet } : {}),
    prober,
    masterKey: key,
    telegram,
    paymentTimeoutMs: config.paymentTimeoutMs,
    depositPollMs: config.depositPollMs,
    jobConcurrency: config.jobConcurrency,
    userCacheSize: config.userCacheSize,
    watchdog: config.watchdog,
    recovery: config.recovery,
    topUpHours: config.topUpHours,
    adminIds: config.adminIds,
    rateLimit: config.rateLimit,
    ...(metrics ? { metrics } : {}),
    ...(config.bridgeAddress ? { bridgeAddress: config.bridgeAddress } : {}),
    ...(config.backup ? { backup: config.backup } : {}),
  });
  // the chain says at once what polling would find within minutes: a contract cancelled, a grace period
  adapters.watcher?.onContractEvent((e) => (e.kind === 'grace_elapsed' ? undefined : app.watchdog.onContractEvent(e)));

  let metricsServer: MetricsServer | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (why: string, exitCode = 0) => {
    stopping ??= (async () => {
      log.info({ why }, 'shutting down');
      await metricsServer?.close();
      await app.stop();
      await adapters.close();
      await emu?.stop();
      await removePidFile();
      await closeLogger(log);
      process.exit(exitCode);
    })();
    return stopping;
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  // /metrics and /healthz, before polling starts: a supervisor sees the start (503 until polling runs)
  if (config.metrics && metrics) {
    const where = `${config.metrics.host}:${config.metrics.port}`;
    metricsServer = await startMetricsServer({
      ...config.metrics,
      registry: metrics.registry,
      health: () => app.health.check(),
      onError: (err) => log.error({ err }, 'metrics endpoint failed'),
    }).catch((err: Error) => {
      process.stderr.write(`Jukebox cannot serve metrics on ${where}: ${err.message} (set METRICS_PORT, or METRICS=off)\n`);
      process.exit(2);
    });
    log.info({ url: metricsServer.url }, `metrics at ${metricsServer.url}/metrics, health at ${metricsServer.url}/healthz`);
  }
  await app.start();
  // a bot that no longer polls must not look alive: exit, so a supervisor restarts it
  app.polling().catch((err: unknown) => {
    process.stderr.write(`Telegram stopped the polling: ${err instanceof Error ? scrub(err.message) : String(err)}\n`);
    void shutdown('polling failed', 1);
  });
  if (emu && config.telegram.mode === 'local') {
    process.stdout.write(banner(config, emu, generatedAt));
    if (config.telegram.chat === 'terminal') {
      const me = emu.user({ id: config.telegram.userId, first_name: 'You' });
      startTerminalChat(emu, me, { input: process.stdin, output: process.stdout, onExit: () => void shutdown('terminal closed') });
    }
  } else {
    log.info('connected to Telegram; polling for updates');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`Jukebox stopped: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});

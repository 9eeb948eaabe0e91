/** Settings from the environment: defaults for a first local run, clear errors for bad values. */
import { describe, it, expect } from '@jest/globals';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config.js';

const TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const KEY = 'a'.repeat(64);
const MNEMONIC_12 = 'legal winner thank year wave sausage worth useful legal winner thank yellow';

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).name).toBe('ConfigError');
    return e as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(Object.keys(env))}`);
}

describe('loadConfig', () => {
  it('with no environment at all: local mode, terminal chat, simulated grid, no logs on stdout', () => {
    const c = loadConfig({});
    expect(c.telegram).toEqual({ mode: 'local', chat: 'terminal', userId: 1001 });
    expect(c.grid).toEqual({ kind: 'sim', seed: 42, deployMs: 6_000, failureRate: 0, faultRate: 0 });
    expect(c.masterKeyHex).toBeUndefined();
    expect(c.logToStdout).toBe(false); // stdout is the chat
    expect(c.logLevel).toBe('info');
    expect(c.paymentTimeoutMs).toBe(30 * 60_000);
    expect(c.depositPollMs).toBe(10_000);
    expect(c.jobConcurrency).toBe(4);
    expect(c.userCacheSize).toBe(2000);
    expect(c.dataDir).toBe(path.resolve(process.cwd(), 'data'));
  });

  it('treats empty variables as unset (as `FOO=` in a .env file)', () => {
    expect(loadConfig({ TELEGRAM_BOT_TOKEN: '', GRID_NETWORK: '', JUKEBOX_MASTER_KEY: '', DATA_DIR: '' })).toEqual(loadConfig({}));
  });

  it('resolves DATA_DIR to an absolute path', () => {
    const c = loadConfig({ DATA_DIR: 'some/relative/dir' });
    expect(path.isAbsolute(c.dataDir)).toBe(true);
    expect(c.dataDir).toBe(path.join(process.cwd(), 'some', 'relative', 'dir'));
    expect(loadConfig({ DATA_DIR: '/srv/jukebox/' }).dataDir).toBe('/srv/jukebox');
  });

  it('a bot token switches to remote mode, with logs on stdout', () => {
    const c = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN });
    expect(c.telegram).toEqual({ mode: 'remote', token: TOKEN });
    expect(c.logToStdout).toBe(true);
    const withRoot = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_API_ROOT: 'http://127.0.0.1:8081/' });
    expect(withRoot.telegram).toEqual({ mode: 'remote', token: TOKEN, apiRoot: 'http://127.0.0.1:8081/' });
  });

  it('local mode without the terminal chat logs to stdout; LOG_STDOUT overrides either way', () => {
    expect(loadConfig({ LOCAL_CHAT: 'off' }).logToStdout).toBe(true);
    expect(loadConfig({ LOG_STDOUT: 'yes' }).logToStdout).toBe(true);
    expect(loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, LOG_STDOUT: '0' }).logToStdout).toBe(false);
  });

  it('converts seconds and minutes to milliseconds', () => {
    const c = loadConfig({ SIM_DEPLOY_SECONDS: '0.5', DEPOSIT_POLL_SECONDS: '2', PAYMENT_TIMEOUT_MINUTES: '5' });
    expect(c.grid).toMatchObject({ kind: 'sim', deployMs: 500 });
    expect(c.depositPollMs).toBe(2_000);
    expect(c.paymentTimeoutMs).toBe(300_000);
  });

  it('a real grid with a mnemonic and a master key', () => {
    const c = loadConfig({ GRID_NETWORK: 'main', GRID_MNEMONIC: `  ${MNEMONIC_12.replace(' ', '  ')}\n`, JUKEBOX_MASTER_KEY: KEY });
    expect(c.grid).toEqual({
      kind: 'tfgrid',
      mnemonic: MNEMONIC_12,
      settings: {
        network: 'main',
        urls: {
          proxy: 'https://gridproxy.grid.tf',
          substrate: 'wss://tfchain.grid.tf/ws',
          relay: 'wss://relay.grid.tf',
          graphql: 'https://graphql.grid.tf/graphql',
          activation: 'https://activation.grid.tf/activation/activate',
        },
        deploymentTimeoutMinutes: 10,
        poolSize: 50,
        poolIdleMs: 300_000,
        bridgeAddress: 'GBNOTAYUMXVO5QDYWYO2SOCOYIJ3XFIP65GKOQN7H65ZZSO6BK4SLWSC',
      },
    });
    expect(c.bridgeAddress).toBe('GBNOTAYUMXVO5QDYWYO2SOCOYIJ3XFIP65GKOQN7H65ZZSO6BK4SLWSC');
    expect(c.masterKeyHex).toBe(KEY);
  });

  it('a test network gets its own service URLs and bridge; each URL, the timeout and the pool can be overridden', () => {
    const base = { GRID_NETWORK: 'test', GRID_MNEMONIC: MNEMONIC_12, JUKEBOX_MASTER_KEY: KEY };
    const t = loadConfig(base).grid;
    if (t.kind !== 'tfgrid') throw new Error('expected the real grid');
    expect(t.settings.urls.substrate).toBe('wss://tfchain.test.grid.tf/ws');
    expect(t.settings.bridgeAddress).toBe('GA2CWNBUHX7NZ3B5GR4I23FMU7VY5RPA77IUJTIXTTTGKYSKDSV6LUA4');
    const o = loadConfig({
      ...base,
      GRID_SUBSTRATE_URL: 'ws://127.0.0.1:9944',
      GRID_PROXY_URL: 'http://127.0.0.1:8080',
      GRID_DEPLOY_TIMEOUT_MINUTES: '20',
      GRID_POOL_SIZE: '8',
      GRID_POOL_IDLE_MINUTES: '1',
    }).grid;
    if (o.kind !== 'tfgrid') throw new Error('expected the real grid');
    expect(o.settings).toMatchObject({ deploymentTimeoutMinutes: 20, poolSize: 8, poolIdleMs: 60_000 });
    expect(o.settings.urls).toMatchObject({ substrate: 'ws://127.0.0.1:9944', proxy: 'http://127.0.0.1:8080', relay: 'wss://relay.test.grid.tf' });
  });

  it('the simulated grid offers no Stellar bridge unless one is set', () => {
    expect(loadConfig({}).bridgeAddress).toBeUndefined();
    const addr = 'GDHJP6TF3UXYXTNEZ2P36J5FH7W4BJJQ4AYYAXC66I2Q2AH5B6O6BCFG';
    expect(loadConfig({ STELLAR_BRIDGE_ADDRESS: addr }).bridgeAddress).toBe(addr);
    expect(configError({ STELLAR_BRIDGE_ADDRESS: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNQXCcoLZiWxLGTo' }).message).toContain('STELLAR_BRIDGE_ADDRESS');
  });

  it.each([
    ['GRID_SUBSTRATE_URL', 'https://tfchain.grid.tf/ws', /GRID_SUBSTRATE_URL must start with wss:\/\/ or ws:\/\//],
    ['GRID_PROXY_URL', 'gridproxy', /GRID_PROXY_URL must be a URL/],
    ['GRID_POOL_SIZE', '0', /GRID_POOL_SIZE/],
    ['GRID_DEPLOY_TIMEOUT_MINUTES', '90', /GRID_DEPLOY_TIMEOUT_MINUTES/],
  ])('%s=%j is refused with a clear error', (name, value, message) => {
    expect(configError({ GRID_NETWORK: 'dev', GRID_MNEMONIC: MNEMONIC_12, JUKEBOX_MASTER_KEY: KEY, [name]: value }).message).toMatch(message);
  });

  it('operations settings: admins, the metrics endpoint, the rate limit, S3 backups', () => {
    const d = loadConfig({});
    expect(d.adminIds).toEqual([]);
    expect(d.metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(d.rateLimit).toEqual({ perMinute: 30, burst: 10 });
    expect(d.backup).toBeUndefined();
    const o = loadConfig({
      ADMIN_IDS: ' 42, 7,42 ',
      METRICS: 'off',
      BACKUP_S3_BUCKET: 'jukebox-backups',
      BACKUP_S3_ENDPOINT: 'http://127.0.0.1:4568',
      BACKUP_S3_ACCESS_KEY_ID: 'AK',
      BACKUP_S3_SECRET_ACCESS_KEY: 'SK',
      BACKUP_S3_FORCE_PATH_STYLE: 'yes',
      BACKUP_KEEP: '5',
    });
    expect(o.adminIds).toEqual([42, 7]);
    expect(o.metrics).toBeUndefined();
    expect(o.backup).toEqual({
      bucket: 'jukebox-backups',
      endpoint: 'http://127.0.0.1:4568',
      region: 'us-east-1',
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
      prefix: 'jukebox/',
      forcePathStyle: true,
      cron: '17 * * * *',
      keep: 5,
    });
    expect(configError({ ADMIN_IDS: 'alice' }).message).toContain('ADMIN_IDS');
    expect(configError({ BACKUP_S3_BUCKET: 'b-1', BACKUP_S3_ACCESS_KEY_ID: 'AK' }).message).toMatch(/go together/);
    expect(configError({ BACKUP_CRON: 'hourly' }).message).toContain('BACKUP_CRON');
  });

  it('grid URL overrides without GRID_NETWORK are refused: they would be silently ignored', () => {
    expect(configError({ GRID_RELAY_URL: 'wss://relay.example.org' }).message).toMatch(/GRID_RELAY_URL only apply to a real grid/);
  });

  it('a malformed bot token is refused, naming the variable but not echoing the value', () => {
    const e = configError({ TELEGRAM_BOT_TOKEN: 'not-a-token-AAHdqTcvCH1vGWJxfSeofSAs' });
    expect(e.message).toContain('TELEGRAM_BOT_TOKEN');
    expect(e.message).not.toContain('AAHdqTcvCH1vGWJxfSeofSAs');
  });

  it.each(['abc', 'a'.repeat(63), 'g'.repeat(64), 'a'.repeat(65)])('master key %j is refused', (key) => {
    expect(configError({ JUKEBOX_MASTER_KEY: key }).message).toContain('JUKEBOX_MASTER_KEY');
  });

  it('GRID_NETWORK without GRID_MNEMONIC is refused', () => {
    expect(configError({ GRID_NETWORK: 'test', JUKEBOX_MASTER_KEY: KEY }).message).toMatch(/GRID_NETWORK.*GRID_MNEMONIC/);
  });

  it('GRID_MNEMONIC without GRID_NETWORK is refused', () => {
    expect(configError({ GRID_MNEMONIC: MNEMONIC_12, JUKEBOX_MASTER_KEY: KEY }).message).toMatch(/GRID_NETWORK/);
  });

  it('an unknown GRID_NETWORK is refused', () => {
    expect(configError({ GRID_NETWORK: 'mainnet', GRID_MNEMONIC: MNEMONIC_12, JUKEBOX_MASTER_KEY: KEY }).message).toContain(
      'GRID_NETWORK',
    );
  });

  it('a mnemonic of 11 (or 13) words is refused without echoing it', () => {
    const eleven = MNEMONIC_12.split(' ').slice(0, 11).join(' ');
    const e = configError({ GRID_NETWORK: 'main', GRID_MNEMONIC: eleven, JUKEBOX_MASTER_KEY: KEY });
    expect(e.message).toContain('GRID_MNEMONIC');
    expect(e.message).not.toContain('sausage');
    expect(configError({ GRID_NETWORK: 'main', GRID_MNEMONIC: `${MNEMONIC_12} extra`, JUKEBOX_MASTER_KEY: KEY }).message).toContain(
      'GRID_MNEMONIC',
    );
  });

  it('twelve words with a wrong BIP39 checksum are refused as not a valid 12/24-word mnemonic', () => {
    const badChecksum = MNEMONIC_12.replace(/yellow$/, 'winner');
    const e = configError({ GRID_NETWORK: 'main', GRID_MNEMONIC: badChecksum, JUKEBOX_MASTER_KEY: KEY });
    expect(e.message).toContain('GRID_MNEMONIC is not a valid 12/24-word mnemonic');
    expect(e.message).not.toContain('legal');
  });

  it('a real grid without a master key is refused (user wallets hold real money)', () => {
    expect(configError({ GRID_NETWORK: 'main', GRID_MNEMONIC: MNEMONIC_12 }).message).toContain('JUKEBOX_MASTER_KEY');
  });

  it.each([
    ['JOB_CONCURRENCY', '0'],
    ['USER_CACHE_SIZE', '5'],
    ['SIM_FAILURE_RATE', '1.5'],
    ['LOG_LEVEL', 'verbose'],
    ['LOCAL_USER_ID', '-3'],
    ['LOG_STDOUT', 'maybe'],
    ['TELEGRAM_API_ROOT', 'not a url'],
  ])('%s=%j is refused with an error naming it', (name, value) => {
    expect(configError({ [name]: value }).message).toContain(name);
  });

  it('watchdog schedules and recovery settings: defaults, overrides, and a bad cron expression named', () => {
    const c = loadConfig({});
    expect(c.watchdog).toEqual({ health: '*/5 * * * *', runway: '0 * * * *', reconcile: '30 3 * * *' });
    expect(c.recovery).toEqual({ maxTries: 3, backoffMs: 600_000 });
    expect(c.topUpHours).toBe(720);
    const o = loadConfig({ WATCHDOG_HEALTH_CRON: '*/2 * * * *', RECOVERY_MAX_TRIES: '5', RECOVERY_BACKOFF_MINUTES: '1.5', REMINDER_TOPUP_DAYS: '7' });
    expect(o.watchdog.health).toBe('*/2 * * * *');
    expect(o.recovery).toEqual({ maxTries: 5, backoffMs: 90_000 });
    expect(o.topUpHours).toBe(168);
    expect(configError({ WATCHDOG_RUNWAY_CRON: 'every hour' }).message).toMatch(/WATCHDOG_RUNWAY_CRON is not a cron expression/);
    expect(configError({ RECOVERY_MAX_TRIES: '0' }).message).toMatch(/RECOVERY_MAX_TRIES/);
  });

  it('reports every bad variable at once', () => {
    const e = configError({ JOB_CONCURRENCY: '0', JUKEBOX_MASTER_KEY: 'zz' });
    expect(e.message).toContain('JOB_CONCURRENCY');
    expect(e.message).toContain('JUKEBOX_MASTER_KEY');
  });
});

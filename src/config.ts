/**
 * The one list of settings: environment variables parsed and validated at the edge (zod), turned
 * into a typed config. Nothing else in the product reads process.env.
 */
import { mnemonicValidate } from '@polkadot/util-crypto';
import cron from 'node-cron';
import { z } from 'zod';
import path from 'node:path';
import { defaultUrls, type GridNetwork, type TfGridSettings } from './grid/tfgrid/seams.js';

/** The TFT bridge on Stellar per network: a deposit to it with memo twin_<id> lands on that twin's TFChain account. */
export const BRIDGE_ADDRESSES: Record<GridNetwork, string> = {
  main: 'GBNOTAYUMXVO5QDYWYO2SOCOYIJ3XFIP65GKOQN7H65ZZSO6BK4SLWSC',
  test: 'GA2CWNBUHX7NZ3B5GR4I23FMU7VY5RPA77IUJTIXTTTGKYSKDSV6LUA4',
  dev: 'GDHJP6TF3UXYXTNEZ2P36J5FH7W4BJJQ4AYYAXC66I2Q2AH5B6O6BCFG',
  qa: 'GAQH7XXFBRWXT2SBK6AHPOLXDCLXVFAKFSOJIRMRNCDINWKHGI6UYVKM',
};

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const serviceUrl = (name: string, protocols: string[]) =>
  z.url({ message: `${name} must be a URL` }).refine((v) => !URL.canParse(v) || protocols.includes(new URL(v).protocol), {
    message: `${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  });

const cronExpr = (name: string) =>
  z.string().refine((v) => cron.validate(v), { message: `${name} is not a cron expression (minute hour day month weekday, e.g. "*/5 * * * *")` });

const EnvSchema = z.object({
  TELEGRAM_BOT_TOKEN: z
    .string()
    .regex(/^\d{3,}:[\w-]{20,}$/, 'TELEGRAM_BOT_TOKEN does not look like a BotFather token (123456:ABC…)')
    .optional(),
  TELEGRAM_API_ROOT: z.url({ message: 'TELEGRAM_API_ROOT must be a URL such as http://127.0.0.1:8081/' }).optional(),
  DATA_DIR: z.string().min(1).default('data'),
  JUKEBOX_MASTER_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'JUKEBOX_MASTER_KEY must be 64 hex characters (openssl rand -hex 32)')
    .optional(),
  GRID_NETWORK: z.enum(['dev', 'qa', 'test', 'main']).optional(),
  GRID_MNEMONIC: z.string().optional(),
  GRID_PROXY_URL: serviceUrl('GRID_PROXY_URL', ['https:', 'http:']).optional(),
  GRID_SUBSTRATE_URL: serviceUrl('GRID_SUBSTRATE_URL', ['wss:', 'ws:']).optional(),
  GRID_RELAY_URL: serviceUrl('GRID_RELAY_URL', ['wss:', 'ws:']).optional(),
  GRID_GRAPHQL_URL: serviceUrl('GRID_GRAPHQL_URL', ['https:', 'http:']).optional(),
  GRID_ACTIVATION_URL: serviceUrl('GRID_ACTIVATION_URL', ['https:', 'http:']).optional(),
  GRID_DEPLOY_TIMEOUT_MINUTES: z.coerce.number().int().min(1).max(60).default(10),
  GRID_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(50),
  GRID_POOL_IDLE_MINUTES: z.coerce.number().min(0.5).max(24 * 60).default(5),
  STELLAR_BRIDGE_ADDRESS: z
    .string()
    .regex(/^G[A-Z2-7]{55}$/, 'STELLAR_BRIDGE_ADDRESS must be a Stellar account address (G followed by 55 letters and digits)')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOCAL_CHAT: z.enum(['terminal', 'off']).default('terminal'),
  LOCAL_USER_ID: z.coerce.number().int().positive().default(1001),
  SIM_SEED: z.coerce.number().int().default(42),
  SIM_DEPLOY_SECONDS: z.coerce.number().min(0).max(600).default(6),
  SIM_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  /** chaos testing: the simulated grid's calls fail at this rate (timeouts, errors, nodes going down) */
  SIM_FAULT_RATE: z.coerce.number().min(0).max(1).default(0),
  PAYMENT_TIMEOUT_MINUTES: z.coerce.number().min(1).max(24 * 60).default(30),
  DEPOSIT_POLL_SECONDS: z.coerce.number().min(0.05).max(600).default(10),
  JOB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  USER_CACHE_SIZE: z.coerce.number().int().min(10).max(1_000_000).default(2000),
  LOG_STDOUT: bool.optional(),
  WATCHDOG_HEALTH_CRON: cronExpr('WATCHDOG_HEALTH_CRON').default('*/5 * * * *'),
  WATCHDOG_RUNWAY_CRON: cronExpr('WATCHDOG_RUNWAY_CRON').default('0 * * * *'),
  WATCHDOG_RECONCILE_CRON: cronExpr('WATCHDOG_RECONCILE_CRON').default('30 3 * * *'),
  RECOVERY_MAX_TRIES: z.coerce.number().int().min(1).max(20).default(3),
  RECOVERY_BACKOFF_MINUTES: z.coerce.number().min(0.01).max(24 * 60).default(10),
  REMINDER_TOPUP_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  CATALOG_FILE: z.string().min(1).optional(),
  ADMIN_IDS: z
    .string()
    .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'ADMIN_IDS must be Telegram user ids separated by commas, e.g. "1234,5678"')
    .optional(),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  METRICS: bool.default(true),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(30),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1000).default(10),
  BACKUP_S3_BUCKET: z.string().min(3).max(63).optional(),
  BACKUP_S3_ENDPOINT: z.url({ message: 'BACKUP_S3_ENDPOINT must be a URL such as https://s3.eu-central-1.amazonaws.com' }).optional(),
  BACKUP_S3_REGION: z.string().min(1).default('us-east-1'),
  BACKUP_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  BACKUP_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  BACKUP_S3_PREFIX: z.string().default('jukebox/'),
  BACKUP_S3_FORCE_PATH_STYLE: bool.default(false),
  BACKUP_CRON: cronExpr('BACKUP_CRON').default('17 * * * *'),
  BACKUP_KEEP: z.coerce.number().int().min(1).max(10_000).default(48),
});

export type Env = z.input<typeof EnvSchema>;

export interface Config {
  dataDir: string;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  /** Local mode: no token, so the bundled Bot API emulator stands in for Telegram. */
  telegram: { mode: 'local'; chat: 'terminal' | 'off'; userId: number } | { mode: 'remote'; token: string; apiRoot?: string };
  grid:
    | { kind: 'sim'; seed: number; deployMs: number; failureRate: number; faultRate: number }
    | { kind: 'tfgrid'; settings: TfGridSettings; mnemonic: string };
  /** where users on Stellar send TFT (memo twin_<id>): the network's bridge, or the override; none on the sim unless set */
  bridgeAddress?: string;
  /** hex; when absent, local mode keeps a generated key under data/ */
  masterKeyHex?: string;
  paymentTimeoutMs: number;
  depositPollMs: number;
  jobConcurrency: number;
  userCacheSize: number;
  /** logs also go to stdout (off in local mode, where stdout is the chat) */
  logToStdout: boolean;
  watchdog: { health: string; runway: string; reconcile: string };
  recovery: { maxTries: number; backoffMs: number };
  topUpHours: number;
  /** the operator's changes to the node catalog (src/catalog/overrides.ts), a JSON file */
  catalogFile?: string;
  /** Telegram user ids who get /admin; everyone else never sees it */
  adminIds: number[];
  /** the /healthz and /metrics endpoint; undefined when METRICS=off */
  metrics?: { host: string; port: number };
  /** incoming updates per user: a token bucket refilled perMinute, holding burst */
  rateLimit: { perMinute: number; burst: number };
  /** S3 backups of data/; undefined when BACKUP_S3_BUCKET is not set */
  backup?: {
    bucket: string;
    endpoint?: string;
    region: string;
    credentials?: { accessKeyId: string; secretAccessKey: string };
    prefix: string;
    forcePathStyle: boolean;
    cron: string;
    keep: number;
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
  }
  const e = parsed.data;
  if (e.GRID_NETWORK && !e.GRID_MNEMONIC) throw new ConfigError('GRID_NETWORK is set but GRID_MNEMONIC is not');
  if (e.GRID_MNEMONIC && !e.GRID_NETWORK) throw new ConfigError('GRID_MNEMONIC is set but GRID_NETWORK is not');
  if ((e.BACKUP_S3_ACCESS_KEY_ID === undefined) !== (e.BACKUP_S3_SECRET_ACCESS_KEY === undefined)) {
    throw new ConfigError('BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY go together: set both, or neither (the SDK then finds credentials itself)');
  }
  const mnemonic = e.GRID_MNEMONIC?.trim().split(/\s+/).join(' ');
  if (mnemonic !== undefined && !(/^(\S+ ){11}\S+$|^(\S+ ){23}\S+$/.test(mnemonic) && mnemonicValidate(mnemonic))) {
    throw new ConfigError('GRID_MNEMONIC is not a valid 12/24-word mnemonic (BIP39 words with their checksum, as the ThreeFold dashboard shows it)');
  }
  const gridOverrides = ['GRID_PROXY_URL', 'GRID_SUBSTRATE_URL', 'GRID_RELAY_URL', 'GRID_GRAPHQL_URL', 'GRID_ACTIVATION_URL'] as const;
  const stray = gridOverrides.filter((k) => e[k] !== undefined);
  if (!e.GRID_NETWORK && stray.length > 0) throw new ConfigError(`${stray.join(', ')} only apply to a real grid: set GRID_NETWORK too, or unset them`);
  if (e.GRID_NETWORK && !e.JUKEBOX_MASTER_KEY) {
    throw new ConfigError('JUKEBOX_MASTER_KEY is required with a real grid: user wallets hold real money');
  }
  const telegram: Config['telegram'] = e.TELEGRAM_BOT_TOKEN
    ? { mode: 'remote', token: e.TELEGRAM_BOT_TOKEN, ...(e.TELEGRAM_API_ROOT ? { apiRoot: e.TELEGRAM_API_ROOT } : {}) }
    : { mode: 'local', chat: e.LOCAL_CHAT, userId: e.LOCAL_USER_ID };
  return {
    dataDir: path.resolve(e.DATA_DIR),
    logLevel: e.LOG_LEVEL,
    telegram,
    grid:
      e.GRID_NETWORK && mnemonic
        ? { kind: 'tfgrid', mnemonic, settings: tfgridSettings(e, e.GRID_NETWORK) }
        : { kind: 'sim', seed: e.SIM_SEED, deployMs: Math.round(e.SIM_DEPLOY_SECONDS * 1000), failureRate: e.SIM_FAILURE_RATE, faultRate: e.SIM_FAULT_RATE },
    ...((e.STELLAR_BRIDGE_ADDRESS ?? (e.GRID_NETWORK && BRIDGE_ADDRESSES[e.GRID_NETWORK]))
      ? { bridgeAddress: e.STELLAR_BRIDGE_ADDRESS ?? BRIDGE_ADDRESSES[e.GRID_NETWORK!] }
      : {}),
    ...(e.JUKEBOX_MASTER_KEY ? { masterKeyHex: e.JUKEBOX_MASTER_KEY } : {}),
    paymentTimeoutMs: e.PAYMENT_TIMEOUT_MINUTES * 60_000,
    depositPollMs: Math.round(e.DEPOSIT_POLL_SECONDS * 1000),
    jobConcurrency: e.JOB_CONCURRENCY,
    userCacheSize: e.USER_CACHE_SIZE,
    logToStdout: e.LOG_STDOUT ?? !(telegram.mode === 'local' && telegram.chat === 'terminal'),
    watchdog: { health: e.WATCHDOG_HEALTH_CRON, runway: e.WATCHDOG_RUNWAY_CRON, reconcile: e.WATCHDOG_RECONCILE_CRON },
    recovery: { maxTries: e.RECOVERY_MAX_TRIES, backoffMs: Math.round(e.RECOVERY_BACKOFF_MINUTES * 60_000) },
    topUpHours: e.REMINDER_TOPUP_DAYS * 24,
    ...(e.CATALOG_FILE ? { catalogFile: e.CATALOG_FILE } : {}),
    adminIds: e.ADMIN_IDS ? [...new Set(e.ADMIN_IDS.split(',').map((x) => Number(x.trim())))] : [],
    ...(e.METRICS ? { metrics: { host: e.METRICS_HOST, port: e.METRICS_PORT } } : {}),
    rateLimit: { perMinute: e.RATE_LIMIT_PER_MINUTE, burst: e.RATE_LIMIT_BURST },
    ...(e.BACKUP_S3_BUCKET ? { backup: backupSettings(e, e.BACKUP_S3_BUCKET) } : {}),
  };
}

function tfgridSettings(e: z.infer<typeof EnvSchema>, network: GridNetwork): TfGridSettings {
  const urls = defaultUrls(network);
  return {
    network,
    urls: {
      proxy: e.GRID_PROXY_URL ?? urls.proxy,
      substrate: e.GRID_SUBSTRATE_URL ?? urls.substrate,
      relay: e.GRID_RELAY_URL ?? urls.relay,
      graphql: e.GRID_GRAPHQL_URL ?? urls.graphql,
      activation: e.GRID_ACTIVATION_URL ?? urls.activation,
    },
    deploymentTimeoutMinutes: e.GRID_DEPLOY_TIMEOUT_MINUTES,
    poolSize: e.GRID_POOL_SIZE,
    poolIdleMs: Math.round(e.GRID_POOL_IDLE_MINUTES * 60_000),
    bridgeAddress: e.STELLAR_BRIDGE_ADDRESS ?? BRIDGE_ADDRESSES[network],
  };
}

function backupSettings(e: z.infer<typeof EnvSchema>, bucket: string): NonNullable<Config['backup']> {
  return {
    bucket,
    ...(e.BACKUP_S3_ENDPOINT ? { endpoint: e.BACKUP_S3_ENDPOINT } : {}),
    region: e.BACKUP_S3_REGION,
    ...(e.BACKUP_S3_ACCESS_KEY_ID && e.BACKUP_S3_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: e.BACKUP_S3_ACCESS_KEY_ID, secretAccessKey: e.BACKUP_S3_SECRET_ACCESS_KEY } }
      : {}),
    prefix: e.BACKUP_S3_PREFIX,
    forcePathStyle: e.BACKUP_S3_FORCE_PATH_STYLE,
    cron: e.BACKUP_CRON,
    keep: e.BACKUP_KEEP,
  };
}

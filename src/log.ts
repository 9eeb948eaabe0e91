/**
 * Structured logs: pino JSON lines to data/logs/jukebox.log (and stdout unless stdout is the local
 * chat). Secrets are redacted by key, and bot tokens are scrubbed from error texts (telegraf puts
 * the token in request URLs).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger, stdSerializers } from 'pino';

export type { Logger };

const SECRET_KEYS = ['mnemonic', 'password', 'token', 'masterKey', 'secret', 'secrets', 'mnemonicSealed', 'privateKey'];
export const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), ...SECRET_KEYS.map((k) => `*.*.${k}`)];

const TOKEN_RE = /\d{3,}:[\w-]{20,}/g;
export const scrub = (s: string): string => s.replace(TOKEN_RE, '<token>');

function errSerializer(err: Error): Record<string, unknown> {
  const o = stdSerializers.err(err) as unknown as Record<string, unknown>;
  for (const k of ['message', 'stack']) if (typeof o[k] === 'string') o[k] = scrub(o[k] as string);
  delete o.on; // telegraf's TelegramError carries the request payload
  return o;
}

export function createLogger(opts: { dataDir: string; level: string; stdout: boolean }): Logger {
  const dir = path.join(opts.dataDir, 'logs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const streams: pino.StreamEntry[] = [
    { level: opts.level as pino.Level, stream: pino.destination({ dest: path.join(dir, 'jukebox.log'), mkdir: true, sync: false }) },
  ];
  if (opts.stdout) streams.push({ level: opts.level as pino.Level, stream: process.stdout });
  return pino(
    {
      level: opts.level,
      base: { app: 'jukebox' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: errSerializer },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.multistream(streams),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });

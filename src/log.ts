/**
 * Structured logs: pino JSON lines to data/logs/jukebox.log (and stdout unless stdout is the local
 * chat). Every line is sanitized on its way out: values under secret keys are redacted at any depth,
 * and bot tokens are scrubbed from every string, the message included (telegraf puts the token in
 * request URLs, which end up in error texts).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger, stdSerializers } from 'pino';

export type { Logger };

const SECRET_KEY = /^(mnemonic|mnemonicSealed|password|passwd|rpcpassword|token|secret|secrets|masterKey|privateKey|registrationCode)$/i;
const TOKEN_RE = /\d{3,}:[\w-]{20,}/g;
const MAX_DEPTH = 8;

export const scrub = (s: string): string => s.replace(TOKEN_RE, '<token>');

/** A copy of a log record with secrets redacted at any depth and tokens scrubbed from strings. */
export function sanitize(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[deep]';
  if (value instanceof Error) return sanitize(serializeError(value), depth);
  if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : sanitize(v, depth + 1);
  return out;
}

function serializeError(err: Error): Record<string, unknown> {
  const o = stdSerializers.err(err) as unknown as Record<string, unknown>;
  delete o.on; // telegraf's TelegramError carries the whole request payload
  return o;
}

const files = new WeakMap<Logger, ReturnType<typeof pino.destination>>();

/** Writes out what is buffered and closes the log file: the last thing before the process ends. */
export function closeLogger(log: Logger): Promise<void> {
  const file = files.get(log);
  if (!file) return Promise.resolve();
  files.delete(log);
  return new Promise((resolve, reject) => {
    file.once('close', () => resolve());
    file.once('error', reject);
    file.end();
  });
}

export function createLogger(opts: { dataDir: string; level: string; stdout: boolean }): Logger {
  const dir = path.join(opts.dataDir, 'logs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const level = opts.level as pino.Level;
  const file = pino.destination({ dest: path.join(dir, 'jukebox.log'), mkdir: true, sync: false, mode: 0o600 });
  const streams: pino.StreamEntry[] = [{ level, stream: file }];
  if (opts.stdout) streams.push({ level, stream: process.stdout });
  const log = pino(
    {
      level: opts.level,
      base: { app: 'jukebox' },
      // the formatter below already turned errors into sanitized objects; pino's own `err`
      // serializer would wrap them again
      serializers: { err: (e: unknown) => (e instanceof Error ? sanitize(e) : e) },
      formatters: { log: (record) => sanitize(record) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          const [first, ...rest] = args as unknown[];
          // pino would take an Error's own message as the line's message, unscrubbed
          const normalized = first instanceof Error ? [{ err: first }, ...(rest.length ? rest : [first.message])] : args;
          method.apply(this, normalized.map((a) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<typeof method>);
        },
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.multistream(streams),
  );
  files.set(log, file);
  return log;
}

export const silentLogger: Logger = pino({ level: 'silent' });

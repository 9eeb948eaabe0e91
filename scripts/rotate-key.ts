/**
 * npm run rotate-key [-- --new-key HEX]
 *
 * Re-seals every secret under DATA_DIR (default data/) from the current master key to a new one;
 * see src/chain/rotate-key.ts. Stop the bot first. The old key is JUKEBOX_MASTER_KEY, or in local
 * mode data/master.key. The new key is --new-key (64 hex), or generated and printed once.
 *
 * - With JUKEBOX_MASTER_KEY: when it is done, set JUKEBOX_MASTER_KEY to the new key and start the bot.
 *   If it is interrupted, run it again with the same --new-key (a generated one was printed first).
 * - Local mode: the new key waits in data/master.key.new while the rotation runs and replaces
 *   data/master.key at the end; a rerun after an interruption picks it up by itself.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { keyFingerprint, rotateKey, RotationError, writeFileAtomic } from '../src/chain/rotate-key.js';

const HEX_KEY = /^[0-9a-f]{64}$/i;

function fail(message: string, code = 1): never {
  process.stderr.write(`rotate-key: ${message}\n`);
  process.exit(code);
}

function argValue(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  const a = args[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[i + 1];
}

async function main(): Promise<void> {
  process.umask(0o077);
  const dataDir = path.resolve(process.env.DATA_DIR || 'data');
  const given = argValue('--new-key');
  if (given !== undefined && !HEX_KEY.test(given)) fail('--new-key must be 64 hex characters (openssl rand -hex 32)', 2);

  const envKey = process.env.JUKEBOX_MASTER_KEY;
  let oldKey: Buffer;
  let newHex: string;
  let keyFile: { current: string; pending: string } | undefined;
  if (envKey) {
    if (!HEX_KEY.test(envKey)) fail('JUKEBOX_MASTER_KEY must be 64 hex characters', 2);
    oldKey = Buffer.from(envKey, 'hex');
    newHex = given ?? randomBytes(32).toString('hex');
    if (!given) {
      process.stdout.write(
        `New master key (shown once; store it in your secret manager now):\n  ${newHex}\n` +
          `If this run is interrupted, run it again with --new-key ${newHex}\n`,
      );
    }
  } else {
    const current = path.join(dataDir, 'master.key');
    const pending = path.join(dataDir, 'master.key.new');
    const old = (await readFile(current, 'utf8').catch(() => undefined))?.trim();
    if (old === undefined) fail(`no JUKEBOX_MASTER_KEY and no ${current}: nothing to rotate from`, 2);
    if (!HEX_KEY.test(old)) fail(`${current} does not hold a 64-hex-character key`, 2);
    oldKey = Buffer.from(old, 'hex');
    const waiting = (await readFile(pending, 'utf8').catch(() => undefined))?.trim();
    if (waiting !== undefined) {
      if (given && given.toLowerCase() !== waiting.toLowerCase()) fail(`${pending} holds another new key from an unfinished rotation: run without --new-key to finish it`);
      newHex = waiting;
    } else {
      newHex = given ?? randomBytes(32).toString('hex');
      if (newHex.toLowerCase() === old.toLowerCase()) fail('the new key is the old key', 2);
      await writeFileAtomic(pending, `${newHex}\n`);
    }
    keyFile = { current, pending };
  }

  const newKey = Buffer.from(newHex, 'hex');
  process.stdout.write(`Rotating ${dataDir} from key ${keyFingerprint(oldKey)} to key ${keyFingerprint(newKey)}…\n`);
  try {
    await rotateKey({ dataDir, oldKey, newKey, say: (l) => process.stdout.write(`${l}\n`) });
  } catch (e) {
    if (e instanceof RotationError) fail(e.message);
    throw e;
  }
  if (keyFile) {
    await rename(keyFile.pending, keyFile.current);
    process.stdout.write(`${keyFile.current} now holds the new key. Start the bot as before.\n`);
  } else {
    process.stdout.write('Done. Set JUKEBOX_MASTER_KEY to the new key, then start the bot.\n');
  }
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));

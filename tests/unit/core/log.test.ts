/** Structured logs: secrets redacted by key, bot tokens scrubbed from errors. */
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeLogger as close, createLogger } from '../../../src/log.js';

const TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const MNEMONIC = 'legal winner thank year wave sausage worth useful legal winner thank yellow';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function lines(): Promise<{ raw: string; entries: Record<string, any>[] }> {
  const raw = await readFile(path.join(dir, 'logs', 'jukebox.log'), 'utf8');
  return { raw, entries: raw.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>) };
}

describe('createLogger', () => {
  it('writes JSON lines to <dataDir>/logs/jukebox.log, at the configured level', async () => {
    const log = createLogger({ dataDir: dir, level: 'info', stdout: false });
    log.debug('not at info level');
    log.info({ user: 7 }, 'hello');
    await close(log);
    const { entries } = await lines();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ msg: 'hello', user: 7, app: 'jukebox', level: 30 });
    expect(new Date(entries[0]!.time as string).toISOString()).toBe(entries[0]!.time);
    expect((await stat(path.join(dir, 'logs'))).mode & 0o077).toBe(0);
  });

  it('redacts secret keys at the top level and nested one or two levels deep', async () => {
    const log = createLogger({ dataDir: dir, level: 'info', stdout: false });
    log.info(
      {
        mnemonic: MNEMONIC,
        token: TOKEN,
        user: { id: 7, password: 'hunter2-secret', identity: { mnemonicSealed: 'v1:sealed-value', privateKey: '0xdeadbeefcafe' } },
        inputs: { secret: 'the-input-secret' },
        masterKey: 'f'.repeat(64),
      },
      'creating user',
    );
    await close(log);
    const { raw, entries } = await lines();
    for (const value of [MNEMONIC, TOKEN, 'hunter2-secret', 'v1:sealed-value', '0xdeadbeefcafe', 'the-input-secret', 'f'.repeat(64)]) {
      expect(raw).not.toContain(value);
    }
    const e = entries[0]!;
    expect(e.mnemonic).toBe('[redacted]');
    expect(e.token).toBe('[redacted]');
    expect(e.masterKey).toBe('[redacted]');
    expect(e.user).toEqual({ id: 7, password: '[redacted]', identity: { mnemonicSealed: '[redacted]', privateKey: '[redacted]' } });
    expect(e.inputs).toEqual({ secret: '[redacted]' });
  });

  it('scrubs a bot token from an error message and stack, keeping the rest of the error', async () => {
    const log = createLogger({ dataDir: dir, level: 'info', stdout: false });
    const err = new Error(`request to https://api.telegram.org/bot${TOKEN}/getUpdates failed`);
    log.error({ err }, 'polling failed');
    log.warn({ err: new Error(`second: bot${TOKEN}/sendMessage`), chatId: 5 }, 'send failed');
    await close(log);
    const { raw, entries } = await lines();
    expect(raw).not.toContain(TOKEN);
    expect(raw).not.toContain('AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw');
    expect(entries[0]!.err.message).toBe('request to https://api.telegram.org/bot<token>/getUpdates failed');
    expect(entries[0]!.err.stack).toContain('bot<token>/getUpdates');
    expect(entries[0]!.err.type).toBe('Error');
    expect(entries[1]!.err.message).toBe('second: bot<token>/sendMessage');
    expect(entries[1]!.chatId).toBe(5);
  });

  it('scrubs a token carried by the cause of a wrapped error', async () => {
    const log = createLogger({ dataDir: dir, level: 'info', stdout: false });
    const err = new Error('could not start the bot', { cause: new Error(`getMe at /bot${TOKEN}/getMe: ECONNRESET`) });
    log.error({ err }, 'start failed');
    await close(log);
    const { raw } = await lines();
    expect(raw).not.toContain(TOKEN);
    expect(raw).toContain('ECONNRESET');
  });

  it("drops the request payload telegraf attaches to its errors (`on`), which can hold users' data", async () => {
    const log = createLogger({ dataDir: dir, level: 'info', stdout: false });
    const err = Object.assign(new Error('400: Bad Request: chat not found'), {
      code: 400,
      on: { method: 'sendMessage', payload: { chat_id: 5, text: 'your mnemonic is ...' } },
    });
    log.warn({ err }, 'send failed');
    await close(log);
    const { raw, entries } = await lines();
    expect(raw).not.toContain('your mnemonic is');
    expect(entries[0]!.err).not.toHaveProperty('on');
    expect(entries[0]!.err.code).toBe(400);
  });

  it('redacts secrets however deep they sit, and scrubs tokens from the message and from non-Error values', async () => {
    const log = createLogger({ dataDir: dir, level: 'info', stdout: false });
    log.info({ user: { deployments: [{ settings: { nested: { password: 'deep-secret-1' } } }] } }, 'deep');
    log.error(new Error(`GET /bot${TOKEN}/getMe failed`));
    log.error({ err: `rejected with /bot${TOKEN}/x`, url: `https://api.telegram.org/bot${TOKEN}/y` }, `while calling /bot${TOKEN}/z`);
    await close(log);
    const { raw, entries } = await lines();
    expect(raw).not.toContain('deep-secret-1');
    expect(raw).not.toContain(TOKEN);
    expect(entries[1]!.msg).toBe('GET /bot<token>/getMe failed');
    expect(entries[1]!.err.type).toBe('Error');
    expect(entries[2]).toMatchObject({ err: 'rejected with /bot<token>/x', url: 'https://api.telegram.org/bot<token>/y', msg: 'while calling /bot<token>/z' });
  });
});

/**
 * What an operator relies on: an update that fails is answered and logged and the bot goes on;
 * it stops cleanly; Telegram's 429 and 403 are handled; no secret reaches the log.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SecretBox } from '../../src/chain/secret-box.js';
import { closeLogger, createLogger } from '../../src/log.js';
import { BotApiEmulator } from '../../src/telegram/emulator/index.js';
import { confirmOrder, deploy, fillOrder, payAndAwaitUp } from '../helpers/chat.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, TEST_KEY, type Harness } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

describe('failures in one update', () => {
  it('tells that user something went wrong, charges nothing, and keeps serving everyone', async () => {
    h = await startHarness();
    const broken = h.emu.user({ id: 901 });
    const file = h.app.store.fileOf(901);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '{ this is not json');
    await broken.sendText('/start');
    await broken.waitForText('Something went wrong on our side. Nothing was charged.');

    const fine = h.emu.user({ id: 902 });
    await fine.sendText('/start');
    await fine.waitForText('Welcome to Jukebox');
  });
});

describe('stopping', () => {
  it('stops cleanly even right after starting, leaving no poller behind', async () => {
    const emu = await BotApiEmulator.start();
    try {
      for (let i = 0; i < 5; i++) {
        const quick = await startHarness({ emu });
        await quick.stop();
      }
      // a poller left running would make this one's getUpdates fail with 409 Conflict
      h = await startHarness({ emu });
      const u = emu.user({ id: 931 });
      await u.sendText('/start');
      await u.waitForText('Welcome');
    } finally {
      await h?.stop();
      await emu.stop();
    }
  });
});

describe('Telegram pushing back', () => {
  it('waits out a 429 and still delivers the reply', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 911 });
    h.emu.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 }, { chatId: 911 });
    await u.sendText('/help');
    await u.waitForText('What I can do');
    expect(h.emu.messages(911).filter((m) => m.text?.includes('What I can do'))).toHaveLength(1);
  });

  it('marks a user who blocked the bot as unreachable, and reachable again when they write', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 912 });
    await u.sendText('/start');
    await u.waitForText('Welcome');
    h.emu.blockBot(912);
    await u.sendText('/help');
    await eventually('the user is marked unreachable', async () => (await h.app.store.get(912))!.unreachableSince !== undefined);
    expect(h.emu.messages(912).filter((m) => m.text?.includes('What I can do'))).toHaveLength(0);
    h.emu.blockBot(912, false);
    await u.sendText('/help');
    await u.waitForText('What I can do');
    expect((await h.app.store.get(912))!.unreachableSince).toBeUndefined();
  });
});

describe('secrets', () => {
  it('never writes a mnemonic, registration code, generated password or key to the log', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-log-'));
    const log = createLogger({ dataDir, level: 'trace', stdout: false });
    h = await startHarness({ dataDir, log });
    const u = h.emu.user({ id: 921 });
    const code = 'SECRETcode0123456789abcdefghijkl';
    await fillOrder(u, { type: 'presearch', name: 'quiet', registrationCode: code });
    // mid-conversation, the code is already sealed in the user's file
    expect(await readFile(h.app.store.fileOf(921), 'utf8')).not.toContain(code);
    await confirmOrder(u);
    await payAndAwaitUp(u, 'quiet');
    const up = await deploy(u, { name: 'rpc' });
    const password = /rpcpassword: <code>([^<]+)<\/code>/.exec(up.text!)![1]!;

    await h.stop({ keepData: true });
    await closeLogger(log);
    const text = await readFile(path.join(dataDir, 'logs', 'jukebox.log'), 'utf8');
    const user = JSON.parse(await readFile(h.app.store.fileOf(921), 'utf8')) as { identity: { mnemonicSealed: string } };
    const mnemonic = new SecretBox(TEST_KEY).open(user.identity.mnemonicSealed);
    expect(text.length).toBeGreaterThan(1000); // the log did record the run
    for (const secret of [mnemonic, mnemonic.split(' ').slice(6).join(' '), code, password, TEST_KEY.toString('hex')]) {
      expect(text).not.toContain(secret);
    }
    // the user file holds them only sealed
    const raw = await readFile(h.app.store.fileOf(921), 'utf8');
    for (const secret of [mnemonic, code, password]) expect(raw).not.toContain(secret);
  });
});

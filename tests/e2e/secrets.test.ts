/**
 * Secrets never leave their place: a full session through the real bot (users and their wallets,
 * a Dash node with a generated RPC password, a Presearch node with its registration code, a Dash
 * masternode with its BLS key, a withdrawal) logged at debug level to a file; then the log, and
 * every message the bot sent, are searched for every secret the session created. The one message
 * allowed to show a generated secret is the deployment's "is up" message. Every file the bot
 * wrote is owner-only.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir, readFile, stat } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROFILES } from '../../src/catalog/index.js';
import { createIdentity } from '../../src/chain/identity.js';
import { SecretBox } from '../../src/chain/secret-box.js';
import { UNITS_PER_TFT } from '../../src/domain/money.js';
import { closeLogger, createLogger, type Logger } from '../../src/log.js';
import type { EmulatedUser } from '../../src/telegram/emulator/index.js';
import { deploy, deployProfile } from '../helpers/chat.js';
import { startHarness, TEST_KEY, type Harness } from '../helpers/harness.js';

const REGISTRATION_CODE = 'Qx7RegistrationCodeSecret9876543'; // 32 characters
const BLS_KEY = '2b9e4f6a1c3d5e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f'.slice(0, 64);
const COLLATERAL = `${'cd'.repeat(32)}-0`;

let h: Harness;
let log: Logger;
let dataDir: string;
let umask: number;

beforeAll(async () => {
  umask = process.umask(0o077); // as main.ts does
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-secrets-'));
  log = createLogger({ dataDir, level: 'debug', stdout: false });
  h = await startHarness({ dataDir, log });
});
afterAll(async () => {
  await h?.stop();
  await rm(dataDir, { recursive: true, force: true });
  process.umask(umask);
});

async function deployMasternode(u: EmulatedUser, name: string): Promise<void> {
  const p = PROFILES.find((x) => x.id === 'dash-masternode')!;
  await deployProfile(u, p, name, { masternodeblsprivkey: BLS_KEY, collateralOutpoint: COLLATERAL });
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [dir];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

describe('secrets', () => {
  it('appear in no log line and in no message but the one meant to show them; files are owner-only', async () => {
    const alice = h.emu.user({ id: 951, first_name: 'Alice' });
    const bob = h.emu.user({ id: 952, first_name: 'Bob' });
    await bob.sendText('/start');
    await bob.waitForText('Welcome to Jukebox');

    // one deployment each: a wallet that paid for one covers the next, and the tests pay by prompt
    const carol = h.emu.user({ id: 953, first_name: 'Carol' });
    const dave = h.emu.user({ id: 954, first_name: 'Dave' });
    await deploy(alice, { name: 'dashfull', type: 'dash' });
    await deploy(carol, { name: 'search', type: 'presearch', registrationCode: REGISTRATION_CODE });
    await deployMasternode(dave, 'master');
    await h.app.worker.idle();
    for (const [u, name] of [[alice, 'dashfull'], [carol, 'search'], [dave, 'master']] as const) {
      await u.sendText(`/status ${name}`);
      await u.waitForText(`<b>${name}</b>`);
    }
    // a mistake that gets logged at debug and answered: a bad input, then /cancel
    await alice.sendText('/deploy presearch');
    await alice.waitForText('How many');
    await alice.sendText('/cancel');
    await alice.waitForText('Cancelled');

    // a withdrawal
    const address = (await h.app.store.get(951))!.identity.address;
    await h.grid.fund(address, 500 * UNITS_PER_TFT);
    const dest = (await createIdentity()).address;
    await alice.sendText('/wallet');
    await alice.waitForText('Your Jukebox wallet');
    await alice.press('💸 Withdraw');
    await alice.waitForText('Where should the TFT go?');
    await alice.sendText(dest);
    await alice.waitForText('How much should I send');
    await alice.sendText('10');
    await alice.waitForText('Please check your withdrawal');
    await alice.press(/Withdraw 10/);
    await alice.waitForText('💸 Sent', { timeoutMs: 15_000 });
    await h.app.worker.idle();
    await h.app.outbox.drain();

    // every secret the session created, read back from the store with the master key
    const box = new SecretBox(TEST_KEY);
    const CHATS = [951, 952, 953, 954];
    const users = await Promise.all(CHATS.map(async (id) => (await h.app.store.get(id))!));
    const secrets = new Map<string, string>([
      ...users.map((u) => [`mnemonic of ${u.id}`, box.open(u.identity.mnemonicSealed)] as [string, string]),
      ['registration code', REGISTRATION_CODE],
      ['BLS key', BLS_KEY],
      ['master key', TEST_KEY.toString('hex')],
    ]);
    /** generated secret → the chat and deployment whose "is up" message may show it */
    const generated = new Map<string, { chat: number; name: string }>();
    for (const u of users) {
      for (const d of u.deployments) {
        for (const [k, v] of Object.entries(h.app.services.deployments.generatedSecrets(d))) {
          if (v.length < 8) continue; // rpcuser "dash" and the like are names, not secrets
          secrets.set(`${d.name} ${k}`, v);
          generated.set(v, { chat: u.id, name: d.name });
        }
      }
    }
    expect([...generated.values()].map((g) => g.name)).toContain('dashfull');
    // the stored form never holds them in clear either
    const stored = JSON.stringify(users);
    for (const [what, value] of secrets) expect({ what, inStore: stored.includes(value) }).toEqual({ what, inStore: false });

    await h.stop({ keepData: true });
    await closeLogger(log);
    const logText = await readFile(path.join(dataDir, 'logs', 'jukebox.log'), 'utf8');
    expect(logText.split('\n').length).toBeGreaterThan(20); // it did log the session, at debug
    expect(logText).toContain('"level":20');
    for (const [what, value] of secrets) expect({ what, inLog: logText.includes(value) }).toEqual({ what, inLog: false });

    for (const chat of CHATS) {
      const said = h.emu
        .chatState(chat)
        .events.filter((e) => e.type === 'send' || e.type === 'edit' || e.type === 'callback_answer')
        .map((e) => [e.message?.text, e.message?.caption, e.message?.document?.bytes ? Buffer.from(e.message.document.bytes).toString('utf8') : undefined, e.callbackAnswer?.text].filter(Boolean).join('\n'));
      for (const [what, value] of secrets) {
        const showing = said.filter((t) => t.includes(value));
        const allowed = generated.get(value);
        if (allowed && chat === allowed.chat) {
          expect({ what, shown: showing.length }).toEqual({ what, shown: 1 });
          expect(showing[0]).toContain(`${allowed.name}</b> is up`);
        } else {
          expect({ what, chat, shown: showing.length }).toEqual({ what, chat, shown: 0 });
        }
      }
    }

    // owner-only: every file and directory the bot made under its data dir
    const loose = [];
    for (const f of await filesUnder(dataDir)) {
      const mode = (await stat(f)).mode;
      if ((mode & 0o077) !== 0) loose.push(`${path.relative(dataDir, f) || '.'} ${(mode & 0o777).toString(8)}`);
    }
    expect(loose).toEqual([]);
  }, 90_000);
});

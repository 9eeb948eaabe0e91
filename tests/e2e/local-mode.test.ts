/**
 * Local mode as a newcomer meets it: the real process with no settings, talked to through its
 * terminal chat (stdin/stdout). Buttons are numbered choices, the payment QR is drawn, the simulated
 * payment deploys the node, and Ctrl-D ends the process cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'jukebox-local-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** The terminal as a stream of text, with a way to wait for something to appear after a point. */
class Screen {
  text = '';
  private waiters: { from: number; match: RegExp; resolve: (i: number) => void }[] = [];
  constructor(child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => {
      this.text += d.toString('utf8').replace(ANSI, '');
      this.waiters = this.waiters.filter((w) => {
        const i = this.text.slice(w.from).search(w.match);
        if (i >= 0) w.resolve(w.from + i);
        return i < 0;
      });
    });
  }
  /** Resolves with the position of the first match written after `from` (default: now). */
  waitFor(match: RegExp, from = this.text.length, timeoutMs = 20_000): Promise<number> {
    const i = this.text.slice(from).search(match);
    if (i >= 0) return Promise.resolve(from + i);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`screen never showed ${match}; it shows:\n${this.text.slice(-1500)}`)), timeoutMs);
      this.waiters.push({ from, match, resolve: (n) => (clearTimeout(t), resolve(n)) });
    });
  }
}

describe('npm start with no settings', () => {
  it('runs the whole product in the terminal, from /deploy to a running node', async () => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      METRICS: 'off', // test processes run side by side: they would all want port 9464
      DATA_DIR: dataDir,
      SIM_DEPLOY_SECONDS: '0.2',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env });
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    const screen = new Screen(child);
    const type = async (line: string, expect: RegExp) => {
      const from = screen.text.length;
      child.stdin.write(`${line}\n`);
      return screen.waitFor(expect, from);
    };

    await screen.waitFor(/Jukebox: local mode/);
    await screen.waitFor(/TELEGRAM_BOT_TOKEN=<token from @BotFather> npm start/, 0);
    expect(screen.text).toMatch(/master key generated for local use/);

    await type('/deploy', /\[1\] Dash full node\s+\[2\] Dash masternode/);
    await type('1', /How many Dash full nodes\?/);
    await type('1', /Where should the 1 node run\?/);
    await type('1', /Give it a name/); // [1] is Anywhere
    await type('localdash', /Please check your order/);
    const qrAt = await type('1', /Simulate payment/); // [1] is Confirm
    const drawn = screen.text.slice(Math.max(0, qrAt - 3000));
    expect(drawn).toMatch(/TFT:5\w+\?amount=\d+&sender=me/);
    expect(drawn).toMatch(/[▀▄█]{7}/); // the QR code, in block characters
    await type('2', /localdash is up/); // [2] is Simulate payment

    child.stdin.end(); // Ctrl-D
    expect(await exit).toBe(0);
  }, 60_000);
});

describe('npm start with a real grid that cannot be reached', () => {
  it('stops at once with a message naming the network and the URL, and never the mnemonic', async () => {
    const mnemonic = 'legal winner thank year wave sausage worth useful legal winner thank yellow';
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      METRICS: 'off', // test processes run side by side: they would all want port 9464
      // its own data: the first test's is sealed with its local key, which this one is not given
      DATA_DIR: path.join(dataDir, 'real-grid'),
      LOCAL_CHAT: 'off',
      GRID_NETWORK: 'dev',
      GRID_MNEMONIC: mnemonic,
      // nothing listens on port 9 of loopback: the connection is refused at once
      GRID_SUBSTRATE_URL: 'ws://127.0.0.1:9',
      JUKEBOX_MASTER_KEY: 'ab'.repeat(32),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(out).toContain('Jukebox cannot reach the ThreeFold Grid (devnet)');
    expect(out).toContain('ws://127.0.0.1:9');
    expect(out).not.toContain('sausage');
  }, 60_000);
});

describe('npm start with a master key the data was not sealed with', () => {
  it('refuses to start, naming both key fingerprints, and touches nothing', async () => {
    const dir = path.join(dataDir, 'other-key');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'key.id'), 'b2b2b2b2b2b2b2b2\n');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATA_DIR: dir,
      LOCAL_CHAT: 'off',
      METRICS: 'off',
      JUKEBOX_MASTER_KEY: 'ab'.repeat(32),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env });
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(out).toMatch(/the master key \(fingerprint [0-9a-f]+\) is not the one .* is sealed with \(b2b2b2b2b2b2b2b2\)/);
    expect(await readFile(path.join(dir, 'key.id'), 'utf8')).toBe('b2b2b2b2b2b2b2b2\n');
  }, 60_000);
});

/**
 * Conversation state lives in its own small file per user (data/flows/<shard>/<id>.json), not in the
 * user's file: an answer no longer rewrites every deployment the user has. User files written before
 * still carry `flow`: such a conversation resumes, and its next step moves it out.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

const flowFile = (id: number) => path.join(h.dataDir, 'flows', String(id % 1000).padStart(3, '0'), `${id}.json`);
const userJson = async (id: number) => JSON.parse(await readFile(h.app.store.fileOf(id), 'utf8')) as Record<string, unknown>;

/** What a build from before wrote: the conversation inside the user's file, no flow file. */
async function toLegacyLayout(id: number): Promise<void> {
  const { flow } = JSON.parse(await readFile(flowFile(id), 'utf8')) as { flow: unknown };
  const u = await userJson(id);
  await writeFile(h.app.store.fileOf(id), JSON.stringify({ ...u, flow }, null, 2));
  await rm(flowFile(id));
}

describe('conversation state', () => {
  it('is written to its own file, never to the user file, and removed when the conversation ends', async () => {
    const u = h.emu.user({ id: 1501 });
    await u.sendText('/deploy');
    await u.waitForText('What would you like to deploy?');
    await u.press('Dash full node');
    await u.waitForText('How many');
    const saved = JSON.parse(await readFile(flowFile(1501), 'utf8')) as { version: number; flow: { flow: string; step: string } };
    expect(saved.version).toBe(1);
    expect(saved.flow).toMatchObject({ flow: 'deploy', step: 'count' });
    expect((await userJson(1501)).flow).toBeUndefined();

    await u.sendText('/cancel');
    await u.waitForText('Cancelled /deploy');
    expect(existsSync(flowFile(1501))).toBe(false); // the reply is sent once the state is saved
  });

  it('of a user file that still carries it resumes after a restart, and moves to its own file at the next step', async () => {
    const u = h.emu.user({ id: 1502 });
    await u.sendText('/deploy');
    await u.waitForText('What would you like to deploy?');
    await u.press('Dash full node');
    const countQ = await u.waitForText('How many');
    await toLegacyLayout(1502);
    await h.restart();

    await u.press('3', { messageId: countQ.message_id });
    await u.waitForText('Where should the 3 nodes run?');
    expect((await userJson(1502)).flow).toBeUndefined();
    expect(JSON.parse(await readFile(flowFile(1502), 'utf8'))).toMatchObject({ flow: { flow: 'deploy', data: { count: 3 } } });

    await h.restart();
    await u.sendText('anywhere');
    await u.waitForText('Give it a name');
  });

  it('of a user file that still carries it ends with /cancel, in both places', async () => {
    const u = h.emu.user({ id: 1503 });
    await u.sendText('/deploy');
    await u.waitForText('What would you like to deploy?');
    await toLegacyLayout(1503);
    await h.restart();

    await u.sendText('/cancel');
    await u.waitForText('Cancelled /deploy');
    expect((await userJson(1503)).flow).toBeUndefined();
    expect(existsSync(flowFile(1503))).toBe(false);
    await h.restart();
    await u.sendText('hello');
    await u.waitForText('Send /help'); // no conversation came back
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('smoke', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('deploys a Dash node from the chat', async () => {
    const u = h.emu.user({ id: 500, first_name: 'Ada' });
    await u.sendText('/start');
    await u.waitForText('Welcome to Jukebox, Ada');
    await u.sendText('/deploy');
    await u.waitForText('What would you like to deploy?');
    await u.press('Dash full node');
    await u.waitForText('How many');
    await u.press('1');
    await u.waitForText('Where should');
    await u.press('🎲 Anywhere');
    await u.waitForText('Give it a name');
    await u.sendText('mydash');
    const summary = await u.waitForText('Please check your order');
    expect(summary.text).toContain('mydash');
    await u.press('✅ Confirm');
    const pay = await u.waitFor((m) => m.kind === 'photo');
    expect(pay.caption).toContain('add');
    await u.press(/Simulate payment/);
    const done = await u.waitForText('is up', { timeoutMs: 15000 });
    expect(done.text).toContain('grid node');
  });
});

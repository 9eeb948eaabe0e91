/** A node type the operator takes off the menu while a user is in the middle of ordering it. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { applyCatalogOverrides } from '../../src/catalog/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  applyCatalogOverrides({});
  await h?.stop();
  h = undefined;
});

describe('a type taken off the menu', () => {
  it('lets a conversation already under way end with a clear answer, ordering nothing', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 9901 });
    await u.sendText('/deploy presearch');
    await u.waitForText('How many');
    applyCatalogOverrides({ presearch: { enabled: false } }); // the operator's catalog file, applied at the restart
    await h.restart();
    await u.press('1');
    await u.waitForText('Where should');
    await u.press('🎲 Anywhere');
    await u.waitForText('Give it a name');
    await u.sendText('late');
    await u.waitForText('registration code');
    await u.sendText('E'.repeat(32));
    const refused = await u.waitForText('is no longer offered');
    expect(refused.text).toContain('Nothing was charged');
    expect((await h.app.store.get(9901))!.deployments).toEqual([]);
  }, 30_000);
});

/** /settings through the real bot: an SSH key checked, saved, given to the VMs deployed after it, shown in /status. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { deploy } from '../helpers/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKgohXRjR97pEigtFr3tTNah4rv2EH3pmRDoJ1ee+qwE root@vm';
const FINGERPRINT = 'SHA256:PkmOdqc7BfXir36sg0dlxkKfQK6/06+1x7qr6Mzyo4M';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

describe('/settings', () => {
  it('saves a valid key after refusing a broken one, and the next VM gets it', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 601 });
    await u.sendText('/settings');
    await u.waitForText('SSH key: none');
    await u.press('🔑 Add an SSH key');
    await u.waitForText('Paste your SSH <b>public</b> key');
    await u.sendText(KEY.slice(0, 50));
    await u.waitForText('part of it is missing');
    await u.sendText(KEY);
    const saved = await u.waitForText('Saved your ssh-ed25519 key');
    expect(saved.text).toContain(FINGERPRINT);
    expect((await h.app.store.get(601))!.settings.sshKey).toBe(KEY);

    await deploy(u, { name: 'withkey', type: 'presearch', registrationCode: 'A'.repeat(32) });
    const user = (await h.app.store.get(601))!;
    const node = user.deployments[0]!.nodes[0]!;
    const [vm] = await h.grid.getVms({ address: user.identity.address, mnemonic: '' }, user.deployments[0]!.projectName, node.gridName);
    expect(vm!.env?.SSH_KEY).toBe(KEY);
    await u.sendText('/status withkey');
    await u.waitForText(`ssh root@${node.publicIp}`);
  }, 30_000);

  it('removes the key, and /status then says how to add one', async () => {
    h = await startHarness();
    const u = h.emu.user({ id: 602 });
    await u.sendText('/settings');
    await u.waitForText('SSH key: none');
    await u.sendText(KEY); // pasting straight away works too
    await u.waitForText('Saved your ssh-ed25519 key');
    await u.sendText('/settings');
    await u.waitForText(FINGERPRINT);
    await u.press('🗑 Remove the SSH key');
    await u.waitForText('SSH key removed');
    expect((await h.app.store.get(602))!.settings.sshKey).toBeUndefined();
    await deploy(u, { name: 'nokey', type: 'presearch', registrationCode: 'B'.repeat(32) });
    await u.sendText('/status nokey');
    await u.waitForText('add your SSH key with /settings');
  }, 30_000);
});

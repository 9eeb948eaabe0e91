/**
 * Where nodes go, through the real bot: a city or a farm chosen in /deploy, the planner's
 * suggestions at the summary (the one pressed is the one deployed), and an IPv4 profile refused
 * with the requirement that failed, and offered places that can take it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EmulatedUser } from '../../src/telegram/emulator/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

const deploymentOf = async (id: number) => (await h.app.store.get(id))!.deployments[0]!;

async function upTo(u: EmulatedUser, what: string, count: string): Promise<void> {
  await u.sendText(`/deploy ${what}`);
  await u.waitForText('How many');
  await u.press(count);
  await u.waitForText('Where should');
}

describe('placement', () => {
  it('puts every node in the city chosen, on the nodes of the suggestion pressed', async () => {
    const u = h.emu.user({ id: 801 });
    await upTo(u, 'dash', '2');
    await u.press(/^🏙 A city/);
    const cities = await u.waitForText('Which city?');
    const first = cities.reply_markup!.inline_keyboard.flat()[0]!.text; // "Ghent, Belgium (3)"
    const [city, country] = first.replace(/ \(\d+\)$/, '').split(', ');
    await u.press(first);
    await u.waitForText('Give it a name');
    await u.sendText('citizen');
    const summary = await u.waitForText('Please check your order');
    expect(summary.text).toContain(`Where: ${city}, ${country}`);
    const labels = summary.reply_markup!.inline_keyboard.flat().map((b) => b.text);
    const other = labels.find((l) => /^(💸|🏅)/.test(l));
    await u.press(other ?? '✅ Confirm');
    await u.waitFor((m) => m.kind === 'photo');
    const d = await deploymentOf(801);
    expect(d.placement).toEqual({ kind: 'city', country, city });
    expect(d.certifiedOnly ?? false).toBe(other?.startsWith('🏅') ?? false); // kept for retries and replacements
    await u.press(/Simulate payment/);
    await u.waitForText('citizen</b> is up', { timeoutMs: 15_000 });
    const up = await deploymentOf(801);
    expect(up.nodes.map((n) => n.nodeId)).toEqual(d.plan!.map((n) => n.nodeId)); // the suggestion pressed
    expect(new Set(up.nodes.map((n) => n.nodeId)).size).toBe(2);
    for (const n of up.nodes) expect([n.city, n.country]).toEqual([city, country]);
  }, 30_000);

  it('keeps every node on the farm chosen', async () => {
    const u = h.emu.user({ id: 802 });
    await upTo(u, 'dash', '2');
    await u.press(/^🚜 A farm/);
    const farms = await u.waitForText('Which farm?');
    const first = farms.reply_markup!.inline_keyboard.flat()[0]!.text;
    await u.press(first);
    await u.waitForText('Give it a name');
    await u.sendText('farmer');
    await u.waitForText('Please check your order');
    await u.press('✅ Confirm');
    await u.waitFor((m) => m.kind === 'photo');
    await u.press(/Simulate payment/);
    await u.waitForText('farmer</b> is up', { timeoutMs: 15_000 });
    const d = await deploymentOf(802);
    expect(d.placement.kind).toBe('farm');
    const farmId = d.placement.kind === 'farm' ? d.placement.farmId : -1;
    expect(first).toContain(`(${farmId})`);
    for (const n of d.nodes) expect(n.farmId).toBe(farmId);
  }, 30_000);

  it('says a farm has no free public IPv4 left, and offers places that can take the node', async () => {
    const u = h.emu.user({ id: 803 });
    await upTo(u, 'presearch', '1');
    await u.press(/^🚜 A farm/);
    const farms = await u.waitForText('Which farm?');
    const first = farms.reply_markup!.inline_keyboard.flat()[0]!.text;
    const farmId = Number(/\((\d+)\)/.exec(first)![1]);
    await u.press(first);
    await u.waitForText('Give it a name');

    // meanwhile someone else takes every free public IPv4 of that farm
    const squatter = { address: (await h.app.services.users.ensure({ id: 899 }, 899)).user.identity.address, mnemonic: '' };
    await h.grid.ensureTwin(squatter);
    await h.grid.fund(squatter.address, 1_000_000_000);
    const nodes = await h.grid.findNodes({ farmId, free: { cru: 1, mruMb: 512 } });
    let taken = 0;
    for (let free = nodes[0]!.publicIps.free; free > 0; free--, taken++) {
      const node = nodes[taken % nodes.length]!;
      await h.grid.deployVms(squatter, {
        projectName: 'squat',
        name: `ip${taken}`,
        machines: [{ name: `ip${taken}`, nodeId: node.nodeId, cpu: 1, memoryMb: 256, rootfsGb: 1, disks: [], flist: 'x', entrypoint: '', env: {}, publicIp: true, mycelium: false }],
      });
    }
    expect((await h.grid.findNodes({ farmId }))[0]!.publicIps.free).toBe(0);

    await u.sendText('ipless');
    await u.waitForText('registration code');
    await u.sendText('D'.repeat(32));
    const refused = await u.waitForText("I can't place this order");
    expect(refused.text).toMatch(new RegExp(`farm .*\\(${farmId}\\) has .*free public IPv4|no node in farm .*\\(${farmId}\\) has a free public IPv4`));
    const alternative = refused.reply_markup!.inline_keyboard.flat().find((b) => b.text.startsWith('📍') && !b.text.includes('Choose another'));
    expect(alternative).toBeDefined();
    await u.press(alternative!.text);
    await u.waitForText('Please check your order');
  }, 30_000);
});

/** The user's side of common conversations, for tests that need an order rather than test the flow. */
import type { NodeProfile } from '../../src/catalog/index.js';
import type { EmulatedUser, EmuMessage } from '../../src/telegram/emulator/index.js';

export interface OrderOptions {
  name: string;
  type?: 'dash' | 'presearch';
  count?: string;
  registrationCode?: string;
}

/** /deploy up to the order summary; resolves with the summary message. */
export async function fillOrder(u: EmulatedUser, o: OrderOptions): Promise<EmuMessage> {
  await u.sendText(`/deploy ${o.type ?? 'dash'}`);
  await u.waitForText('How many');
  await u.press(o.count ?? '1');
  await u.waitForText('Where should');
  await u.press('🎲 Anywhere');
  await u.waitForText('Give it a name');
  await u.sendText(o.name);
  if (o.registrationCode !== undefined) {
    await u.waitForText('registration code');
    await u.sendText(o.registrationCode);
  }
  return u.waitForText('Please check your order');
}

/** Confirms the summary; resolves with the payment prompt (a photo). */
export async function confirmOrder(u: EmulatedUser): Promise<EmuMessage> {
  await u.press('✅ Confirm');
  return u.waitFor((m) => m.kind === 'photo');
}

/** Pays with the simulated grid's button; resolves with the message saying the deployment is up. */
export async function payAndAwaitUp(u: EmulatedUser, name: string): Promise<EmuMessage> {
  await u.press(/Simulate payment/);
  return u.waitForText(`${name}</b> is up`, { timeoutMs: 15_000 });
}

export async function deploy(u: EmulatedUser, o: OrderOptions): Promise<EmuMessage> {
  await fillOrder(u, o);
  await confirmOrder(u);
  return payAndAwaitUp(u, o.name);
}

/**
 * /deploy of one node of a catalog profile, its inputs typed from `values`, paid with the simulated
 * grid's button; resolves with the message saying it is up. `size` picks a size where the profile has several.
 */
export async function deployProfile(u: EmulatedUser, p: NodeProfile, name: string, values: Record<string, string>, size?: RegExp): Promise<EmuMessage> {
  await u.sendText(`/deploy ${p.id}`);
  await u.waitForText('How many');
  await u.press('1');
  if (p.sizes.length > 1) {
    await u.waitForText(`Which <b>${p.title}</b>?`);
    await u.press(size ?? /./);
  }
  await u.waitForText('Where should');
  await u.press('🎲 Anywhere');
  await u.waitForText('Give it a name');
  await u.sendText(name);
  for (const input of p.inputs) {
    await u.waitForText(input.prompt.slice(0, 40));
    await u.sendText(values[input.key]!);
  }
  await u.waitForText('Please check your order');
  await confirmOrder(u);
  return payAndAwaitUp(u, name);
}

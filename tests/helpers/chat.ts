/** The user's side of common conversations, for tests that need an order rather than test the flow. */
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

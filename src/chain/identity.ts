/**
 * Users' intermediate identities: a mnemonic made with @polkadot's tools and the address TFChain
 * gives it (sr25519, SS58 prefix 42), the same derivation grid_client uses.
 */
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, mnemonicGenerate, mnemonicValidate } from '@polkadot/util-crypto';
import type { Identity } from '../grid/port.js';

export const TFCHAIN_SS58 = 42;

let ready: Promise<boolean> | undefined;
export function cryptoReady(): Promise<boolean> {
  ready ??= cryptoWaitReady();
  return ready;
}

export function addressOf(mnemonic: string): string {
  if (!mnemonicValidate(mnemonic)) throw new Error('not a valid BIP39 mnemonic');
  return new Keyring({ type: 'sr25519', ss58Format: TFCHAIN_SS58 }).addFromUri(mnemonic).address;
}

export async function createIdentity(): Promise<Identity> {
  await cryptoReady();
  const mnemonic = mnemonicGenerate(12);
  return { mnemonic, address: addressOf(mnemonic) };
}

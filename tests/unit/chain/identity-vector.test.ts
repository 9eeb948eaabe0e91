/**
 * The identity derivation against a published vector: Substrate's dev phrase, with no derivation
 * path, is the account `DEV_ADDRESS` of sp-core (subkey inspect prints the same), mini secret
 * `0xfac7…479e` and sr25519 public key `0x46eb…b47a` (schnorrkel's and sr25519 C bindings' tests).
 * Checked three ways: src/chain/identity.ts, grid_client's own path (tfchain_client's Client and
 * grid_client's toHexSeed, as GridClient.connect() builds its keypair), and the parts that do not
 * need sr25519 recomputed here with node:crypto (BIP39 seed, SS58 encoding).
 */
import { createHash, pbkdf2Sync } from 'node:crypto';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { mnemonicToMiniSecret, sr25519PairFromSeed } from '@polkadot/util-crypto';
import { addressOf, cryptoReady, TFCHAIN_SS58 } from '../../../src/chain/identity.js';

const DEV_PHRASE = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk';
const DEV_ADDRESS = '5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV';
const DEV_SEED = '0xfac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e';
const DEV_PUBLIC = '0x46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a';
/** the same key under other settings: what a wrong derivation would give */
const DEV_ADDRESS_POLKADOT = '12bzRJfh7arnnfPPUZHeJUaE62QLEwhK48QnH9LXeK2m1iZU'; // SS58 prefix 0
const ALICE_ADDRESS = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'; // DEV_PHRASE//Alice

const require = createRequire(import.meta.url);
// grid_client's CJS build loads @polkadot's CJS copy next to the ESM one: expected
process.env.POLKADOTJS_DISABLE_ESM_CJS_WARNING = '1';

/** SS58 with a one-byte prefix, written out: blake2b-512("SS58PRE" ‖ prefix ‖ key), 2 checksum bytes, base58. */
function ss58(publicKeyHex: string, prefix: number): string {
  const body = Buffer.concat([Buffer.from([prefix]), Buffer.from(publicKeyHex.slice(2), 'hex')]);
  const sum = createHash('blake2b512').update(Buffer.concat([Buffer.from('SS58PRE'), body])).digest();
  const bytes = Buffer.concat([body, sum.subarray(0, 2)]);
  const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  let n = BigInt(`0x${bytes.toString('hex')}`);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = `1${out}`;
  }
  return out;
}

beforeAll(async () => {
  await cryptoReady();
});

describe('identity derivation vector', () => {
  it('addressOf gives the published TFChain address of the dev phrase', () => {
    expect(TFCHAIN_SS58).toBe(42);
    expect(addressOf(DEV_PHRASE)).toBe(DEV_ADDRESS);
  });

  it('agrees with the published seed and public key, the SS58 part recomputed independently', () => {
    // BIP39 entropy (bitcoinjs' bip39, the package grid_client validates mnemonics with), then
    // Substrate's mini secret: PBKDF2-HMAC-SHA512(entropy, "mnemonic", 2048), first 32 bytes
    const bip39 = require('bip39') as { mnemonicToEntropy(m: string): string };
    const entropy = Buffer.from(bip39.mnemonicToEntropy(DEV_PHRASE), 'hex');
    const seed = pbkdf2Sync(entropy, 'mnemonic', 2048, 64, 'sha512').subarray(0, 32);
    expect(`0x${seed.toString('hex')}`).toBe(DEV_SEED);
    expect(u8aToHex(mnemonicToMiniSecret(DEV_PHRASE))).toBe(DEV_SEED);

    // sr25519 seed → public key (schnorrkel's published vector)
    expect(u8aToHex(sr25519PairFromSeed(seed).publicKey)).toBe(DEV_PUBLIC);

    expect(ss58(DEV_PUBLIC, 42)).toBe(DEV_ADDRESS);
    expect(ss58(DEV_PUBLIC, 0)).toBe(DEV_ADDRESS_POLKADOT);
  });

  it("matches grid_client's own derivation", async () => {
    const { Client } = require('@threefold/tfchain_client') as {
      Client: new (o: { url: string; mnemonicOrSecret: string; keypairType: string }) => {
        address: string;
        loadKeyPairOrSigner(): Promise<void>;
      };
    };
    const { toHexSeed } = require('@threefold/grid_client') as { toHexSeed(m: string): string };
    // GridClient hands tfchain_client the hex seed of the mnemonic; activateAccountAndCreateTwin the mnemonic itself
    expect(toHexSeed(DEV_PHRASE)).toBe(DEV_SEED);
    for (const secret of [DEV_PHRASE, toHexSeed(DEV_PHRASE)]) {
      const client = new Client({ url: 'wss://tfchain.dev.grid.tf/ws', mnemonicOrSecret: secret, keypairType: 'sr25519' });
      await client.loadKeyPairOrSigner(); // derives the keypair only; no connection
      expect(client.address).toBe(DEV_ADDRESS);
    }
  });

  it('a wrong derivation gives another address', () => {
    const ed = new Keyring({ type: 'ed25519', ss58Format: 42 }).addFromUri(DEV_PHRASE).address;
    const otherPrefix = new Keyring({ type: 'sr25519', ss58Format: 0 }).addFromUri(DEV_PHRASE).address;
    const alice = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(`${DEV_PHRASE}//Alice`).address;
    expect(ed).not.toBe(DEV_ADDRESS);
    expect(otherPrefix).toBe(DEV_ADDRESS_POLKADOT);
    expect(alice).toBe(ALICE_ADDRESS);
    expect(new Set([addressOf(DEV_PHRASE), ed, otherPrefix, alice]).size).toBe(4);
  });

  it('refuses what is not a BIP39 mnemonic', () => {
    expect(() => addressOf('bottom drive obey lake curtain smoke basket hold race lonely fit fit')).toThrow(/mnemonic/);
  });
});

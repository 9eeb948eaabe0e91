/** Secrets at rest (AES-256-GCM with the master key) and users' chain identities. */
import { describe, it, expect, beforeAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { u8aToHex } from '@polkadot/util';
import { decodeAddress, mnemonicValidate } from '@polkadot/util-crypto';
import { SecretBox } from '../../../src/chain/secret-box.js';
import { addressOf, createIdentity, cryptoReady } from '../../../src/chain/identity.js';

const MNEMONIC = 'legal winner thank year wave sausage worth useful legal winner thank yellow';

/** Flips one bit of one base64url part of `v1:<iv>.<tag>.<ct>`. */
function tamper(sealed: string, part: 0 | 1 | 2, byte = 0): string {
  const parts = sealed.slice(3).split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  const i = byte % bytes.length;
  bytes[i] = bytes[i]! ^ 0x01;
  parts[part] = bytes.toString('base64url');
  return `v1:${parts.join('.')}`;
}

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('opens what it sealed, including unicode and the empty string', () => {
    for (const text of [MNEMONIC, 'pässwörd 🔑', '', 'x'.repeat(10_000)]) {
      expect(box.open(box.seal(text))).toBe(text);
    }
  });

  it('the sealed form has the documented shape and never contains the plaintext', () => {
    const sealed = box.seal(MNEMONIC);
    expect(sealed).toMatch(/^v1:[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain(MNEMONIC);
    expect(sealed).not.toContain(Buffer.from(MNEMONIC).toString('base64url').slice(0, 16));
  });

  it('sealing the same text twice gives different results (random IV), both of which open', () => {
    const a = box.seal(MNEMONIC);
    const b = box.seal(MNEMONIC);
    expect(a).not.toBe(b);
    expect(a.split('.')[0]).not.toBe(b.split('.')[0]); // the IVs differ
    expect(box.open(a)).toBe(MNEMONIC);
    expect(box.open(b)).toBe(MNEMONIC);
  });

  it('a box with another key cannot open it', () => {
    const sealed = box.seal(MNEMONIC);
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow();
  });

  it.each([
    [0, 'the IV'],
    [1, 'the authentication tag'],
    [2, 'the ciphertext'],
  ] as const)('any change to part %i (%s) is detected', (part, _name) => {
    const sealed = box.seal(MNEMONIC);
    const len = Buffer.from(sealed.slice(3).split('.')[part]!, 'base64url').length;
    for (let i = 0; i < len; i++) expect(() => box.open(tamper(sealed, part, i))).toThrow();
  });

  it('a truncated or extended ciphertext is detected', () => {
    const sealed = box.seal(MNEMONIC);
    const [iv, tag, ct] = sealed.slice(3).split('.') as [string, string, string];
    const shorter = Buffer.from(ct, 'base64url').subarray(0, -1).toString('base64url');
    const longer = Buffer.concat([Buffer.from(ct, 'base64url'), Buffer.from([0])]).toString('base64url');
    expect(() => box.open(`v1:${iv}.${tag}.${shorter}`)).toThrow();
    expect(() => box.open(`v1:${iv}.${tag}.${longer}`)).toThrow();
  });

  it('refuses strings that are not sealed secrets', () => {
    expect(() => box.open(MNEMONIC)).toThrow('not a sealed secret');
    expect(() => box.open('v2:a.b.c')).toThrow('not a sealed secret');
  });

  it('refuses a master key that is not 32 bytes', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow('32 bytes');
    expect(() => new SecretBox(Buffer.alloc(0))).toThrow('32 bytes');
  });

  it('keeps its own copy of the key: wiping the caller buffer does not break it', () => {
    const key = randomBytes(32);
    const b = new SecretBox(key);
    const sealed = b.seal('hello');
    key.fill(0);
    expect(b.open(sealed)).toBe('hello');
  });
});

describe('identity', () => {
  beforeAll(async () => {
    await cryptoReady();
  });

  it('createIdentity gives a valid 12-word mnemonic whose address is the one returned', async () => {
    const id = await createIdentity();
    expect(id.mnemonic.split(' ')).toHaveLength(12);
    expect(mnemonicValidate(id.mnemonic)).toBe(true);
    expect(addressOf(id.mnemonic)).toBe(id.address);
    // SS58 with prefix 42 ("substrate generic", as TFChain uses): addresses start with 5
    expect(id.address).toMatch(/^5[1-9A-HJ-NP-Za-km-z]{47}$/);
  });

  it('two identities are different', async () => {
    const [a, b] = await Promise.all([createIdentity(), createIdentity()]);
    expect(a.mnemonic).not.toBe(b.mnemonic);
    expect(a.address).not.toBe(b.address);
  });

  it('derives the documented sr25519 / ss58-42 address of the Substrate dev phrase', () => {
    // Substrate's DEV_PHRASE without derivation path. Public key as published by sp_core / schnorrkel
    // test vectors (and `subkey inspect`); the address is its SS58 encoding with prefix 42.
    // (5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty is //Bob, a derivation, not this key.)
    const devPhrase = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk';
    const expectedAddress = '5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV';
    const expectedPublicKey = '0x46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a';
    expect(u8aToHex(decodeAddress(expectedAddress))).toBe(expectedPublicKey); // the two constants agree
    expect(addressOf(devPhrase)).toBe(expectedAddress);
  });

  it('refuses a mnemonic with a bad checksum or an unknown word', () => {
    expect(() => addressOf('legal winner thank year wave sausage worth useful legal winner thank thank')).toThrow(
      'not a valid BIP39 mnemonic',
    );
    expect(() => addressOf('bottom drive obey lake curtain smoke basket hold race lonely fit walkx')).toThrow(
      'not a valid BIP39 mnemonic',
    );
  });
});

/**
 * Encryption at rest with the operator's master key (AES-256-GCM). Every mnemonic and every secret
 * input is stored as `v1:<iv>.<tag>.<ciphertext>` (base64url), never in the clear.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** What a sealed value looks like; anything else in a file is not ours to open. */
export const SEALED_RE = /^v1:([\w-]+)\.([\w-]+)\.([\w-]*)$/;

/** A short public name for a key (not the key: a one-way hash of it), written into files it sealed. */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update('jukebox master key\0').update(key).digest('hex').slice(0, 16);
}

export class SecretBox {
  private readonly key: Buffer;
  /** the key's fingerprint: user files record which key sealed them (see rotate-key.ts) */
  readonly keyId: string;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the master key must be 32 bytes');
    this.key = Buffer.from(key);
    this.keyId = keyFingerprint(this.key);
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1:${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${ct.toString('base64url')}`;
  }

  open(sealed: string): string {
    const m = SEALED_RE.exec(sealed);
    if (!m) throw new Error('not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(m[1]!, 'base64url'));
    decipher.setAuthTag(Buffer.from(m[2]!, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(m[3]!, 'base64url')), decipher.final()]).toString('utf8');
  }
}

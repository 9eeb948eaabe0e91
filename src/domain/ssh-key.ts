/**
 * SSH public keys as users paste them ("ssh-ed25519 AAAA… me@laptop"): parsed and checked the way
 * sshd would read them, so a key the VM cannot use is refused in the chat, not discovered at login.
 */
import { createHash } from 'node:crypto';

const TYPES: Record<string, { minBlob: number }> = {
  'ssh-ed25519': { minBlob: 51 },
  'sk-ssh-ed25519@openssh.com': { minBlob: 51 },
  'ecdsa-sha2-nistp256': { minBlob: 104 },
  'ecdsa-sha2-nistp384': { minBlob: 136 },
  'ecdsa-sha2-nistp521': { minBlob: 172 },
  'sk-ecdsa-sha2-nistp256@openssh.com': { minBlob: 104 },
  // 2048-bit RSA at least: shorter keys are refused by current OpenSSH
  'ssh-rsa': { minBlob: 270 },
};
const MAX_BLOB = 16_384;

export type SshKeyResult = { ok: true; key: string; type: string; fingerprint: string } | { ok: false; error: string };

/** `SHA256:…` as `ssh-keygen -l` prints it. */
function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function parseSshKey(text: string): SshKeyResult {
  const parts = text.trim().split(/\s+/);
  const [type, b64, ...rest] = parts;
  if (!type || !b64) return { ok: false, error: 'That is not an SSH public key. It looks like <code>ssh-ed25519 AAAA… you@laptop</code>: the contents of ~/.ssh/id_ed25519.pub.' };
  if (/PRIVATE KEY/.test(text)) return { ok: false, error: 'That is a <b>private</b> key: never share it. Send the public key, the .pub file.' };
  const rule = TYPES[type];
  // the error is HTML: what the user typed is escaped, or a '<' in it makes Telegram refuse the whole reply
  const shown = type.slice(0, 40).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  if (!rule) return { ok: false, error: `“${shown}” is not a key type I accept (ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa).` };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length > (MAX_BLOB * 4) / 3 + 4) return { ok: false, error: 'The key data is damaged (it is not base64). Copy the whole line again.' };
  const blob = Buffer.from(b64, 'base64');
  // the blob starts with its own type as a length-prefixed string: a truncated or mixed-up key fails here
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (len < 0 || 4 + len > blob.length || blob.subarray(4, 4 + len).toString('latin1') !== type) {
    return { ok: false, error: 'The key data does not match its type: part of it is missing or changed. Copy the whole line again.' };
  }
  if (blob.length < rule.minBlob) {
    return { ok: false, error: type === 'ssh-rsa' ? 'That RSA key is too short: use at least 2048 bits, or better an ed25519 key.' : 'That key is too short: part of it is missing.' };
  }
  const comment = rest.join(' ');
  if (comment.length > 100 || /[\x00-\x1f\x7f]/.test(comment)) return { ok: false, error: 'The comment after the key is too long or has odd characters.' };
  return { ok: true, key: [type, b64, comment].filter(Boolean).join(' '), type, fingerprint: fingerprintOf(blob) };
}

/** The fingerprint of a key already accepted. */
export function sshFingerprint(key: string): string {
  return fingerprintOf(Buffer.from(key.split(/\s+/)[1] ?? '', 'base64'));
}

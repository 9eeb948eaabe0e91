/** SSH public keys as users paste them: accepted when sshd could use them, refused with the reason otherwise. */
import { describe, expect, it } from '@jest/globals';
import { parseSshKey, sshFingerprint } from '../../../src/domain/ssh-key.js';

// made with ssh-keygen; the fingerprints are what `ssh-keygen -lf` printed for them
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKgohXRjR97pEigtFr3tTNah4rv2EH3pmRDoJ1ee+qwE root@vm';
const ECDSA = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHC1dv6M0Qdf38izzN8s46sO2K7pekDcHw5S2DI9kL5TrcJaAITGvMWS7vlyoBRet5eAIk7lZC2y8sFOMtW8lNM= root@vm';
const RSA_3072 = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC/7DrQI9Cly/3QxESvSWevTVKYwtv3OowJuXLcaqQ33uO4iPVO6YYo/QlFEsNAyukJddpuyn81btenORatoJH1/yl54xzww0+2DAgonVHlEAgLPFIktRvHzW/p/8LpCd4bsUNF0FU8e7wothv+TzuDRQnssN5DxmJpVGw3KHgmmiyc+eHXqBlZRPGTuvOtrQCuSo/XzkdrA1l+91coU6j5wuFqL9x5zns1FoH4y4YxmDqFbDuig+wC65SNTV1HAbi99HIlbbFxy7VOmi5vshkP0Q3Y+E4G+sY1YKX9on74U3kCdoepPfaiA+n004zB8a8F7IJzl/Nk+Vyx8VZSuChdM7OTy+iyZHXvyCS4ab4cHvPpflVfwDMnb/MO/zziNfYhONX1rGgOKXcgh/J/fNehqK5U4o9zQWrBMtH0q/Quxa56sf1ZeYKbnTcQmx01QnH7SmzsZZZBapF1E/EB7i3jWqUVhNDQffDeIKIy1LVm91ccMC7QuSXG+BiciLIYt/M= root@vm';
const RSA_1024 = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDBuSk9S4yfh3iZvXQR8A48g1anyeguzYhZ1WCMcFe9aUuyG6gbsc/CTKGkJdVXMuosJKXZ1VT6jg5SVCspHoj01MsEgK11f0VMNDn01OaiE3KbQCqcVTczmqSJ6X4bIbQAIJLQ8y0tX/XeaOHCpj7UVZMjZB1eJhvI0BXYH9vzHw== root@vm';

describe('parseSshKey', () => {
  it('accepts ed25519, ecdsa and 3072-bit RSA keys, with the fingerprint ssh-keygen prints', () => {
    const ed = parseSshKey(`  ${ED25519}\n`);
    expect(ed).toEqual({ ok: true, key: ED25519, type: 'ssh-ed25519', fingerprint: 'SHA256:PkmOdqc7BfXir36sg0dlxkKfQK6/06+1x7qr6Mzyo4M' });
    expect(parseSshKey(ECDSA)).toMatchObject({ ok: true, fingerprint: 'SHA256:U3fj7H3mZ+a67kIttsy8OQ2cGY6pAlKBK5Jw8XaKaD8' });
    expect(parseSshKey(RSA_3072)).toMatchObject({ ok: true, type: 'ssh-rsa', fingerprint: 'SHA256:HnmqlWn34sabSQLA/HzUpjEQCKtnNQpsq2KlqF2aYk8' });
    expect(sshFingerprint(ED25519)).toBe('SHA256:PkmOdqc7BfXir36sg0dlxkKfQK6/06+1x7qr6Mzyo4M');
  });

  it('keeps a key without a comment as it is', () => {
    const bare = ED25519.split(' ').slice(0, 2).join(' ');
    expect(parseSshKey(bare)).toMatchObject({ ok: true, key: bare });
  });

  it.each([
    ['hello', /not an SSH public key/],
    ['-----BEGIN OPENSSH PRIVATE KEY----- abc', /private/],
    ['ssh-dss AAAAB3NzaC1kc3M=', /not a key type I accept/],
    [ED25519.replace('AAAAC3', 'AAAAC3%'), /not base64/],
    [ED25519.slice(0, 40), /missing or changed|too short/],
    [ED25519.replace('ssh-ed25519', 'ecdsa-sha2-nistp256'), /does not match its type/],
    [RSA_1024, /at least 2048 bits/],
    [`${ED25519} ${'x'.repeat(200)}`, /comment/],
  ])('refuses %#', (text, why) => {
    const r = parseSshKey(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(why);
  });
});

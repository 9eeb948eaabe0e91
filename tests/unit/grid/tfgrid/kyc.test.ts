/** The grid's KYC through grid_client's client, faked at its seam: statuses, the iDenfy link, failures in plain codes. */
import { describe, expect, it } from '@jest/globals';
import { GridError } from '../../../../src/grid/port.js';
import { IDENFY_REDIRECT, Verifications } from '../../../../src/grid/tfgrid/kyc.js';
import { silentLogger } from '../../../../src/log.js';
import { createRequire } from 'node:module';

/** grid_client's own error classes, as its KYC client throws them */
const T = createRequire(import.meta.url)('@threefold/types') as { InsufficientBalanceError: new (m: string) => Error };

const id = { address: '5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV', mnemonic: 'bottom drive obey lake curtain smoke basket hold race lonely fit walk' };

let now = 0;

function fake(answers: { status?: () => Promise<string>; token?: () => Promise<string> }) {
  const calls = { status: 0, token: 0 };
  const v = new Verifications(
    () => ({
      status: () => (calls.status++, (answers.status ?? (async () => 'VERIFIED'))()),
      getToken: () => (calls.token++, (answers.token ?? (async () => 'tok'))()),
    }),
    silentLogger,
    () => now,
  );
  return { v, calls };
}

describe('grid KYC', () => {
  it.each([
    ['VERIFIED', 'verified'],
    ['PENDING', 'pending'],
    ['REJECTED', 'rejected'],
    ['UNVERIFIED', 'unverified'],
  ])('the service’s %s reads as %s', async (raw, status) => {
    expect(await fake({ status: async () => raw }).v.status(id)).toBe(status);
  });

  it('a verified account is asked once an hour (a withdrawn verification shows within it); an unverified one every time', async () => {
    let answer = 'VERIFIED';
    const yes = fake({ status: async () => answer });
    await yes.v.status(id);
    await yes.v.status(id);
    expect(yes.calls.status).toBe(1);
    answer = 'UNVERIFIED';
    now += 61 * 60_000;
    expect(await yes.v.status(id)).toBe('unverified');
    expect(yes.calls.status).toBe(2);
    const no = fake({ status: async () => 'UNVERIFIED' });
    await no.v.status(id);
    await no.v.status(id);
    expect(no.calls.status).toBe(2);
  });

  it('the link is iDenfy’s page for a fresh session token', async () => {
    const { v, calls } = fake({ token: async () => 'pgYQX0z2T8msB64gkl' });
    expect(await v.link(id)).toBe(`${IDENFY_REDIRECT}pgYQX0z2T8msB64gkl`);
    expect(calls.token).toBe(1);
  });

  it('a failing service, an unknown status or a strange token is "unavailable", without the mnemonic', async () => {
    const down = fake({ status: async () => Promise.reject(new Error(`Failed to get authentication status for ${id.mnemonic}`)) });
    const err = await down.v.status(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GridError);
    expect((err as GridError).code).toBe('unavailable');
    expect((err as GridError).message).not.toContain('obey lake');
    await expect(fake({ status: async () => 'MAYBE' }).v.status(id)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(fake({ token: async () => '<script>' }).v.link(id)).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('a wallet without the TFT the service asks (its HTTP 402) is "insufficient_funds", so the user is told to fund it', async () => {
    const poor = fake({ token: async () => Promise.reject(new T.InsufficientBalanceError('Failed to get auth token from KYC service. Not enough balance')) });
    await expect(poor.v.link(id)).rejects.toMatchObject({ code: 'insufficient_funds' });
  });
});

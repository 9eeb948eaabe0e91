/**
 * Each user's wallet on the grid: its balance, deposits credited exactly once (by the chain's
 * transfer id), and the payment prompt in the format the ThreeFold Connect wallet reads.
 */
import QRCode from 'qrcode';
import type { Deployment } from '../domain/deployment.js';
import type { User } from '../domain/user.js';
import { UNITS_PER_TFT, type Units } from '../domain/money.js';
import type { Chain, Faucet, Transfer } from '../grid/port.js';
import type { UserStore } from '../store/user-store.js';

export class WalletService {
  constructor(
    private readonly store: UserStore,
    private readonly chain: Chain,
    private readonly faucet: Faucet | undefined,
  ) {}

  balance(user: User): Promise<Units> {
    return this.chain.balance(user.identity.address);
  }

  /** Records transfers into the user's address that were not credited yet; returns the new ones. */
  async syncDeposits(userId: number): Promise<Transfer[]> {
    const user = await this.store.get(userId);
    if (!user) return [];
    const last = user.credits.at(-1)?.id;
    const incoming = await this.chain.incomingTransfers(user.identity.address, last);
    if (incoming.length === 0) return [];
    return (
      (await this.store.update(userId, (u) => {
        const seen = new Set(u.credits.map((c) => c.id));
        const fresh = incoming.filter((t) => !seen.has(t.id));
        for (const t of fresh) u.credits.push({ id: t.id, amount: t.amount, at: t.at });
        return fresh;
      })) ?? []
    );
  }

  /**
   * Whether an order is paid: the wallet holds a month of its cost, or the deposits made since the
   * prompt (and not claimed by another order) add up to what the prompt asked. Deposits are what
   * count, because the same wallet pays the user's other deployments by the hour meanwhile; they are
   * claimed by the order, so one deposit never pays two orders.
   */
  async isOrderPaid(userId: number, d: Deployment): Promise<boolean> {
    const p = d.payment;
    if (!p) return true;
    const user = await this.store.get(userId);
    if (!user) return false;
    const covered = (await this.balance(user)) >= p.required;
    return (
      (await this.store.update(userId, (u) => {
        const mine = u.credits.filter((c) => c.paidOrder === d.id || (c.paidOrder === undefined && c.at >= p.requestedAt));
        if (!covered && mine.reduce((sum, c) => sum + c.amount, 0) < p.due) return false;
        for (const c of mine) c.paidOrder = d.id;
        return true;
      })) ?? false
    );
  }

  /** `TFT:<address>?amount=<n>&sender=me`, the amount in whole TFT rounded up. */
  paymentUri(address: string, amount: Units): string {
    return `TFT:${address}?amount=${Math.ceil(amount / UNITS_PER_TFT)}&sender=me`;
  }

  qrPng(uri: string): Promise<Buffer> {
    return QRCode.toBuffer(uri, { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 360 });
  }

  /** Only the simulated grid can pay on the user's behalf; the real grid never offers it. */
  get canSimulatePayments(): boolean {
    return this.faucet !== undefined;
  }

  async simulatePayment(user: User, amount: Units): Promise<Transfer> {
    if (!this.faucet) throw new Error('payments can only be simulated on the simulated grid');
    return this.faucet.fund(user.identity.address, amount);
  }
}

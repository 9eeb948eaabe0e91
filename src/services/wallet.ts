/**
 * Each user's wallet on the grid: its balance, deposits credited exactly once (by the chain's
 * transfer id), the payment prompt in the format the ThreeFold Connect wallet reads, and
 * withdrawals, which a journaled job sends (src/jobs/withdraw.ts) so that money leaves at most once.
 */
import { qrPng } from '../chat/qr.js';
import type { Deployment, Payment } from '../domain/deployment.js';
import type { User } from '../domain/user.js';
import { DAY_MS, formatTft, parseTft, UNITS_PER_TFT, type Units } from '../domain/money.js';
import type { Chain, Faucet, Identity, Transfer } from '../grid/port.js';
import type { JobQueue } from '../jobs/worker.js';
import type { UserStore } from '../store/user-store.js';

/**
 * The runway at which the user's deployments are at risk: a withdrawal that leaves this or less asks
 * twice. It is the first low-balance reminder's threshold too, so the bot warns at one number.
 */
export const LOW_RUNWAY_MS = 7 * DAY_MS;

/** Withdrawal jobs belong to the wallet, not to a deployment: this stands in their deployment id. */
export const WALLET_JOB_REF = 'wallet';

/** What a withdrawal job is given. */
export interface WithdrawalParams {
  to: string;
  amount: Units;
}

/** An answer checked against the rules: its value, or why not in plain words for the user (escape it for HTML). */
export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Why an amount cannot be withdrawn when at most `most` can be sent, or undefined when it can. */
export function withdrawalAmountProblem(amount: Units, most: Units): string | undefined {
  if (!Number.isSafeInteger(amount) || amount <= 0) return 'The amount must be more than 0 TFT.';
  if (most <= 0) return 'Your wallet is empty: there is nothing to withdraw.';
  if (amount > most) return `That is more than your wallet can send: you can withdraw at most ${formatTft(most)}.`;
  return undefined;
}

/** What the Stellar bridge keeps of each deposit (tfchain bridge docs: "a depositfee of 1 TFT will be taken"). */
export const BRIDGE_DEPOSIT_FEE: Units = UNITS_PER_TFT;

const refuse = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export class WalletService {
  constructor(
    private readonly store: UserStore,
    private readonly chain: Chain,
    private readonly faucet: Faucet | undefined,
    private readonly jobs: JobQueue,
    /** the TFT bridge on Stellar for this grid; unset, the payment prompts offer only TFChain */
    private readonly bridgeAddress?: string,
  ) {}

  balance(user: User): Promise<Units> {
    return this.chain.balance(user.identity.address);
  }

  /** The balance at the chain's newest block: what a withdrawal just sent left (not for payment checks). */
  latestBalance(user: User): Promise<Units> {
    return this.chain.balance(user.identity.address, { latest: true });
  }

  /**
   * A TFChain address (SS58, prefix 42), as the chain checks it. SS58 addresses are under 64
   * characters; anything longer is refused before decoding, which is quadratic in the length and
   * would let a 4 KB message hold up the whole bot.
   */
  isValidAddress(address: string): boolean {
    return address.length <= 64 && this.chain.isValidAddress(address);
  }

  /** The most a withdrawal to `to` can send now (on TFChain, the balance less the transfer fee). */
  withdrawable(user: User, to: string): Promise<Units> {
    return this.chain.maxWithdrawal(user.identity.address, to);
  }

  /** Where a withdrawal may go: a valid TFChain address that is not this wallet's own. */
  checkDestination(user: User, text: string): Checked<string> {
    const to = text.trim();
    const shown = to.length > 60 ? 'That' : `“${to}”`;
    if (!this.isValidAddress(to)) {
      return refuse(`${shown} is not a TFChain address. A TFChain address starts with 5 and is 48 characters long, like the one your ThreeFold Connect wallet shows.`);
    }
    if (to === user.identity.address) {
      return refuse('That is the address of this Jukebox wallet itself. Send the address of the wallet the TFT should go to.');
    }
    return { ok: true, value: to };
  }

  /** A typed amount in TFT ("12", "12.5", "12,5 TFT"), checked against the most the wallet can send. */
  checkAmount(text: string, most: Units): Checked<Units> {
    let amount: Units;
    try {
      amount = parseTft(text.replace(/\s*tft\s*$/i, ''));
    } catch {
      const shown = text.trim().length > 30 ? 'That' : `“${text.trim()}”`;
      return refuse(`${shown} is not an amount. Type a number of TFT such as 12 or 12.5 (at most 7 decimals).`);
    }
    const problem = withdrawalAmountProblem(amount, most);
    return problem ? refuse(problem) : { ok: true, value: amount };
  }

  /** Whether a withdrawal of this user is queued or running; one at a time keeps the balance shown true. */
  withdrawalInFlight(userId: number): boolean {
    return this.jobs.hasActive(userId, WALLET_JOB_REF, 'withdraw');
  }

  /**
   * Hands a withdrawal to a job, after checking it once more against the balance as it is now.
   * The job checks the balance again before it sends: billing may take some meanwhile.
   */
  async requestWithdrawal(userId: number, to: string, amount: Units): Promise<Checked<WithdrawalParams>> {
    const user = await this.store.get(userId);
    if (!user) return refuse('Unknown user.');
    if (this.withdrawalInFlight(userId)) return refuse('A withdrawal is already under way. I will tell you here when it is through.');
    const dest = this.checkDestination(user, to);
    if (!dest.ok) return dest;
    const problem = withdrawalAmountProblem(amount, await this.withdrawable(user, dest.value));
    if (problem) return refuse(`${problem} Nothing was sent.`);
    const params: WithdrawalParams = { to: dest.value, amount };
    // nothing in the user's file changes: the job file is the whole request
    await this.jobs.enqueue('withdraw', userId, WALLET_JOB_REF, async () => params, { ...params });
    return { ok: true, value: params };
  }

  /** Sends TFT from a user's wallet. Only the withdrawal job calls this, inside its journal's transfer step. */
  transfer(from: Identity, to: string, amount: Units): Promise<Transfer> {
    return this.chain.transfer(from, to, amount);
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
  isOrderPaid(userId: number, d: Deployment): Promise<boolean> {
    return d.payment ? this.isPaid(userId, d.id, d.payment) : Promise.resolve(true);
  }

  /** The same rule for any payment prompt; `claim` names what the deposits pay for (an order id, an extension). */
  async isPaid(userId: number, claim: string, p: Payment): Promise<boolean> {
    const user = await this.store.get(userId);
    if (!user) return false;
    const covered = (await this.balance(user)) >= p.required;
    // credited after the balance was read: every deposit that balance holds is then in the credits
    // (TFChain's balance is read where the deposit watcher stands), so one the balance counts is
    // claimed here and can never pay another prompt later
    await this.syncDeposits(userId);
    return (
      (await this.store.update(userId, (u) => {
        // what this claim already holds, then the oldest free deposits since the prompt, only as
        // many as the prompt asked for: a later deposit stays free for the next prompt waiting
        const held = u.credits.filter((c) => c.paidOrder === claim);
        const free = u.credits.filter((c) => c.paidOrder === undefined && c.at >= p.requestedAt);
        let sum = held.reduce((s, c) => s + c.amount, 0);
        const take = [];
        for (const c of free) {
          if (sum >= p.due) break;
          take.push(c);
          sum += c.amount;
        }
        if (!covered && sum < p.due) return false;
        for (const c of take) c.paidOrder = claim;
        return true;
      })) ?? false
    );
  }

  /** `TFT:<address>?amount=<n>&sender=me`, the amount in whole TFT rounded up. */
  paymentUri(address: string, amount: Units): string {
    return `TFT:${address}?amount=${Math.ceil(amount / UNITS_PER_TFT)}&sender=me`;
  }

  /** Whether payment prompts offer the Stellar bridge form. */
  get offersStellar(): boolean {
    return this.bridgeAddress !== undefined;
  }

  /**
   * `TFT:<bridge>?message=twin_<id>&amount=<n>&sender=me`: TFT sent from Stellar with that memo land
   * on the twin's TFChain account, which is this wallet. The bridge keeps its deposit fee, so the
   * amount asked includes it; the twin must exist, or the bridge refunds the deposit.
   */
  bridgeUri(twinId: number, amount: Units): string {
    if (!this.bridgeAddress) throw new Error('no Stellar bridge is configured');
    return `TFT:${this.bridgeAddress}?message=twin_${twinId}&amount=${Math.ceil((amount + BRIDGE_DEPOSIT_FEE) / UNITS_PER_TFT)}&sender=me`;
  }

  qrPng(uri: string): Promise<Buffer> {
    return qrPng(uri);
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

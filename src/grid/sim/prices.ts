/**
 * The simulated grid's price table, in integer chain units (1 TFT = 10^7) per hour.
 *
 * This is the sim's own table, modeled on the grid calculator's shape (a price per vCPU, per GB of
 * memory, SSD and HDD, per public IPv4, and a premium for certified nodes). It is not the live
 * mainnet price list: the real adapter asks the grid's calculator instead.
 */
import { assertUnits, type Units } from '../../domain/money.js';
import type { Resources } from '../port.js';

export const SIM_PRICES = {
  /** per vCPU per hour: 0.5 TFT */
  vcpu: 5_000_000,
  /** per GB of memory per hour: 0.25 TFT */
  ramGb: 2_500_000,
  /** per GB of SSD per hour: 0.005 TFT */
  ssdGb: 50_000,
  /** per GB of HDD per hour: 0.001 TFT */
  hddGb: 10_000,
  /** per public IPv4 per hour: 0.3 TFT */
  ipv4: 3_000_000,
  /** certified nodes cost this many percent more (rounded up to the unit) */
  certifiedPremiumPercent: 25,
} as const;

export type PricedResources = Resources & { publicIps: number; certified: boolean };

/** Ceil that ignores float noise (0.49 GB × 50_000 is 24500.000000000004, which is 24500). */
function ceilUnits(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) < 1e-6 ? r : Math.ceil(x);
}

function nonNegative(n: number, what: string): number {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${what} must be a non-negative number, got ${n}`);
  return n;
}

/**
 * Hourly cost of a contract reserving these resources. Each component is rounded up to the unit;
 * memory is priced per GB from MB (ceil(mruMb × perGb / 1024)); the certified premium is applied
 * to the sum and rounded up.
 */
export function hourlyCostOf(r: PricedResources): Units {
  const cpu = ceilUnits(nonNegative(r.cru, 'cru') * SIM_PRICES.vcpu);
  const ram = ceilUnits((nonNegative(r.mruMb, 'mruMb') * SIM_PRICES.ramGb) / 1024);
  const ssd = ceilUnits(nonNegative(r.sruGb, 'sruGb') * SIM_PRICES.ssdGb);
  const hdd = ceilUnits(nonNegative(r.hruGb, 'hruGb') * SIM_PRICES.hddGb);
  if (!Number.isSafeInteger(r.publicIps) || r.publicIps < 0) {
    throw new RangeError(`publicIps must be a non-negative integer, got ${r.publicIps}`);
  }
  const ips = r.publicIps * SIM_PRICES.ipv4;
  const base = cpu + ram + ssd + hdd + ips;
  const total = r.certified ? Math.ceil((base * (100 + SIM_PRICES.certifiedPremiumPercent)) / 100) : base;
  return assertUnits(total, 'hourly cost');
}

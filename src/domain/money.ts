/**
 * Money in integer units of the chain: 1 TFT = 10^7 units, as TFChain keeps balances.
 * Amounts are JavaScript safe integers (up to ~900 million TFT), which keeps them plain JSON in the
 * store; every constructor and operation refuses anything that is not one.
 */
export type Units = number;

export const UNITS_PER_TFT = 10_000_000;

export function assertUnits(n: number, what = 'amount'): Units {
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} must be a whole number of units, got ${n}`);
  return n;
}

/** Parses "12", "12.5", "0.0000001" TFT exactly (no float rounding). */
export function parseTft(text: string): Units {
  const m = /^\s*(\d{1,9})(?:[.,](\d{1,7}))?\s*$/.exec(text);
  if (!m) throw new RangeError(`not a TFT amount: ${text}`);
  const whole = Number(m[1]);
  const frac = Number((m[2] ?? '').padEnd(7, '0'));
  return assertUnits(whole * UNITS_PER_TFT + frac);
}

/** Formats units as TFT, trimming trailing zeros but keeping at least two decimals: 12.50, 0.0000001. */
export function formatTft(units: Units): string {
  assertUnits(units);
  const sign = units < 0 ? '-' : '';
  const abs = Math.abs(units);
  const whole = Math.floor(abs / UNITS_PER_TFT);
  let frac = String(abs % UNITS_PER_TFT).padStart(7, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${sign}${whole.toLocaleString('en-US')}.${frac} TFT`;
}

/** Rounds up to whole TFT: what we ask a user to pay, so QR amounts are easy to read and never short. */
export function ceilToTft(units: Units): Units {
  assertUnits(units);
  return Math.ceil(units / UNITS_PER_TFT) * UNITS_PER_TFT;
}

export function add(a: Units, b: Units): Units {
  return assertUnits(assertUnits(a) + assertUnits(b), 'sum');
}

export function sub(a: Units, b: Units): Units {
  return assertUnits(assertUnits(a) - assertUnits(b), 'difference');
}

export function mul(a: Units, factor: number): Units {
  if (!Number.isSafeInteger(factor)) throw new RangeError(`factor must be an integer, got ${factor}`);
  return assertUnits(assertUnits(a) * factor, 'product');
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** How long a balance lasts at an hourly burn, in whole hours as the grid bills; Infinity with no burn. */
export function runwayMs(balance: Units, hourlyBurn: Units): number {
  return hourlyBurn > 0 ? Math.floor(Math.max(0, balance) / hourlyBurn) * HOUR_MS : Infinity;
}

/** A month of a deployment, as the bot asks it paid up front: 730 hours (365 × 24 / 12). grid_client's calculator prices 720 (24 × 30); the larger month never asks too little. */
export const HOURS_PER_MONTH = 730;

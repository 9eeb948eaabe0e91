/** Money as integer units (1 TFT = 10^7 units, as TFChain keeps balances). */
import { describe, it, expect } from '@jest/globals';
import { UNITS_PER_TFT, add, assertUnits, ceilToTft, formatTft, mul, parseTft, sub } from '../../../src/domain/money.js';

describe('parseTft', () => {
  it('is exact where floating point is not: 0.1 + 0.2 is 0.3', () => {
    expect(0.1 + 0.2).not.toBe(0.3); // the trap this module exists to avoid
    expect(add(parseTft('0.1'), parseTft('0.2'))).toBe(parseTft('0.3'));
    expect(parseTft('0.3')).toBe(3 * UNITS_PER_TFT / 10);
  });

  it('reads whole amounts, decimals and the smallest unit', () => {
    expect(UNITS_PER_TFT).toBe(10_000_000);
    expect(parseTft('12')).toBe(120_000_000);
    expect(parseTft('12.5')).toBe(125_000_000);
    expect(parseTft('0.0000001')).toBe(1); // 7 decimals: one unit
    expect(parseTft('1.2345678')).toBe(12_345_678);
    expect(parseTft('  3.25 ')).toBe(32_500_000);
    expect(parseTft('0')).toBe(0);
  });

  it.each([
    ['0.00000001', 'more than 7 decimals'],
    ['1.23456789', 'more than 7 decimals'],
    ['-1', 'negative'],
    ['-0.5', 'negative'],
    ['abc', 'junk'],
    ['', 'empty'],
    ['1.', 'a dangling point'],
    ['.5', 'no whole part'],
    ['1e3', 'exponent notation'],
    ['1.2.3', 'two points'],
    ['12 TFT', 'a unit suffix'],
    ['1234567890', 'more than 9 whole digits'],
  ])('refuses %j (%s) with a RangeError', (text) => {
    expect(() => parseTft(text)).toThrow(RangeError);
  });

  it('accepts up to the largest safe amount and refuses one unit more', () => {
    // Number.MAX_SAFE_INTEGER = 9007199254740991 units = 900719925.4740991 TFT
    expect(parseTft('900719925.4740991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => parseTft('900719925.4740992')).toThrow(RangeError);
    expect(() => parseTft('999999999')).toThrow(RangeError);
  });
});

describe('formatTft', () => {
  it.each([
    [125_000_000, '12.50 TFT'], // keeps two decimals
    [120_000_000, '12.00 TFT'],
    [0, '0.00 TFT'],
    [10_100_000, '1.01 TFT'],
    [12_345_000, '1.2345 TFT'], // trailing zeros trimmed
    [1, '0.0000001 TFT'], // the smallest unit is shown, not rounded to 0.00
    [10_000_001, '1.0000001 TFT'],
    [12_345_678_900_000, '1,234,567.89 TFT'], // thousands separators
    [-5_000_000, '-0.50 TFT'],
    [-1, '-0.0000001 TFT'],
    [-12_345_678_900_000, '-1,234,567.89 TFT'],
  ])('formats %d units as %s', (units, text) => {
    expect(formatTft(units)).toBe(text);
  });

  it('round-trips through parseTft for amounts below a thousand TFT', () => {
    for (const text of ['0.0000001', '0.5', '12.3456789', '999.99']) {
      const shown = formatTft(parseTft(text)).replace(/ TFT$/, '');
      expect(parseTft(shown)).toBe(parseTft(text));
    }
  });

  it('refuses fractional units', () => {
    expect(() => formatTft(1.5)).toThrow(RangeError);
  });
});

describe('ceilToTft (what a user is asked to pay)', () => {
  it('rounds up to whole TFT, never short', () => {
    expect(ceilToTft(1)).toBe(UNITS_PER_TFT);
    expect(ceilToTft(10_000_001)).toBe(20_000_000);
    expect(ceilToTft(19_999_999)).toBe(20_000_000);
  });

  it('leaves whole amounts and zero as they are', () => {
    expect(ceilToTft(0)).toBe(0);
    expect(ceilToTft(30_000_000)).toBe(30_000_000);
  });

  it('refuses fractional units', () => {
    expect(() => ceilToTft(0.5)).toThrow(RangeError);
  });
});

describe('arithmetic guards', () => {
  it('computes exact results within the safe range', () => {
    expect(add(1, 2)).toBe(3);
    expect(sub(5, 7)).toBe(-2);
    expect(mul(1_369_863, 730)).toBe(999_999_990);
  });

  it('throws RangeError on overflow instead of silently losing units', () => {
    expect(() => add(Number.MAX_SAFE_INTEGER, 1)).toThrow(RangeError);
    expect(() => sub(-Number.MAX_SAFE_INTEGER, 1)).toThrow(RangeError);
    expect(() => mul(Number.MAX_SAFE_INTEGER, 2)).toThrow(RangeError);
    expect(() => mul(10 ** 15, 10)).toThrow(RangeError);
  });

  it('throws RangeError on fractional units or factors', () => {
    expect(() => add(0.5, 1)).toThrow(RangeError);
    expect(() => sub(1, 0.25)).toThrow(RangeError);
    expect(() => mul(3, 1.5)).toThrow(RangeError);
    // fractions that would cancel out are refused too: the inputs must be units already
    expect(() => add(0.5, 0.5)).toThrow(RangeError);
    expect(() => sub(1.5, 0.5)).toThrow(RangeError);
    expect(() => mul(1.5, 2)).toThrow(RangeError);
  });

  it('assertUnits names what was wrong and refuses NaN and infinities', () => {
    expect(() => assertUnits(1.5, 'balance')).toThrow(/balance must be a whole number of units, got 1.5/);
    expect(() => assertUnits(Number.NaN)).toThrow(RangeError);
    expect(() => assertUnits(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(assertUnits(-42)).toBe(-42);
  });
});

import { describe, expect, it } from '@jest/globals';
import { SIM_PRICES, hourlyCostOf } from '../../../src/grid/sim/index.js';

const none = { cru: 0, mruMb: 0, sruGb: 0, hruGb: 0, publicIps: 0, certified: false };

describe('sim price table', () => {
  it('has the documented unit prices per hour', () => {
    expect(SIM_PRICES).toMatchObject({ vcpu: 5_000_000, ramGb: 2_500_000, ssdGb: 50_000, hddGb: 10_000, ipv4: 3_000_000 });
  });

  it('prices each resource', () => {
    expect(hourlyCostOf({ ...none, cru: 1 })).toBe(5_000_000);
    expect(hourlyCostOf({ ...none, mruMb: 1024 })).toBe(2_500_000);
    expect(hourlyCostOf({ ...none, sruGb: 1 })).toBe(50_000);
    expect(hourlyCostOf({ ...none, hruGb: 1 })).toBe(10_000);
    expect(hourlyCostOf({ ...none, publicIps: 1 })).toBe(3_000_000);
    // 2 vCPU, 4 GB, 50 GB SSD, one IPv4
    expect(hourlyCostOf({ ...none, cru: 2, mruMb: 4096, sruGb: 50, publicIps: 1 })).toBe(10_000_000 + 10_000_000 + 2_500_000 + 3_000_000);
  });

  it('charges memory per GB from MB, rounded up to the unit', () => {
    // 500 MB: 500 × 2_500_000 / 1024 = 1_220_703.125
    expect(hourlyCostOf({ ...none, mruMb: 500 })).toBe(1_220_704);
  });

  it('does not round float noise up (0.49 GB SSD)', () => {
    expect(hourlyCostOf({ ...none, sruGb: 0.49 })).toBe(24_500);
  });

  it('adds 25% on certified nodes, rounded up', () => {
    expect(hourlyCostOf({ ...none, cru: 1, mruMb: 1024, certified: true })).toBe(9_375_000);
    // 1.0001 GB HDD = 10_001 units; × 1.25 = 12_501.25 → 12_502
    expect(hourlyCostOf({ ...none, hruGb: 1.0001, certified: true })).toBe(12_502);
  });

  it('refuses negative resources', () => {
    expect(() => hourlyCostOf({ ...none, cru: -1 })).toThrow(RangeError);
    expect(() => hourlyCostOf({ ...none, publicIps: 0.5 })).toThrow(RangeError);
  });
});

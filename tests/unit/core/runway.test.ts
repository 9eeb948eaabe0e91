/** The runway rules: the level for a runway, what to remind given what was reminded, the runway from the grid's contracts. */
import { describe, expect, it } from '@jest/globals';
import { HOUR_MS } from '../../../src/domain/money.js';
import type { ContractInfo } from '../../../src/grid/port.js';
import { levelOf, nextReminder, runwayOf, type ReminderState } from '../../../src/watchdog/runway.js';

const contract = (over: Partial<ContractInfo>): ContractInfo => ({
  contractId: 1,
  nodeId: 1,
  state: 'created',
  createdAt: 0,
  projectName: 'jukebox/u1/d1',
  deploymentName: 'x_1',
  type: 'vm',
  hourlyCost: 1000,
  ...over,
});

describe('levelOf', () => {
  it('names the most urgent threshold the runway is at or below', () => {
    expect(levelOf(169, false)).toBeUndefined();
    expect(levelOf(168, false)).toBe('7d');
    expect(levelOf(73, false)).toBe('7d');
    expect(levelOf(72, false)).toBe('3d');
    expect(levelOf(24, false)).toBe('1d');
    expect(levelOf(0, false)).toBe('1d');
    expect(levelOf(Infinity, false)).toBeUndefined();
    expect(levelOf(500, true)).toBe('grace');
  });
});

describe('nextReminder', () => {
  const fresh: ReminderState = { epoch: 0, sent: [] };
  it('sends each level once as the runway falls, in order', () => {
    let s = fresh;
    const sent: string[] = [];
    for (const level of [undefined, '7d', '7d', '3d', '3d', '1d', 'grace', 'grace'] as const) {
      const r = nextReminder(s, level);
      if (r.send) sent.push(r.send);
      s = r.state;
    }
    expect(sent).toEqual(['7d', '3d', '1d', 'grace']);
    expect(s.epoch).toBe(0);
  });
  it('sends only the current level when the runway jumps past several, and counts the skipped ones as said', () => {
    const r = nextReminder(fresh, '1d');
    expect(r.send).toBe('1d');
    expect(r.state.sent).toEqual(['7d', '3d', '1d']);
  });
  it('starts a new epoch after a top-up, so the next run-down reminds again with new ids', () => {
    const low = nextReminder(nextReminder(fresh, '7d').state, '3d').state;
    const toppedUp = nextReminder(low, undefined);
    expect(toppedUp.send).toBeUndefined();
    expect(toppedUp.state).toEqual({ epoch: 1, sent: [] });
    expect(nextReminder(toppedUp.state, '7d').send).toBe('7d');
  });
  it('keeps the levels still true after a partial top-up, and reminds the worse ones again', () => {
    const inGrace = nextReminder(fresh, 'grace').state;
    const partial = nextReminder(inGrace, '3d');
    expect(partial.send).toBeUndefined();
    expect(partial.state).toEqual({ epoch: 1, sent: ['7d', '3d'] });
    expect(nextReminder(partial.state, '1d').send).toBe('1d');
  });
});

describe('runwayOf', () => {
  it('divides the balance by the hourly cost of the live contracts, in whole hours', () => {
    const r = runwayOf(10_500, [contract({ hourlyCost: 1000 }), contract({ contractId: 2, hourlyCost: 500 }), contract({ contractId: 3, state: 'deleted' })], 0);
    expect(r.burn).toBe(1500);
    expect(r.hours).toBe(7);
  });
  it('counts what contracts in grace owe, an hour for every hour since grace began and the one being billed', () => {
    const r = runwayOf(0, [contract({ state: 'grace', graceStartedAt: 0, hourlyCost: 1000 })], 5 * HOUR_MS + 1);
    expect(r.grace).toHaveLength(1);
    expect(r.owed).toBe(6000);
  });
  it('has an infinite runway with nothing billed', () => {
    expect(runwayOf(100, [], 0).hours).toBe(Infinity);
  });
});

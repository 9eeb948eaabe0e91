import { describe, expect, it } from '@jest/globals';
import { DueQueue } from '../../../src/grid/sim/due-queue.js';
import { mulberry32 } from '../../../src/grid/sim/index.js';

describe('DueQueue', () => {
  it('is empty at first', () => {
    const q = new DueQueue();
    expect(q.size).toBe(0);
    expect(q.peekTime()).toBe(Infinity);
    expect(q.pop()).toBeUndefined();
  });

  it('pops in time order, whatever the push order, with every key it was given', () => {
    const rnd = mulberry32(11);
    const q = new DueQueue();
    const pushed: { time: number; key: number }[] = [];
    for (let key = 0; key < 500; key++) {
      const time = Math.floor(rnd() * 100); // many equal times
      q.push(time, key);
      pushed.push({ time, key });
      if (key % 7 === 0) {
        // interleave pops with pushes
        const top = q.pop() as { time: number; key: number };
        const min = Math.min(...pushed.map((p) => p.time));
        expect(top.time).toBe(min);
        pushed.splice(pushed.findIndex((p) => p.key === top.key), 1);
      }
    }
    expect(q.size).toBe(pushed.length);
    const out: { time: number; key: number }[] = [];
    while (q.size > 0) {
      expect(q.peekTime()).toBe(Math.min(...pushed.map((p) => p.time)));
      const top = q.pop() as { time: number; key: number };
      out.push(top);
      pushed.splice(pushed.findIndex((p) => p.key === top.key), 1);
    }
    expect(pushed).toEqual([]);
    expect(out.map((e) => e.time)).toEqual([...out.map((e) => e.time)].sort((a, b) => a - b));
    q.push(3, 1);
    q.clear();
    expect(q.size).toBe(0);
  });
});

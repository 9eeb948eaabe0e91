/**
 * A binary min-heap of (time, key) pairs: the sim's queue of when each twin next owes a bill.
 *
 * It has no decrease-key and no delete. When a twin's due time changes, the caller pushes the new
 * time and keeps the current one on the twin; when an entry is popped, the caller drops it if it
 * no longer matches ("lazy deletion"). This keeps every operation O(log n). The caller rebuilds the
 * queue when superseded entries pile up (see `size`).
 */
export class DueQueue {
  // Two parallel arrays of numbers: no object per entry, so a queue of 100,000 twins stays small.
  private readonly times: number[] = [];
  private readonly keys: number[] = [];

  /** entries, superseded ones included */
  get size(): number {
    return this.times.length;
  }

  /** The earliest time queued; Infinity when empty. */
  peekTime(): number {
    return this.times.length > 0 ? (this.times[0] as number) : Infinity;
  }

  push(time: number, key: number): void {
    let i = this.times.length;
    this.times.push(time);
    this.keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.times[parent] as number) <= time) break;
      this.move(parent, i);
      i = parent;
    }
    this.times[i] = time;
    this.keys[i] = key;
  }

  /** Removes and returns the earliest entry. */
  pop(): { time: number; key: number } | undefined {
    const n = this.times.length;
    if (n === 0) return undefined;
    const top = { time: this.times[0] as number, key: this.keys[0] as number };
    const time = this.times.pop() as number;
    const key = this.keys.pop() as number;
    if (n > 1) {
      // sift the former last entry down from the root
      const size = n - 1;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= size) break;
        const right = left + 1;
        const child = right < size && (this.times[right] as number) < (this.times[left] as number) ? right : left;
        if ((this.times[child] as number) >= time) break;
        this.move(child, i);
        i = child;
      }
      this.times[i] = time;
      this.keys[i] = key;
    }
    return top;
  }

  clear(): void {
    this.times.length = 0;
    this.keys.length = 0;
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from] as number;
    this.keys[to] = this.keys[from] as number;
  }
}

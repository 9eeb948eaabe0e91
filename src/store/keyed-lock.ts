/** One change at a time per key (a user): callers for the same key run in order, others in parallel. */
export class KeyedLock<K> {
  private readonly tails = new Map<K, Promise<unknown>>();

  run<T>(key: K, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }

  /** Whether a change for this key is queued or running. */
  has(key: K): boolean {
    return this.tails.has(key);
  }

  /** Resolves when every change queued so far has settled. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.tails.values()]);
  }
}

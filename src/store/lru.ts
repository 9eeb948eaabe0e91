/** A bounded map that forgets the least recently used entry; Map keeps insertion order, which is all it takes. */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number, private readonly canEvict: (k: K, v: V) => boolean = () => true) {}

  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }

  set(k: K, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size <= this.max) return;
    for (const [ek, ev] of this.map) {
      if (this.map.size <= this.max) break;
      if (ek !== k && this.canEvict(ek, ev)) this.map.delete(ek);
    }
  }

  delete(k: K): void {
    this.map.delete(k);
  }

  get size(): number {
    return this.map.size;
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }
}

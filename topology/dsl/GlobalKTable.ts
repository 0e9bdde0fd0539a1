/** A table every instance holds in full, from all partitions of a topic (reference data). */
export class GlobalKTable<K, V> {
  /** Phantom fields keep the key and value types attached to the handle. */
  declare readonly keyType: K;
  declare readonly valueType: V;

  constructor(
    readonly storeName: string,
    readonly topic: string,
  ) {}

  queryableStoreName(): string {
    return this.storeName;
  }
}

/** Generated node names in Kafka Streams' style: KSTREAM-FILTER-0000000003. */
export class NameGenerator {
  private index = 0;

  next(prefix: string): string {
    return `${prefix}-${String(this.index++).padStart(10, '0')}`;
  }
}

/** Options most DSL operations accept: a name for the node (and its store or topic where it has one). */
export interface Named {
  name?: string;
}

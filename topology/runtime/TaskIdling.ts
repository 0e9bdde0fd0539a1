/**
 * Kafka Streams' task idling (KIP-695) for a new task with several inputs: it processes only
 * while every input it has not yet read up to its end (captured when the task was created) has a
 * record buffered, so a co-partitioned table's existing rows (reference data) are in its store
 * before the stream records they enrich, whatever order the consumer fetches them in. An input is
 * caught up when a buffered record reaches that end or the consumer's position does (the position
 * also moves past transaction markers, which never show as records); a deadline bounds a stall.
 */
export class TaskIdling {
  private readonly targets = new Map<string, number>();
  private deadline = 0;

  /** Waits for `topic` to be read up to `endOffset`, until `deadline` (epoch ms) at the latest. */
  waitFor(topic: string, endOffset: number, deadline: number): void {
    this.targets.set(topic, endOffset);
    this.deadline = Math.max(this.deadline, deadline);
  }

  /** Inputs still being caught up: the thread reports the consumer's position of each. */
  topics(): Iterable<string> {
    return this.targets.keys();
  }

  /** An offset of `topic` that is now buffered or read past: `reached` is the offset after it. */
  reached(topic: string, reached: number): void {
    const target = this.targets.get(topic);
    if (target !== undefined && reached >= target) this.targets.delete(topic);
  }

  /** True while some input not yet caught up has nothing buffered (`isEmpty`), before the deadline. */
  waiting(isEmpty: (topic: string) => boolean): boolean {
    if (this.targets.size === 0) return false;
    if (Date.now() >= this.deadline) {
      this.targets.clear();
      return false;
    }
    for (const topic of this.targets.keys()) if (isEmpty(topic)) return true;
    return false;
  }
}

import type { ProducerRecord } from '../../log/Log.js';

/**
 * Holds what a task produced since its last commit. Nothing leaves the task before the commit's
 * transaction, so a crash can never expose output of input whose offset was not committed.
 */
export class RecordCollector {
  private pending: ProducerRecord[] = [];

  send(record: ProducerRecord): void {
    this.pending.push(record);
  }

  /** A point to roll back to when processing one record fails half way. */
  mark(): number {
    return this.pending.length;
  }

  rollbackTo(mark: number): void {
    this.pending.length = mark;
  }

  size(): number {
    return this.pending.length;
  }

  drain(): ProducerRecord[] {
    const drained = this.pending;
    this.pending = [];
    return drained;
  }
}

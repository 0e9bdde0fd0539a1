import type { Logger } from 'pino';
import { partitionKey, type Log, type TopicPartition } from '../log/Log.js';
import { PartitionBatcher } from './PartitionBatcher.js';
import type { SinkBatchLog } from './SinkBatchLog.js';

export interface PartitionSetupOptions {
  log: Log;
  groupId: string;
  cuts: SinkBatchLog;
  /** The sink's batchers by partition key: set up here, taken out by the sink on revocation. */
  work: Map<string, PartitionBatcher>;
  batcher: (tp: TopicPartition, committed: number | undefined) => PartitionBatcher;
  /** A read failed: the sink pauses and backs off; the next flush calls loadCuts() again. */
  fail: (what: string, error: unknown) => void;
  /** ClickHouse answered. */
  contact: () => void;
  logger?: Logger;
}

/**
 * What an assigned partition needs before its first cut: its committed offset (where a recorded
 * cut is looked up) and the cuts sink_batches holds from there. Either read can fail; the
 * partition then waits, and the sink's next flush tries again (loadCuts).
 */
export class PartitionSetup {
  /** Partitions assigned while their committed offsets could not be read. */
  private readonly committedUnknown = new Set<string>();

  constructor(private readonly options: PartitionSetupOptions) {}

  async assigned(tps: TopicPartition[]): Promise<void> {
    const { log, groupId, work, batcher, logger } = this.options;
    let committed: Map<string, number> | null = null;
    try {
      committed = await log.committedOffsets(groupId, tps);
    } catch (error) {
      logger?.warn({ err: error }, 'ClickHouse sink: committed offsets unavailable at assignment; read again before the first cut');
    }
    for (const tp of tps) {
      const key = partitionKey(tp);
      if (committed) this.committedUnknown.delete(key);
      else this.committedUnknown.add(key);
      work.set(key, batcher(tp, committed?.get(key)));
    }
    await this.loadCuts();
  }

  /** Loads the recorded cuts of partitions that do not have them yet (their committed offsets first). */
  async loadCuts(): Promise<void> {
    if (!(await this.learnCommitted())) return;
    for (const work of this.options.work.values()) {
      if (work.cuts || this.committedUnknown.has(partitionKey(work.tp))) continue;
      try {
        const loaded = await this.options.cuts.load(work.tp, work.committed ?? 0);
        // A concurrent load (assignment inside poll while a flush runs) may have won, and cuts
        // recorded since then are in its map only.
        if (!work.cuts) {
          work.cuts = new Map([...loaded].map(([first, { last }]) => [first, last]));
          work.rounds = new Map([...loaded].map(([first, { round }]) => [first, round]));
        }
        this.options.contact();
      } catch (error) {
        this.options.fail('sink_batches', error);
        return;
      }
    }
  }

  /**
   * Reads the committed offsets an assignment could not: a batch must start at the committed
   * offset, where a recorded cut is looked up (on a transactional input the first record fetched
   * can lie past it, behind a commit marker). False while they stay unreadable.
   */
  private async learnCommitted(): Promise<boolean> {
    const { work: works, log, groupId } = this.options;
    const unknown = [...works.values()].filter((work) => this.committedUnknown.has(partitionKey(work.tp)));
    for (const key of this.committedUnknown) if (!works.has(key)) this.committedUnknown.delete(key);
    if (unknown.length === 0) return true;
    try {
      const committed = await log.committedOffsets(groupId, unknown.map((work) => work.tp));
      for (const work of unknown) {
        const key = partitionKey(work.tp);
        // Revoked meanwhile, or reassigned afresh (a new batcher that knows its offset).
        if (works.get(key) !== work || !this.committedUnknown.delete(key)) continue;
        work.learnCommitted(committed.get(key));
      }
      return true;
    } catch (error) {
      this.options.fail('committed offsets', error);
      return false;
    }
  }
}

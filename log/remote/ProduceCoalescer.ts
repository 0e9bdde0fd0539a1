import type { ProducerRecord, RecordMetadata } from '../Log.js';
import type { RemoteChannel } from './RemoteChannel.js';
import { checkRecordTypes, packRecords, transferablesOf, unpackMetadata } from './RecordPacking.js';
import { deserializeError } from './RemoteErrors.js';

interface PendingProduce {
  records: ProducerRecord[];
  resolve: (metadata: RecordMetadata[]) => void;
  reject: (error: unknown) => void;
}

/**
 * The client's group commit: produce() calls made in one event-loop turn (the HTTP requests one
 * poll of the sockets delivered) travel in one message, so the per-message cost of the port is
 * paid once per turn, not once per request. Each call still gets its own metadata or error. The
 * embedded log's GroupCommitWriter does the same with RocksDB writes, on the same setImmediate.
 */
export class ProduceCoalescer {
  private pending: PendingProduce[] = [];
  private scheduled: NodeJS.Immediate | null = null;

  constructor(private readonly channel: RemoteChannel) {}

  produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      this.channel.assertOpen('produce');
      checkRecordTypes(records);
      // The array is copied: the caller may reuse it once produce() has returned.
      this.pending.push({ records: records.slice(), resolve, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Sends what is pending now (close() calls it so nothing accepted is left behind). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    const calls = this.pending;
    if (calls.length === 0) return;
    this.pending = [];
    const records = calls.length === 1 ? calls[0].records : calls.flatMap((c) => c.records);
    const packed = packRecords(records);
    this.channel
      .call(
        'produce',
        [packed, calls.map((c) => c.records.length)],
        transferablesOf(packed),
      )
      .then(
        (outcomes) =>
          outcomes.forEach((outcome, i) => {
            if ('error' in outcome) calls[i].reject(deserializeError(outcome.error));
            else calls[i].resolve(unpackMetadata(outcome.metadata));
          }),
        (error: unknown) => {
          for (const c of calls) c.reject(error);
        },
      );
  }
}

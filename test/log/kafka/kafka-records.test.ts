import type { fetchV17 } from '@platformatic/kafka';
import { decodeFetchedPartition, splitForSend } from '../../../log/kafka/KafkaRecords.js';

const TRANSACTIONAL = 0b1_0000;
const CONTROL = 0b10_0000;

type Batch = NonNullable<fetchV17.FetchResponsePartition['records']>[number];

function batch(firstOffset: number, producerId: number, values: string[], attributes = TRANSACTIONAL): Batch {
  return {
    firstOffset: BigInt(firstOffset),
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes,
    lastOffsetDelta: values.length - 1,
    firstTimestamp: 1_000n,
    maxTimestamp: 1_000n,
    producerId: BigInt(producerId),
    producerEpoch: 0,
    firstSequence: 0,
    records: values.map((v, i) => ({ length: 0, attributes: 0, timestampDelta: BigInt(i), offsetDelta: i, key: null, value: Buffer.from(v), headers: [] })),
  };
}

function marker(offset: number, producerId: number, type: 0 | 1): Batch {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type, 2);
  const b = batch(offset, producerId, ['x'], TRANSACTIONAL | CONTROL);
  b.records[0]!.key = key;
  return b;
}

function partition(records: Batch[], aborted: { producerId: number; firstOffset: number }[]): fetchV17.FetchResponsePartition {
  return {
    partitionIndex: 0,
    errorCode: 0,
    highWatermark: 100n,
    lastStableOffset: 100n,
    logStartOffset: 0n,
    abortedTransactions: aborted.map((a) => ({ producerId: BigInt(a.producerId), firstOffset: BigInt(a.firstOffset) })),
    preferredReadReplica: -1,
    records,
  };
}

describe('decoding fetched partitions (read_committed)', () => {
  it('skips an aborted transaction even when its abort marker is not in this response', () => {
    // Producer 7 aborted a transaction starting at 10 (its marker lies beyond this response);
    // producer 8 committed its own.
    const response = partition([batch(10, 7, ['a1', 'a2']), batch(12, 8, ['c1']), batch(13, 7, ['a3'])], [{ producerId: 7, firstOffset: 10 }]);
    const { records, nextOffset } = decodeFetchedPartition('t', response, 10);
    expect(records.map((r) => r.value!.toString())).toEqual(['c1']);
    expect(nextOffset).toBe(14);
  });

  it('returns the producer’s later transactions after its abort marker, and skips markers', () => {
    const response = partition(
      [batch(10, 7, ['a1']), marker(11, 7, 0), batch(12, 7, ['ok1', 'ok2']), marker(14, 7, 1), batch(15, 9, ['plain'], 0)],
      [{ producerId: 7, firstOffset: 10 }],
    );
    const { records, nextOffset } = decodeFetchedPartition('t', response, 10);
    expect(records.map((r) => [r.offset, r.value!.toString()])).toEqual([
      [12, 'ok1'],
      [13, 'ok2'],
      [15, 'plain'],
    ]);
    expect(records[1]!.timestamp).toBe(1_001);
    expect(nextOffset).toBe(16);
  });

  it('drops records before the requested offset from a batch that starts earlier', () => {
    const { records } = decodeFetchedPartition('t', partition([batch(0, 1, ['r0', 'r1', 'r2'], 0)], []), 2);
    expect(records.map((r) => r.offset)).toEqual([2]);
  });
});

describe('splitting sends under the broker’s batch size limit', () => {
  it('cuts when a partition would pass the limit, keeping order and every message', () => {
    const message = (partition: number, bytes: number) => ({ topic: 't', partition, value: Buffer.alloc(bytes) });
    const messages = [message(0, 400), message(1, 400), message(0, 400), message(0, 400), message(1, 10)];
    const chunks = splitForSend(messages, 1000);
    expect(chunks.map((c) => c.length)).toEqual([3, 2]);
    expect(chunks.flat()).toEqual(messages);
    // A single message over the limit still goes (alone), for the broker to accept or refuse.
    expect(splitForSend([message(0, 5000), message(0, 1)], 1000).map((c) => c.length)).toEqual([1, 1]);
  });
});

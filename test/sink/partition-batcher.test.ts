import { PartitionBatcher } from '../../sink/PartitionBatcher.js';
import { asLogRecord } from './generate.js';

const tp = { topic: 't', partition: 0 };
const rec = (offset: number) => asLogRecord({ n: offset }, 't', 0, offset);

describe('PartitionBatcher: where batches are cut', () => {
  test('by size, then by age, as contiguous ranges from the committed offset', () => {
    const b = new PartitionBatcher(tp, 10, 3, 100);
    b.cuts = new Map();
    for (const offset of [12, 13, 14, 15]) b.add(rec(offset), 0); // 10 and 11 compacted away
    expect(b.cut(0, false)).toMatchObject({ first: 10, last: 14, cutRecorded: false });
    expect(b.cut(50, false)).toBeNull();
    expect(b.cut(100, false)).toMatchObject({ first: 15, last: 15 });
    expect(b.add(rec(15), 100)).toBe(false); // delivered again
    expect(b.add(rec(9), 100)).toBe(false); // below the committed offset
  });

  test('a recorded cut wins over size and age, and waits until its last offset is polled', () => {
    const b = new PartitionBatcher(tp, 0, 2, 10);
    b.cuts = new Map([[0, 4]]);
    for (const offset of [0, 1, 2]) b.add(rec(offset), 0);
    expect(b.overfull()).toBe(false); // 3 buffered, under 2 × maxBatchRecords
    b.add(rec(3), 0);
    expect(b.overfull()).toBe(false); // 4 buffered, but the recorded batch is not complete yet
    expect(b.cut(1_000, true)).toBeNull();
    b.add(rec(5), 0); // offset 4 gone: the cut still ends at 4
    expect(b.cut(1_000, false)).toMatchObject({ first: 0, last: 4, cutRecorded: true });
    expect(b.buffer.map((r) => r.offset)).toEqual([5]);
  });

  test('a recorded cut whose records all expired makes an empty batch that still advances', () => {
    const b = new PartitionBatcher(tp, 0, 10, 10);
    b.cuts = new Map([[0, 7]]);
    b.add(rec(20), 0);
    const batch = b.cut(0, false)!;
    expect(batch).toMatchObject({ first: 0, last: 7, records: [] });
    expect(b.cut(0, true)).toMatchObject({ first: 8, last: 20 });
  });

  test('a recorded cut whose records retention removed, with nothing new to poll, is cut empty once the log says so', () => {
    const b = new PartitionBatcher(tp, 0, 10, 10);
    b.cuts = new Map([[0, 7]]);
    expect(b.awaitedCut()).toEqual({ first: 0, last: 7 });
    b.logStartsAt(5); // offsets 5..7 still in the log: they will be polled
    expect(b.cut(1_000, true)).toBeNull();
    b.logStartsAt(8);
    expect(b.cut(1_000, false)).toMatchObject({ first: 0, last: 7, records: [], cutRecorded: true, full: true });
    expect(b.awaitedCut()).toBeUndefined();
    expect(b.add(rec(8), 0)).toBe(true);
    expect(b.cut(1_000, true)).toMatchObject({ first: 8, last: 8 });
  });

  test('never-committed partitions start at the first record the log still has; no cut before cuts are loaded', () => {
    const b = new PartitionBatcher(tp, undefined, 10, 10);
    b.add(rec(3), 0);
    expect(b.cut(100, true)).toBeNull();
    b.cuts = new Map();
    expect(b.cut(100, false)).toMatchObject({ first: 3, last: 3 });
  });
});

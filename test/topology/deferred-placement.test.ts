import type { ProducerRecord } from '../../log/Log.js';
import { deferPlacement, hasDeferredPlacement, placeDeferred } from '../../topology/runtime/DeferredPlacement.js';

const record = (topic: string): ProducerRecord => ({ topic, key: Buffer.from('k'), value: Buffer.from('v'), headers: {} });

describe('placing records whose StreamPartitioner needs the partition count of a topic chosen per record', () => {
  test('each is placed on the partitions its partitioner chooses for the topic\'s count; a choice that fails dead-letters that record', async () => {
    const placed = await placeDeferred(
      [record('plain'), deferPlacement(record('a'), (count) => [count - 1, 0]), deferPlacement(record('b'), () => {
        throw new Error('no partition for this key');
      })],
      async (topic) => (topic === 'a' ? 4 : 2),
      'dlq',
    );
    expect(placed.map((r) => [r.topic, r.partition])).toEqual([
      ['plain', undefined],
      ['a', 3],
      ['a', 0],
      ['dlq', undefined],
    ]);
    expect(placed[3]!.headers).toMatchObject({ dlq_reason: expect.stringContaining('no partition for this key') });
  });

  test('a partition count the log cannot give now fails the placement (the commit is retried) instead of dead-lettering the record', async () => {
    const deferred = deferPlacement(record('a'), () => [0]);
    await expect(placeDeferred([deferred], () => Promise.reject(new Error('broker unreachable')), 'dlq')).rejects.toThrow('broker unreachable');
    // Nothing consumed: the commit fails and its tasks are rebuilt from the last commit (TaskCommitter).
    expect(hasDeferredPlacement([deferred])).toBe(true);
  });
});

import { InMemoryKeyValueStore } from '../../state/InMemoryKeyValueStore.js';
import { jsonSerde, stringSerde } from '../../state/Serde.js';

const store = (loggingEnabled = true) =>
  new InMemoryKeyValueStore<string, { n: number }>({ name: 's', changelogTopic: 'app-s-changelog', keySerde: stringSerde, valueSerde: jsonSerde(), loggingEnabled });

describe('InMemoryKeyValueStore', () => {
  test('reads its writes, ranges in serialized-key order, and a restarted copy restores from the drained changelog', async () => {
    const first = store();
    expect(await first.open('unused')).toBeUndefined();
    first.put('b', { n: 1 });
    first.put('a', { n: 2 });
    first.put('c', { n: 3 });
    first.delete('c');
    first.put('b', { n: 4 });
    expect(first.all()).toEqual([{ key: 'a', value: { n: 2 } }, { key: 'b', value: { n: 4 } }]);
    expect(first.range('a', 'a')).toEqual([{ key: 'a', value: { n: 2 } }]);
    const changelog = first.drainChangelog(3, '17');
    // The last write per key, deletes as null values, on the task's partition.
    expect(changelog.map((r) => [r.key!.toString(), r.value === null ? null : r.value.toString(), r.partition, r.headers])).toEqual([
      ['b', '{"n":4}', 3, { source_offset: '17' }],
      ['a', '{"n":2}', 3, { source_offset: '17' }],
      ['c', null, 3, { source_offset: '17' }],
    ]);
    expect(first.drainChangelog(3, '18')).toEqual([]);
    await first.close();

    const second = store();
    expect(await second.open('unused')).toBeUndefined();
    expect(second.all()).toEqual([]);
    await second.restore(changelog.map((r, offset) => ({ ...r, partition: 3, offset, timestamp: 0, headers: r.headers ?? {} })));
    await second.finishRestore(changelog.length);
    expect(second.get('b')).toEqual({ n: 4 });
    expect(second.get('c')).toBeUndefined();
    expect(second.approximateNumEntries()).toBe(2);
  });

  test('with logging disabled drains nothing', async () => {
    const s = store(false);
    await s.open('unused');
    s.put('a', { n: 1 });
    expect(s.get('a')).toEqual({ n: 1 });
    expect(s.drainChangelog(0, '0')).toEqual([]);
  });
});

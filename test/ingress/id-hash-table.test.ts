import { describe, expect, test } from '@jest/globals';
import { MemoryIdempotencyStore } from '../../ingress/IdempotencyStore.js';

describe('MemoryIdempotencyStore over hashed ids', () => {
  test('200k distinct ids are all first sightings, and every one of them is then a duplicate', () => {
    const store = new MemoryIdempotencyStore(400_000);
    const ids = Array.from({ length: 200_000 }, (_, i) => `evt_${i.toString(36)}_${(i * 7919) % 1000}`);
    const ns = new Array<string>(ids.length).fill('product');
    const ttls = new Array<number>(ids.length).fill(60_000);
    expect(store.claimNow(ns, ids, ttls, 0).filter((claimed) => !claimed)).toHaveLength(0);
    expect(store.claimNow(ns, ids, ttls, 1).filter((claimed) => claimed)).toHaveLength(0);
    // Near-identical ids (one character apart) are different ids.
    expect(store.claimNow(['product', 'product'], ['evt_0_0x', 'evt_0_1'], [60_000, 60_000], 2)).toEqual([true, true]);
  });

  test('a released id is claimable again in the young and in the old generation', async () => {
    const store = new MemoryIdempotencyStore(4); // generations of 2
    expect(store.claimNow(['k', 'k'], ['a', 'b'], [1000, 1000], 0)).toEqual([true, true]);
    expect(store.claimNow(['k'], ['c'], [1000], 0)).toEqual([true]); // a, b are now the old generation
    await store.release(['k', 'k'], ['a', 'c']);
    expect(store.claimNow(['k', 'k', 'k'], ['a', 'b', 'c'], [1000, 1000, 1000], 1)).toEqual([true, false, true]);
    expect(store.size).toBeLessThanOrEqual(4);
  });
});

import { dedupe, learningEventIdentity } from '../../processors/DedupeProcessor.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import { StreamsBuilder } from '../../topology/index.js';
import { jsonValues, readAll } from '../support/streams.js';
import { harness, type Harness } from './support.js';

interface Ev {
  type: string;
  id: string;
  n: number;
}

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

function topology(purgeIntervalMs = 60_000) {
  const builder = new StreamsBuilder();
  const events = builder.stream<string, Ev>('events');
  dedupe(events, {
    storeName: 'seen',
    ttlMs: { attempt: 24 * HOUR, session: 12 * HOUR },
    defaultTtlMs: HOUR,
    purgeIntervalMs,
    idOf: (event) => ({ type: event.type, id: event.id }),
  }).to('unique');
  return builder;
}

const rec = (user: string, type: string, id: string, n: number, timestamp: number) => ({
  topic: 'events',
  key: Buffer.from(user),
  value: Buffer.from(JSON.stringify({ type, id, n })),
  timestamp,
});

describe('DedupeProcessor', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await harness('dedupe');
    await h.log.ensureTopic('events', { partitions: 2 });
  });

  afterEach(async () => {
    await h.close();
  });

  test('drops repeats of (type, id) within the type TTL, passes them after it, and counts duplicates', async () => {
    await h.log.produce([
      rec('u1', 'attempt', 'a1', 1, T0),
      rec('u1', 'attempt', 'a1', 2, T0 + 1000), // duplicate
      rec('u1', 'session', 'a1', 3, T0 + 2000), // same id, other type: not a duplicate
      rec('u1', 'session', 'a1', 4, T0 + 11 * HOUR), // within 12 h: duplicate
      rec('u1', 'session', 'a1', 5, T0 + 13 * HOUR), // after 12 h: passes again
      rec('u1', 'attempt', 'a1', 6, T0 + 23 * HOUR), // within 24 h: duplicate
      rec('u1', 'attempt', 'a1', 7, T0 + 25 * HOUR), // after: passes
      rec('u2', 'product', 'p1', 8, T0 + 25 * HOUR),
      rec('u2', 'product', 'p1', 9, T0 + 25 * HOUR + 30 * 60_000), // default TTL 1 h: duplicate
      rec('u2', 'product', 'p1', 10, T0 + 27 * HOUR), // passes
    ]);
    await h.run(topology(), ['events']);
    const passed = jsonValues<Ev>(await readAll(h.log, 'unique')).map((e) => e.n).sort((a, b) => a - b);
    expect(passed).toEqual([1, 3, 5, 7, 8, 10]);
    expect(await h.outcome('dedupe', 'duplicate')).toBe(4);
    expect(await h.outcome('dedupe', 'unique')).toBe(6);
  });

  test('stream-time punctuation purges expired ids so the store holds only live ones', async () => {
    const records = Array.from({ length: 200 }, (_, n) => rec(`u${n % 5}`, 'product', `id-${n}`, n, T0 + n * 60_000));
    await h.log.produce(records);
    const app = await h.run(topology(10 * 60_000), ['events']);
    // Default TTL 1 h, last record at T0 + 199 min: only ids newer than ~1 h (plus one purge interval) remain.
    const stores = app.localStores<KeyValueStore<string, number>>('seen');
    const seen = stores.flatMap((s) => s.all()).filter((kv) => kv.key.startsWith('s:'));
    const index = stores.flatMap((s) => s.all()).filter((kv) => kv.key.startsWith('x:'));
    // Each task purges on its own stream time, up to one interval (plus record spacing) behind.
    expect(seen.length).toBeLessThanOrEqual(80);
    expect(seen.length).toBeGreaterThanOrEqual(55);
    expect(index.length).toBe(seen.length);
    expect(await h.outcome('dedupe', 'expired')).toBe(200 - seen.length);
    for (const { value } of seen) expect(value).toBeGreaterThan(T0 + 180 * 60_000);
  });

  test('dedupe state survives a restart (restored from its changelog when the local state is gone)', async () => {
    await h.log.produce([rec('u1', 'attempt', 'a1', 1, T0)]);
    const first = await h.run(topology(), ['events'], { applicationId: 'dedupe-restart' });
    await first.close();
    const { rmSync } = await import('node:fs');
    rmSync(`${h.dir}/state`, { recursive: true, force: true });
    await h.log.produce([rec('u1', 'attempt', 'a1', 2, T0 + 5000), rec('u1', 'attempt', 'a2', 3, T0 + 6000)]);
    await h.run(topology(), ['events'], { applicationId: 'dedupe-restart' });
    expect(jsonValues<Ev>(await readAll(h.log, 'unique')).map((e) => e.n).sort()).toEqual([1, 3]);
  });

  test('the expiry index is not changelogged and is rebuilt on restore: restored ids are still purged when they expire', async () => {
    const onOne = (n: number, timestamp: number) => ({ ...rec('u1', 'product', `id-${n}`, n, timestamp), partition: 0 });
    await h.log.produce(Array.from({ length: 10 }, (_, n) => onOne(n, T0 + n * 1000)));
    const first = await h.run(topology(10 * 60_000), ['events'], { applicationId: 'dedupe-index' });
    await first.close();
    const changelog = await readAll(h.log, 'dedupe-index-seen-changelog');
    // One record per unique id (the s: entry); the old layout also wrote an x: record for each.
    expect(changelog.map((r) => r.key!.toString()).sort()).toEqual(Array.from({ length: 10 }, (_, n) => `s:product:id-${n}`).sort());

    const { rmSync } = await import('node:fs');
    rmSync(`${h.dir}/state`, { recursive: true, force: true });
    // Two hours later (default TTL 1 h): the restored ids expire, which only the rebuilt index can tell the purge.
    await h.log.produce([onOne(10, T0 + 2 * HOUR), onOne(0, T0 + 2 * HOUR + 1000)]);
    const app = await h.run(topology(10 * 60_000), ['events'], { applicationId: 'dedupe-index' });
    const entries = app.localStores<KeyValueStore<string, number>>('seen').flatMap((store) => store.all());
    expect(entries.filter((kv) => kv.key.startsWith('s:')).map((kv) => kv.key).sort()).toEqual(['s:product:id-0', 's:product:id-10']);
    expect(entries.filter((kv) => kv.key.startsWith('x:'))).toHaveLength(2);
    expect(await h.outcome('dedupe', 'expired')).toBe(10);
    // id-0 came back after its TTL: it passes again.
    expect(jsonValues<Ev>(await readAll(h.log, 'unique')).map((e) => e.n).sort((a, b) => a - b)).toEqual([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('LearningEvent identity: type, user and client id; ids the ingress assigned are not deduped', () => {
    const event = { event_type: 'attempt', event_id: 'a1', user_id: 'u1', id_assigned: false } as LearningEvent;
    expect(learningEventIdentity(event)).toEqual({ type: 'attempt', id: '2:u1:a1' });
    expect(learningEventIdentity({ ...event, id_assigned: true })).toBeUndefined();
    // Ambiguous joins stay apart: user "u:1" + id "a" is not user "u" + id "1:a".
    expect(learningEventIdentity({ ...event, user_id: 'u:1', event_id: 'a' })).not.toEqual(learningEventIdentity({ ...event, user_id: 'u', event_id: '1:a' }));
  });

  test('the same client id from two users is two events; from one user, one (issue 12: ids are scoped by user)', async () => {
    const builder = new StreamsBuilder();
    dedupe(builder.stream<string, LearningEvent>('events'), { storeName: 'seen', ttlMs: {}, defaultTtlMs: HOUR, idOf: learningEventIdentity }).to('unique');
    const event = (user: string, n: number) => ({
      topic: 'events',
      partition: 0, // both users on one partition, so one store sees both
      key: Buffer.from(user),
      value: Buffer.from(JSON.stringify({ event_type: 'attempt', event_id: 'shared-id', user_id: user, id_assigned: false, n })),
      timestamp: T0 + n,
    });
    await h.log.produce([event('alice', 1), event('bob', 2), event('alice', 3)]);
    await h.run(builder, ['events'], { applicationId: 'dedupe-users' });
    expect(jsonValues<{ n: number }>(await readAll(h.log, 'unique')).map((e) => e.n).sort()).toEqual([1, 2]);
  });
});

import { deriveEnrichment, enrich, localHour, referenceTables } from '../../processors/Enrichment.js';
import { ParseProcessor } from '../../processors/DefaultPipeline.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';
import { loadReferenceData, parseNdjson } from '../../processors/ReferenceData.js';
import { bufferSerde, stringSerde } from '../../state/Serde.js';
import { StreamsBuilder, type KStream } from '../../topology/index.js';
import { jsonValues, readAll } from '../support/streams.js';
import { harness, landingRecord, type Harness } from './support.js';

const T = Date.UTC(2024, 0, 15, 22, 30); // 22:30 UTC = 07:30 next day in Tokyo, 23:30 in Berlin

describe('enrichment joins', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await harness('enrich');
    await h.log.ensureTopic('landing', { partitions: 3 });
  });

  afterEach(async () => {
    await h.close();
  });

  test('users (co-partitioned KTable) and items (GlobalKTable) join; misses pass unenriched and are counted', async () => {
    await loadReferenceData(h.log, 'users', parseNdjson(
      [
        JSON.stringify({ user_id: 'u1', type: 'premium', country: 'JP', jurisdiction: 'JP', timezone: 'Asia/Tokyo', skill_level: 0.5, average_accuracy: 0.6, total_sessions: 10, created_at: '2020-01-01T00:00:00Z' }),
        JSON.stringify({ user_id: 'u2', type: 'free', country: 'DE', timezone: 'Europe/Berlin', total_sessions: 0 }),
        '',
      ].join('\n'),
    ), { partitions: 3, timestamp: 0 });
    await loadReferenceData(h.log, 'items', [{ item_id: 'i1', difficulty: 0.9, average_accuracy: 0.3, topics: ['signs'], cognitive_level: 'apply', popularity: 12 }], { timestamp: 0 });
    const events = [
      landingRecord('landing', { event_id: 'a1', event_type: 'attempt', received_at: T, payload: { user_id: 'u1', item_id: 'i1', correct: true, time_taken_ms: 800 } }, 'u1'),
      landingRecord('landing', { event_id: 'a2', event_type: 'attempt', received_at: T, payload: { user_id: 'u2', item_id: 'i-missing', correct: false, time_taken_ms: 20_000 } }, 'u2'),
      landingRecord('landing', { event_id: 'a3', event_type: 'attempt', received_at: T, payload: { user_id: 'ghost', item_id: 'i1', correct: false, time_taken_ms: 70_000 } }, 'ghost'),
      landingRecord('landing', { event_id: 's1', event_type: 'session', received_at: T, payload: { session_id: 's1', user_id: 'u1', items_attempted: 10, correct_count: 9 } }, 'u1'),
    ];
    await h.log.produce(events);

    const builder = new StreamsBuilder();
    const landing = builder.stream<string | null, Buffer | null>('landing', { keySerde: stringSerde, valueSerde: bufferSerde });
    const parsed: KStream<string, LearningEvent> = landing.process(() => new ParseProcessor(), { name: 'parse' }).markAsPartitioned();
    const { users, items } = referenceTables(builder);
    enrich(parsed, users, items).to('enriched');
    await h.run(builder, ['landing', 'ref.users']);

    const byId = new Map(jsonValues<LearningEvent>(await readAll(h.log, 'enriched')).map((e) => [e.event_id, e]));
    expect(byId.size).toBe(4);
    const a1 = byId.get('a1')!.enrichment!;
    expect(a1.user).toMatchObject({ type: 'premium', jurisdiction: 'JP' });
    expect(a1.item).toMatchObject({ difficulty: 0.9, topics: ['signs'] });
    expect(a1.derived).toMatchObject({ response_time_category: 'rapid', difficulty_match: 'too_hard', local_hour: 7, time_of_day: 'morning', timezone: 'Asia/Tokyo', performance_vs_expected: 0.7, performance_category: 'above', is_new_user: false });
    const a2 = byId.get('a2')!.enrichment!;
    expect(a2.user).toMatchObject({ type: 'free' });
    expect(a2.item).toBeNull();
    expect(a2.derived).toMatchObject({ response_time_category: 'slow', local_hour: 23, time_of_day: 'evening', is_new_user: true });
    const a3 = byId.get('a3')!.enrichment!;
    expect(a3.user).toBeNull();
    expect(a3.derived).toMatchObject({ response_time_category: 'very_slow', local_hour: 22, timezone: 'UTC' });
    expect(a3.derived.is_new_user).toBeUndefined();
    expect(byId.get('s1')!.enrichment!.derived).toMatchObject({ session_accuracy: 0.9, performance_vs_expected: 0.3, performance_category: 'above' });
    expect(byId.get('s1')!.enrichment!.item).toBeNull();

    expect(await h.outcome('enrich', 'user_hit')).toBe(3);
    expect(await h.outcome('enrich', 'user_miss')).toBe(1);
    expect(await h.outcome('enrich', 'item_hit')).toBe(2);
    // The session has no item: not a miss.
    expect(await h.outcome('enrich', 'item_miss')).toBe(1);
  });

  test('derived enrichments without reference data, and an invalid timezone falls back to UTC', () => {
    expect(localHour(T, 'Not/AZone')).toEqual({ hour: 22, timezone: 'UTC' });
    const event = { kind: 'attempt', event_time: T, payload: { time_taken_ms: 4000 } } as unknown as LearningEvent;
    expect(deriveEnrichment(event, null, null)).toEqual({ local_hour: 22, time_of_day: 'evening', timezone: 'UTC', response_time_category: 'fast' });
    expect(deriveEnrichment(event, { user_id: 'u', skill_level: 0.5 }, { item_id: 'i', difficulty: 0.55 }).difficulty_match).toBe('matched');
    expect(deriveEnrichment(event, { user_id: 'u', skill_level: 0.8 }, { item_id: 'i', difficulty: 0.2 }).difficulty_match).toBe('too_easy');
  });

  test('reference rows are checked before anything is produced', async () => {
    await expect(loadReferenceData(h.log, 'users', [{ user_id: 'ok' }, { type: 'premium' }])).rejects.toThrow(/row 2 has no user_id/);
    await expect(h.log.partitionCount('ref.users')).rejects.toThrow();
    expect(() => parseNdjson('{"user_id":"a"}\n{nope')).toThrow(/line 2 is not JSON/);
  });
});

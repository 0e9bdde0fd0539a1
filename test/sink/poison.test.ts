import fs from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { partitionKey, type LogRecord, type TopicPartition } from '../../log/Log.js';
import type { Row } from '../../sink/AnalyticsStore.js';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { ClickHouseSink, type SinkBatchInfo } from '../../sink/ClickHouseSink.js';
import { classifyInsertError, clickHouseErrorCode } from '../../sink/InsertErrors.js';
import { migrate } from '../../sink/Migrator.js';
import { insertIsolatingPoison, type IsolationStep } from '../../sink/PoisonIsolation.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { DLQ_REASON, DLQ_TIMESTAMP, ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC } from '../../topology/runtime/DeadLetters.js';
import { FlakyStore, waitFor } from './FlakyStore.js';
import { asLogRecord, envelope, generateEvents, poisonCases, poisonRoutes } from './generate.js';
import { tempDir } from '../support/temp-dir.js';

const TOPIC = 'events.clean';
const DLQ = 'sink-dlq';
const PARTITIONS = 3;
const TPS: TopicPartition[] = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition }));

describe('insert errors: the rows or the engine', () => {
  test.each([
    ['chDB, a lone surrogate', new Error('Code: 25. DB::Exception: Cannot parse escape sequence: missing second part of surrogate pair. (CANNOT_PARSE_ESCAPE_SEQUENCE)'), 'data'],
    ['chDB, a negative UInt32', new Error('Code: 72. DB::Exception: Unsigned type must not contain \'-\' symbol: (at row 1)'), 'data'],
    ['server client, ClickHouseError', Object.assign(new Error('Cannot parse DateTime'), { code: '41', type: 'CANNOT_PARSE_DATETIME' }), 'data'],
    ['too many partitions for one block', new Error('Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). (TOO_MANY_PARTS)'), 'data'],
    ['too many parts: merges are behind', new Error('Code: 252. DB::Exception: Too many parts (3001). Merges are processing significantly slower than inserts. (TOO_MANY_PARTS)'), 'engine'],
    ['out of memory', new Error('Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)'), 'engine'],
    ['no space', Object.assign(new Error('Not enough space'), { code: '243', type: 'NOT_ENOUGH_SPACE' }), 'engine'],
    ['unknown table', new Error('Code: 60. DB::Exception: Table events_db.x does not exist. (UNKNOWN_TABLE)'), 'engine'],
    ['a socket', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }), 'engine'],
    ['a closed store', new Error('ChdbStore is closed'), 'engine'],
  ])('%s', (_name, error, kind) => {
    expect(classifyInsertError(error)).toBe(kind);
  });

  test('the code is read from either store', () => {
    expect(clickHouseErrorCode(new Error('Code: 27. DB::Exception: Cannot parse input'))).toBe(27);
    expect(clickHouseErrorCode(Object.assign(new Error('x'), { code: '72' }))).toBe(72);
    expect(clickHouseErrorCode(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(clickHouseErrorCode('not an error')).toBeUndefined();
  });
});

describe('isolating refused rows on real chDB', () => {
  const dir = tempDir('isolation');
  let store: ChdbStore;
  beforeAll(async () => {
    store = await ChdbStore.open({ path: path.join(dir, 'chdb'), maxRowsPerInsert: 40 });
    await migrate(store, { eventsTtlDays: 0 });
  });
  afterAll(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const rowsOf = (records: LogRecord[]): Row[] => records.map((record) => rawEventMapper(JSON.parse(record.value!.toString()), record) as Row);

  test('refused rows come back by index, the rest go in once; a replay walks the same blocks and inserts nothing', async () => {
    const now = Date.now();
    const records = generateEvents(100, now, 2, 7).map((event, i) => asLogRecord(envelope(event), 'iso', 0, i));
    const poison = poisonCases(now, 'iso');
    // Two refused rows in the second chunk (rows 40-79), one in the last (80-99).
    for (const [index, value] of [[45, poison[0]!.value], [71, poison[1]!.value], [99, poison[0]!.value]] as const) records[index] = { ...records[index]!, value };
    const rows = rowsOf(records);
    const steps: IsolationStep[] = [];
    const insert = () => insertIsolatingPoison(store, 'events_raw', rows, { dedupToken: 'iso:0:0-99', maxRowsPerInsert: 40, onStep: (step) => void steps.push(step) });

    const refused = await insert();
    expect(refused.map((r) => r.index)).toEqual([45, 71, 99]);
    expect(String(refused[1]!.error)).toMatch(/Code: 25\./);
    const count = async () => (await store.query<{ n: number }>("SELECT count() AS n FROM events_db.events_raw WHERE topic = 'iso'"))[0]!.n;
    expect(await count()).toBe(97);
    // Bounded: about 2·log2(block) inserts per refused row, not one per row.
    expect(steps.length).toBeLessThan(30);
    expect(steps.every((step) => /^iso:0:0-99\/[12]\/rows:\d+-\d+$/.test(step.dedupToken))).toBe(true);

    const firstWalk = steps.splice(0);
    expect(await insert()).toEqual(refused.map((r) => ({ index: r.index, error: expect.anything() })));
    expect(steps).toEqual(firstWalk);
    expect(await count()).toBe(97);
  });

  test('a block refused only as a whole (too many partitions for one insert) ends with every row in, nothing refused', async () => {
    // A server with throw_on_max_partitions_per_insert_block refuses a block spanning more than
    // max_partitions_per_insert_block months; chDB 26.7 only warns. Refused here, as the server
    // would, for any block over 60 rows; the inserts themselves go to the real engine.
    const refusingLargeBlocks = {
      insert: (table: string, rows: readonly Row[], options: { dedupToken: string }) =>
        rows.length > 60
          ? Promise.reject(new Error('Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). (TOO_MANY_PARTS)'))
          : store.insert(table, rows, options),
    };
    const rows = Array.from({ length: 101 }, (_, i) => {
      const record = asLogRecord(envelope({ event_id: `month-${i}`, event_name: 'view', channel: 'web', user_id: 'u', timestamp: Date.UTC(2010, i, 15) }), 'months', 0, i);
      return rawEventMapper(JSON.parse(record.value!.toString()), record) as Row;
    });
    const steps: IsolationStep[] = [];
    const refused = await insertIsolatingPoison(refusingLargeBlocks, 'events_raw', rows, { dedupToken: 'months:0:0-100', maxRowsPerInsert: 1000, onStep: (step) => void steps.push(step) });
    expect(refused).toEqual([]);
    // After the left half goes in, the right half is split without being tried whole, down to
    // its last row, which is tried on its own (a row is only dead-lettered after that) and goes in.
    expect(steps.map((step) => [step.dedupToken.replace('months:0:0-100/', ''), step.refused])).toEqual([
      ['rows:0-50', false],
      ['rows:51-75', false],
      ['rows:76-88', false],
      ['rows:89-94', false],
      ['rows:95-97', false],
      ['rows:98-99', false],
      ['rows:100-100', false],
    ]);
    expect((await store.query<{ n: number }>("SELECT count() AS n FROM events_db.events_raw WHERE topic = 'months'"))[0]!.n).toBe(101);
  });

  test('an engine error during isolation is thrown, not taken for a refused row', async () => {
    const now = Date.now();
    const records = generateEvents(8, now, 1, 8).map((event, i) => asLogRecord(envelope(event), 'down', 0, i));
    records[5] = { ...records[5]!, value: poisonCases(now, 'down')[0]!.value };
    const flaky = new FlakyStore(store);
    await expect(
      insertIsolatingPoison(flaky, 'events_raw', rowsOf(records), {
        dedupToken: 'down:0:0-7',
        maxRowsPerInsert: 100,
        onStep: () => {
          flaky.down = true;
        },
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('ClickHouseSink with poison records on the embedded log and real chDB', () => {
  const dir = tempDir('poison');
  let log: EmbeddedLog;
  let chdb: ChdbStore;
  let store: FlakyStore;
  const running: ClickHouseSink[] = [];

  beforeAll(async () => {
    log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    await log.ensureTopic(TOPIC, { partitions: PARTITIONS });
    chdb = await ChdbStore.open({ path: path.join(dir, 'chdb') });
    await migrate(chdb, { eventsTtlDays: 0 });
    store = new FlakyStore(chdb);
  });
  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop({ flush: false });
    store.down = false;
  });
  afterAll(async () => {
    await log.close();
    await chdb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function sink(groupId: string, options: { registry?: Registry; batches?: SinkBatchInfo[]; onIsolationStep?: () => void } = {}) {
    const s = new ClickHouseSink({
      log,
      store,
      routes: poisonRoutes(TOPIC),
      groupId,
      maxBatchRecords: 300,
      lingerMs: 30,
      retryInitialMs: 20,
      retryMaxMs: 200,
      healthCheckIntervalMs: 50,
      deadLetterTopic: DLQ,
      registry: options.registry,
      onBatchInserted: (batch) => void options.batches?.push(batch),
      onIsolationStep: options.onIsolationStep,
    });
    running.push(s);
    return s;
  }

  async function caughtUp(groupId: string): Promise<boolean> {
    const committed = await log.committedOffsets(groupId, TPS);
    for (const tp of TPS) if ((committed.get(partitionKey(tp)) ?? 0) < (await log.endOffset(tp))) return false;
    return true;
  }

  async function deadLetters(): Promise<LogRecord[]> {
    const tp = { topic: DLQ, partition: 0 };
    try {
      return await log.read(tp, 0, 10_000);
    } catch {
      return [];
    }
  }

  async function count(sql: string): Promise<number> {
    return (await chdb.query<{ n: number }>(sql))[0]!.n;
  }

  /** Good events with every poison case in the middle of one partition; returns what must arrive. */
  async function produceWithPoison(tag: string, seed: number) {
    const now = Date.now();
    const good = generateEvents(1200, now, 3, seed);
    const poison = poisonCases(now, tag);
    const toRecord = (e: (typeof good)[number]) => ({ topic: TOPIC, key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(envelope(e))) });
    await log.produce(good.slice(0, 600).map(toRecord));
    const placed = await log.produce(poison.map((p, i) => ({ topic: TOPIC, partition: i % PARTITIONS, key: Buffer.from('user-poison'), value: p.value })));
    await log.produce(good.slice(600).map(toRecord));
    return { good, poison, placed, tag };
  }

  test('each poison record is dead-lettered once with its reason, every other row arrives once, the sink stays ready', async () => {
    const registry = new Registry();
    const batches: SinkBatchInfo[] = [];
    const { good, poison, placed, tag } = await produceWithPoison('mid', 11);
    const s = sink('poison-sink', { registry, batches });
    await s.start();
    let everNotReady = false;
    await waitFor('caught up', async () => {
      everNotReady ||= !s.isReady();
      return caughtUp('poison-sink');
    });
    expect(everNotReady).toBe(false);
    expect(s.status()).toMatchObject({ ready: true, failing: false, lastError: null });

    const rawRows = good.length + poison.filter((p) => p.rawRow).length;
    expect(await count("SELECT count() AS n FROM events_db.events_raw WHERE topic = 'events.clean'")).toBe(rawRows);
    expect(await count("SELECT uniqExact(offset, partition) AS n FROM events_db.events_raw WHERE topic = 'events.clean'")).toBe(rawRows);
    expect(await count('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly')).toBe(rawRows);
    expect(await count(`SELECT count() AS n FROM events_db.events_raw WHERE event_id LIKE '${tag}-%'`)).toBe(1); // the attempt's raw row

    const letters = await deadLetters();
    expect(letters).toHaveLength(poison.length);
    for (const [i, p] of poison.entries()) {
      const letter = letters.find((l) => l.headers[ORIGINAL_PARTITION] === String(placed[i]!.partition) && l.headers[ORIGINAL_OFFSET] === String(placed[i]!.offset));
      expect({ name: p.name, found: letter !== undefined }).toEqual({ name: p.name, found: true });
      expect(letter!.value).toEqual(p.value); // the original bytes, for a replay after a fix
      expect(letter!.key!.toString()).toBe('user-poison');
      expect(letter!.headers[ORIGINAL_TOPIC]).toBe(TOPIC);
      expect(letter!.headers[DLQ_REASON]).toMatch(p.reason);
      expect(Number.isNaN(Date.parse(letter!.headers[DLQ_TIMESTAMP]!))).toBe(false);
    }
    expect(batches.reduce((n, b) => n + b.deadLetters, 0)).toBe(poison.length);

    const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values;
    const byReason = Object.fromEntries((await metric('streamline_sink_dead_letters_total')).map((v) => [v.labels.reason, v.value]));
    expect(byReason).toEqual({ refused: 3, not_json: 1, mapper_error: 1 });
    expect(await metric('streamline_sink_insert_failures_total')).toEqual([]); // refusals are not engine failures
    expect((await metric('streamline_sink_isolation_inserts_total')).length).toBeGreaterThan(0);
    expect((await metric('streamline_sink_ready'))[0]!.value).toBe(1);
  });

  test('ClickHouse down in the middle of an isolation: not ready, then the retry walks the same blocks and every count is still exact', async () => {
    // A second group over the same topic: its rows are dropped as the first group's by token...
    // except that the tokens name the same offsets, so it would insert nothing. Use a fresh topic.
    const topic = 'events.clean.down';
    await log.ensureTopic(topic, { partitions: 1 });
    const now = Date.now();
    const good = generateEvents(500, now, 2, 12);
    const poison = poisonCases(now, 'down').slice(0, 3);
    const values = [...good.slice(0, 250).map((e) => Buffer.from(JSON.stringify(envelope(e)))), ...poison.map((p) => p.value), ...good.slice(250).map((e) => Buffer.from(JSON.stringify(envelope(e))))];
    await log.produce(values.map((value) => ({ topic, key: Buffer.from('k'), value })));

    let steps = 0;
    const s = new ClickHouseSink({
      log,
      store,
      routes: poisonRoutes(topic),
      groupId: 'poison-down',
      maxBatchRecords: 1000,
      lingerMs: 30,
      retryInitialMs: 20,
      retryMaxMs: 100,
      healthCheckIntervalMs: 50,
      deadLetterTopic: 'sink-dlq-down',
      onIsolationStep: () => {
        if (++steps === 4) store.down = true;
      },
    });
    running.push(s);
    await s.start();
    await waitFor('the sink to notice ClickHouse is down', () => !s.isReady());
    expect(s.status().lastError).toMatch(/ECONNREFUSED/);
    store.down = false;
    const tp = { topic, partition: 0 };
    await waitFor('caught up', async () => ((await log.committedOffsets('poison-down', [tp])).get(partitionKey(tp)) ?? 0) === values.length);
    await waitFor('ready again', () => s.isReady());

    expect(await count(`SELECT count() AS n FROM events_db.events_raw WHERE topic = '${topic}'`)).toBe(good.length + 1);
    expect(await count(`SELECT uniqExact(offset) AS n FROM events_db.events_raw WHERE topic = '${topic}'`)).toBe(good.length + 1);
    const letters = await log.read({ topic: 'sink-dlq-down', partition: 0 }, 0, 100);
    expect(letters.map((l) => Number(l.headers[ORIGINAL_OFFSET]))).toEqual([250, 251, 252]);
  });
});

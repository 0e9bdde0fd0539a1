import { afterEach, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import type { ProducerRecord } from '../../log/Log.js';
import { DiskSpool, SpoolFullError } from '../../ingress/DiskSpool.js';
import { ENTRY_HEADER_BYTES } from '../../ingress/SpoolCodec.js';
import { tempDir } from '../support/temp-dir.js';

const record = (i: number, extra: Partial<ProducerRecord> = {}): ProducerRecord => ({
  topic: 'events.raw',
  key: Buffer.from(`user-${i % 3}`),
  value: Buffer.from(JSON.stringify({ i })),
  timestamp: 1_700_000_000_000 + i,
  ...extra,
});

const values = (records: ProducerRecord[]) => records.map((r) => JSON.parse(r.value!.toString()).i as number);

function segments(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.spool')).sort();
}

describe('DiskSpool', () => {
  const dirs: string[] = [];
  const spools: DiskSpool[] = [];
  const open = async (dir: string, maxBytes = 1024 * 1024, segmentBytes = 64 * 1024) => {
    const spool = await DiskSpool.open({ dir, maxBytes, segmentBytes });
    spools.push(spool);
    return spool;
  };
  const fresh = () => {
    const dir = tempDir('spool');
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    for (const spool of spools.splice(0)) await spool.close().catch(() => undefined);
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('records round-trip with null keys and values, headers and explicit partitions, in order', async () => {
    const spool = await open(fresh());
    const input = [record(1), record(2, { key: null, headers: { dlq_reason: 'bad: ünïcode', original_topic: 'events.raw' } }), record(3, { partition: 2 })];
    await spool.append(input);
    await spool.append([record(4, { value: null, key: Buffer.from('k') })]);
    const { records, entries } = await spool.peek(100);
    expect(entries).toBe(2);
    expect(records.slice(0, 3)).toEqual(input);
    expect(records[3]).toMatchObject({ value: null, key: Buffer.from('k') });
    expect(spool.records).toBe(4);
  });

  test('concurrent appends are group-committed yet keep call order', async () => {
    const spool = await open(fresh());
    await Promise.all(Array.from({ length: 100 }, (_, i) => spool.append([record(i)])));
    const { records } = await spool.peek(1000);
    expect(values(records)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  test('acked entries are not recovered after a restart; the rest are, in order, across segments', async () => {
    const dir = fresh();
    const spool = await open(dir, 1024 * 1024, 512);
    for (let i = 0; i < 40; i++) await spool.append([record(i)]);
    expect(segments(dir).length).toBeGreaterThan(2);
    const first = await spool.peek(15);
    expect(values(first.records)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    await spool.ack(first.entries);
    await spool.close();

    const reopened = await open(dir, 1024 * 1024, 512);
    expect(reopened.records).toBe(25);
    expect(reopened.recovery.corruptEntries).toBe(0);
    const rest = await reopened.peek(1000);
    expect(values(rest.records)).toEqual(Array.from({ length: 25 }, (_, i) => 15 + i));
    await reopened.ack(rest.entries);
    expect(reopened.isEmpty()).toBe(true);
    expect(reopened.bytes).toBe(0);
  });

  test('an entry appended with a late produce outcome is peeked alone, batches stop before it, and a restart forgets the outcome', async () => {
    const dir = fresh();
    let spool = await open(dir);
    const landed = Promise.resolve(true);
    await spool.append([record(1)]);
    await spool.append([record(2)]);
    await spool.append([record(3), record(4)], landed);
    await spool.append([record(5)]);
    // The batch before it stops at it, even with room for more.
    const first = await spool.peek(100);
    expect([values(first.records), first.entries, first.landed]).toEqual([[1, 2], 2, undefined]);
    await spool.ack(first.entries);
    // Then it comes alone, with its outcome.
    const second = await spool.peek(100);
    expect(values(second.records)).toEqual([3, 4]);
    expect(second.entries).toBe(1);
    expect(second.landed).toBe(landed);
    // Forgotten (the produce failed): it batches as any other entry.
    spool.forgetLanded();
    const third = await spool.peek(100);
    expect([values(third.records), third.entries, third.landed]).toEqual([[3, 4, 5], 2, undefined]);
    // The outcome lives in memory only: after a restart the entry is an ordinary one.
    await spool.append([record(6)], landed);
    await spool.close();
    spool = await open(dir);
    const recovered = await spool.peek(100);
    expect([values(recovered.records), recovered.entries, recovered.landed]).toEqual([[3, 4, 5, 6], 3, undefined]);
  });

  test('a torn tail (half-written last entry) is detected and skipped on recovery', async () => {
    const dir = fresh();
    const spool = await open(dir);
    for (let i = 0; i < 3; i++) await spool.append([record(i)]);
    await spool.close();
    const [segment] = segments(dir);
    const file = path.join(dir, segment!);
    const intact = fs.readFileSync(file);
    // Simulate a crash mid-write: the start of a fourth entry (copied header, half its payload).
    const entryLength = intact.length / 3;
    fs.appendFileSync(file, intact.subarray(0, Math.floor(entryLength / 2)));

    const reopened = await open(dir);
    expect(reopened.recovery).toMatchObject({ entries: 3, records: 3, corruptEntries: 1 });
    expect(reopened.recovery.skippedBytes).toBe(Math.floor(entryLength / 2));
    expect(values((await reopened.peek(100)).records)).toEqual([0, 1, 2]);
    // New appends go to a new segment, never after the damaged tail.
    await reopened.append([record(3)]);
    expect(values((await reopened.peek(100)).records)).toEqual([0, 1, 2, 3]);
    expect(segments(dir)).toHaveLength(2);
  });

  test('a corrupt entry in the middle (bad checksum) is skipped; entries after it are kept', async () => {
    const dir = fresh();
    const spool = await open(dir);
    for (let i = 0; i < 3; i++) await spool.append([record(i)]);
    await spool.close();
    const file = path.join(dir, segments(dir)[0]!);
    const bytes = fs.readFileSync(file);
    const entryLength = bytes.length / 3;
    bytes[entryLength + ENTRY_HEADER_BYTES + 10]! ^= 0xff; // flip a payload byte of the second entry
    fs.writeFileSync(file, bytes);

    const reopened = await open(dir);
    expect(reopened.recovery).toMatchObject({ entries: 2, corruptEntries: 1, skippedBytes: entryLength });
    expect(values((await reopened.peek(100)).records)).toEqual([0, 2]);
  });

  test('appends past maxBytes are refused with SpoolFullError and nothing is written', async () => {
    const spool = await open(fresh(), 2048);
    let appended = 0;
    let error: unknown;
    for (let i = 0; i < 100; i++) {
      try {
        await spool.append([record(i, { value: Buffer.alloc(200, 97) })]);
        appended++;
      } catch (e) {
        error = e;
        break;
      }
    }
    expect(error).toBeInstanceOf(SpoolFullError);
    expect(appended).toBeGreaterThan(3);
    expect(spool.records).toBe(appended);
    expect(spool.bytes).toBeLessThanOrEqual(2048);
    const { entries } = await spool.peek(1000);
    await spool.ack(entries);
    await expect(spool.append([record(0)])).resolves.toBeUndefined();
  });
});

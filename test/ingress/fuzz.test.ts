import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import zlib from 'node:zlib';
import { type Harness, productEvent, startIngress } from './ingress-harness.js';
import { seededRandom } from '../support/seeded-random.js';

const ROUTES = ['/api/v1/events/attempt', '/api/v1/events/session', '/api/v1/events/placement', '/api/v1/events/batch', '/api/v1/collect', '/events', '/events/bulk'];

const VALID: unknown[] = [
  { user_id: 'u', item_id: 'i', client_attempt_id: 'a', correct: true, quality: 4 },
  { session_id: 's', user_id: 'u', start_time: '2024-01-01T00:00:00Z', topics_practiced: ['x'] },
  { placement_id: 'p', user_id: 'u', results: { ability_estimates: {} } },
  [{ event_id: 'e', learner_id: 'l', tenant_id: 't', event_type: 'interaction', timestamp: '2024-01-15T10:30:00Z', source_service: 's', event_data: { action: 'click' } }],
  productEvent(1),
  [productEvent(2), productEvent(3)],
];

describe('fuzz: random and truncated bodies', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startIngress({ config: { maxBodyBytes: 256 * 1024 } });
  });
  afterAll(async () => {
    await h.close();
  });

  test('thousands of malformed requests: the server stays up, never answers 5xx, answers 4xx to garbage', async () => {
    const random = seededRandom(20260101);
    const int = (n: number) => Math.floor(random() * n);
    const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

    const randomValue = (depth: number): unknown => {
      switch (int(depth > 3 ? 5 : 8)) {
        case 0:
          return null;
        case 1:
          return random() < 0.5;
        case 2:
          return random() * 1e6 - 5e5;
        case 3:
          return 'x'.repeat(int(20)) + String.fromCharCode(int(0xffff));
        case 4:
          return int(1000);
        case 5:
          return Array.from({ length: int(5) }, () => randomValue(depth + 1));
        default: {
          const obj: Record<string, unknown> = {};
          const keys = ['user_id', 'event_id', 'event_type', 'learner_id', 'timestamp', 'events', '__proto__', 'constructor', 'a'];
          for (let i = 0; i < int(6); i++) obj[pick(keys)] = randomValue(depth + 1);
          return obj;
        }
      }
    };
    const mutate = (value: unknown): unknown => {
      const copy = JSON.parse(JSON.stringify(value));
      const target = Array.isArray(copy) ? copy[0] : copy;
      const keys = Object.keys(target);
      if (keys.length > 0) target[pick(keys)] = randomValue(2);
      return copy;
    };

    type Case = { kind: 'garbage' | 'maybe-valid'; body: Buffer; headers: Record<string, string> };
    const makeCase = (): Case => {
      const contentType = pick(['application/json', 'application/json', 'application/x-ndjson', 'text/plain', 'application/octet-stream']);
      const headers: Record<string, string> = { 'content-type': contentType };
      switch (int(6)) {
        case 0:
          return { kind: 'garbage', body: Buffer.from(Array.from({ length: int(300) + 1 }, () => int(256))), headers };
        case 1: {
          const text = JSON.stringify(pick(VALID));
          return { kind: 'garbage', body: Buffer.from(text.slice(0, int(text.length - 1) + 1)), headers: { 'content-type': 'application/json' } };
        }
        case 2: {
          const gz = zlib.gzipSync(JSON.stringify(pick(VALID)));
          return { kind: 'garbage', body: gz.subarray(0, int(gz.length - 1) + 1), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } };
        }
        case 3:
          return { kind: 'maybe-valid', body: Buffer.from(JSON.stringify(randomValue(0)) ?? 'null'), headers: { 'content-type': 'application/json' } };
        case 4:
          return { kind: 'maybe-valid', body: Buffer.from(JSON.stringify(mutate(pick(VALID)))), headers: { 'content-type': 'application/json' } };
        default:
          return { kind: 'maybe-valid', body: Buffer.from(JSON.stringify(pick(VALID))), headers };
      }
    };

    const TOTAL = Number(process.env.FUZZ_TOTAL ?? 4000);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const n = next++;
        const route = pick(ROUTES);
        const c = makeCase();
        const res = await h.inject({ url: route, headers: c.headers, payload: c.body, timeoutMs: 5000 }).catch((error: Error) => ({
          statusCode: 0,
          body: error.message,
        }));
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const bad = res.statusCode >= 500 || res.statusCode < 200 || (c.kind === 'garbage' && (res.statusCode < 400 || res.statusCode >= 500));
        if (bad && failures.length < 5) failures.push(`#${n} ${route} ${c.headers['content-type']} → ${res.statusCode} ${res.body.slice(0, 200)} body=${c.body.toString('base64').slice(0, 120)}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(failures).toEqual([]);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(TOTAL);
    const fourXX = [...statuses.entries()].filter(([code]) => code >= 400 && code < 500).reduce((a, [, n]) => a + n, 0);
    expect(fourXX).toBeGreaterThan(TOTAL / 2);
    expect((await h.inject({ url: '/health' })).statusCode).toBe(200);
    expect(h.app.ingress.budget.bytes).toBe(0);
  });
});

import { describe, expect, test } from '@jest/globals';
import { toClickHouseDateTime } from '../../sink/RowMappers.js';

/**
 * toClickHouseDateTime caches (the last text, two seconds' prefixes): whatever the order of its
 * inputs, each answer must be what the plain conversion gives, written here the long way.
 */
function longWay(value: unknown): string | undefined {
  let ms: number;
  if (typeof value === 'number') ms = Math.abs(value) < 1e11 ? value * 1000 : value;
  else if (typeof value === 'string' && value.trim() !== '') {
    const numeric = /^-?\d+(\.\d+)?$/.test(value.trim());
    ms = numeric ? Number(value) : Date.parse(value);
    if (numeric && Math.abs(ms) < 1e11) ms *= 1000;
  } else if (value instanceof Date) ms = value.getTime();
  else return undefined;
  if (!Number.isFinite(ms)) return undefined;
  const date = new Date(Math.round(ms));
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString().slice(0, 23).replace('T', ' ');
}

describe('toClickHouseDateTime', () => {
  test('alternating seconds, repeated and changing texts, numbers, dates and bad values all convert as the plain conversion does', () => {
    const base = Date.UTC(2026, 11, 7, 17, 0, 0, 0);
    const inputs: unknown[] = [];
    for (let i = 0; i < 400; i++) {
      const eventMs = base + (i % 7) * 1000 + (i % 13);
      const receivedIso = new Date(base + 800_000 + Math.floor(i / 3) * 37).toISOString();
      // A row's two times, in different seconds, one after the other; the ingress's text repeats for a request's events.
      inputs.push(eventMs, receivedIso);
      if (i % 50 === 0) inputs.push(Math.floor(eventMs / 1000), String(eventMs), ` ${Math.floor(eventMs / 1000)} `, new Date(eventMs), `${eventMs / 1000}`);
      if (i % 61 === 0) inputs.push('', '   ', 'not a time', '2026-13-45T99:00:00.000Z', Number.NaN, Infinity, null, undefined, {}, new Date(Number.NaN));
      if (i % 97 === 0) inputs.push(-1_000, 0, 253_402_300_800_000, -62_167_219_200_001, '+275760-09-13T00:00:00.000Z', '1969-12-31T23:59:59.999Z');
    }
    const got = inputs.map((input) => toClickHouseDateTime(input));
    expect(got).toEqual(inputs.map((input) => longWay(input)));
    expect(got.filter((text) => text !== undefined).length).toBeGreaterThan(800);
  });
});

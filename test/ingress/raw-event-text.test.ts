import { describe, expect, test } from '@jest/globals';
import { rawElementTexts } from '../../ingress/RawEventText.js';
import { seededRandom } from '../support/seeded-random.js';

describe('rawElementTexts: each event\'s text as it arrived', () => {
  const random = seededRandom(7);
  const int = (n: number) => Math.floor(random() * n);
  const nasty = ['"', '\\', '[', ']', '{', '}', ',', ':', '\n', '\u2028', 'é', '😀', '\\"', ' '];
  const value = (depth: number): unknown => {
    switch (int(depth > 3 ? 4 : 6)) {
      case 0:
        return Array.from({ length: int(6) }, () => nasty[int(nasty.length)]).join('');
      case 1:
        return int(2) === 0 ? null : random() < 0.5;
      case 2:
        return (random() - 0.5) * 10 ** int(12);
      case 3:
        return -int(100);
      case 4:
        return Array.from({ length: int(4) }, () => value(depth + 1));
      default: {
        const obj: Record<string, unknown> = {};
        for (let i = 0; i < int(5); i++) obj[String(value(9))] = value(depth + 1);
        return obj;
      }
    }
  };
  const spaced = (json: string) => json.replace(/([,:[\]{}])(?=(?:[^"\\]|\\.|"(?:[^"\\]|\\.)*")*$)/g, (m) => (int(3) === 0 ? ` ${m}\n\t` : m));

  test('a thousand random arrays (nested, escaped, spaced) split into texts that parse to the same events', () => {
    for (let round = 0; round < 1000; round++) {
      const events = Array.from({ length: int(8) }, () => value(0));
      const compact = JSON.stringify(events);
      const text = round % 2 === 0 ? compact : spaced(compact);
      const parsed = JSON.parse(text) as unknown[];
      const texts = rawElementTexts(text, 'events');
      expect(texts).not.toBeNull();
      expect(texts!.map((t) => JSON.parse(t))).toEqual(parsed);
      expect(texts!.length).toBe(events.length);
    }
  });

  test('an object body: the array under the key, last occurrence wins, escaped keys are not it', () => {
    const body = ' { "batch_id" : "b\\"events\\"", "metadata": {"events": 1}, "events" : [ {"a": "]"} , 2 ] } ';
    expect(rawElementTexts(body, 'events')).toEqual(['{"a": "]"}', '2']);
    // A repeated key: JSON.parse keeps the last one, and so does the scanner.
    expect(rawElementTexts('{"events": [1], "events": [2]}', 'events')).toEqual(['2']);
    expect(rawElementTexts('{"batch": [1]}', 'events')).toBeNull();
    expect(rawElementTexts('"events"', 'events')).toBeNull();
    expect(rawElementTexts('[]', 'events')).toEqual([]);
  });
});

import { afterEach, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { SchemaCatalog, defaultSchemaCatalog } from '../../ingress/SchemaCatalog.js';
import { type Harness, startIngress } from './ingress-harness.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * Issue 21 item 6: the start no longer compiles every event kind's validator (each kind compiles
 * on first use), and the ingress and the topology's parse step share one catalog per process.
 */
describe('SchemaCatalog compiled on first use', () => {
  const dirs: string[] = [];
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a kind compiles when first validated; a schema that does not compile names its file then, and in compileAll()', () => {
    const dir = tempDir('schemas-lazy');
    dirs.push(dir);
    const kind = (id: string, extra: Record<string, unknown>) => ({
      $id: id, 'x-source': 'product', 'x-event-type': id, type: 'object', required: ['user_id'], properties: { user_id: { type: 'string' } }, ...extra,
    });
    fs.writeFileSync(path.join(dir, 'good.json'), JSON.stringify(kind('good', {})));
    // Valid against the meta-schema, refused by ajv's strict compile (an unknown format).
    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify(kind('bad', { properties: { user_id: { type: 'string', format: 'no-such-format' } } })));

    const catalog = new SchemaCatalog([dir]);
    expect(catalog.kinds.map((k) => k.eventType).sort()).toEqual(['bad', 'good']);
    const good = catalog.kind('product', 'good')!;
    expect(good.validate({ user_id: 'u1' })).toBe(true);
    expect(good.validate({})).toBe(false);
    expect(good.validate).toBe(good.validate); // compiled once
    expect(() => catalog.kind('product', 'bad')!.validate).toThrow(/bad\.json does not compile: .*no-such-format/);
    expect(() => catalog.compileAll()).toThrow(/bad\.json does not compile/);
  });

  test('every shipped schema compiles', () => {
    expect(() => new SchemaCatalog().compileAll()).not.toThrow();
  });

  test('the ingress on the default schemas uses the process catalog the parse step uses', async () => {
    h = await startIngress();
    expect(h.app.ingress.catalog).toBe(defaultSchemaCatalog());
  });
});

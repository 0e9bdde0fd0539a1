import { spawnSync } from 'node:child_process';
import { compileFilterRules, DEFAULT_FILTER_RULES, FilterRuleError } from '../../processors/FilterRules.js';
import { readOutputTopics } from '../../processors/OutputTopics.js';
import { defaultRoutingRules, RoutingTable } from '../../processors/RoutingRules.js';

/**
 * Issue 21 item 4: the rule schemas compile on first use, so importing the processors (every
 * worker thread does) does not load ajv; the built-in filter rules skip the schema and must
 * therefore pass it.
 */
describe('rule validation compiles on first use', () => {
  test('importing the processors loads no ajv until a rule is validated', () => {
    const script = [
      "const { createRequire } = await import('node:module');",
      "const require = createRequire(process.cwd() + '/');",
      "const loaded = () => Object.keys(require.cache).some((k) => /[\\\\/]ajv[\\\\/]/.test(k));",
      "const filters = await import('./processors/FilterRules.ts');",
      "const routing = await import('./processors/RoutingRules.ts');",
      'new filters.FilterRuleSet();',
      'const before = loaded();',
      "try { filters.compileFilterRules([{ id: 'x' }]); } catch {}",
      'console.log(JSON.stringify({ before, after: loaded(), routing: typeof routing.RoutingTable }));',
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout.trim())).toEqual({ before: false, after: true, routing: 'function' });
  });

  test('the built-in filter rules pass the schema they skip, and a bad file is still refused', () => {
    expect(compileFilterRules(structuredClone(DEFAULT_FILTER_RULES)).map((c) => c.rule.id)).toEqual(DEFAULT_FILTER_RULES.map((r) => r.id));
    expect(() => compileFilterRules([{ id: 'x', when: { field: 'a', op: 'eq', value: 1 } }])).toThrow(FilterRuleError);
    expect(() => compileFilterRules({ rules: [{ id: 'y', priority: 'high', when: { field: 'a', op: 'eq', value: 1 }, action: { type: 'block' } }] })).toThrow(/invalid filter rules: .*priority/);
  });

  test('routing rules are validated on their first add', () => {
    const topics = readOutputTopics({});
    const table = new RoutingTable(defaultRoutingRules(topics), { allowedTopics: Object.values(topics) });
    expect(table.rules().length).toBe(defaultRoutingRules(topics).length);
    expect(() => table.add({ id: 'bad', priority: 1, enabled: true, topics: ['no spaces allowed'] })).toThrow(/invalid routing rule: .*pattern/);
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../config/index.js';
import { buildDefaultPipeline, defaultPipelineConfig } from '../../processors/index.js';
import { applyPipelineExtensions, loadPipelineExtensions } from '../../processors/PipelineExtensions.js';
import { StreamsBuilder } from '../../topology/index.js';

describe('PIPELINE_EXTENSIONS loading', () => {
  let dir: string;
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return name;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-ext-load-'));
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('none configured: nothing loaded', async () => {
    expect(await loadPipelineExtensions({}, dir)).toEqual([]);
  });

  test('paths relative to the working directory, in order; the nodes they add and the topics their sinks write', async () => {
    const first = write('first.ts', `export default (builder, streams) => { streams.filtered.mapValues((e) => e.user_id, { name: 'ext-users' }).to('ext.users', { name: 'ext-users-sink' }); };`);
    const second = write('second.ts', `export default (builder, streams) => { streams.parsed.filter(() => true, { name: 'ext-parsed' }).to('ext.parsed', { name: 'ext-parsed-sink' }); };
export const clickhouse = [{ topic: 'ext.parsed', table: 'ext_parsed', create: (db) => ['CREATE TABLE IF NOT EXISTS ' + db + '.ext_parsed (u String) ENGINE = MergeTree ORDER BY u'], map: (v) => ({ u: String(v) }) }];`);
    const modules = await loadPipelineExtensions({ PIPELINE_EXTENSIONS: ` ${first}, ${second} ` }, dir);
    expect(modules.map((m) => m.source)).toEqual([first, second]);
    expect(modules[0]!.clickhouse).toEqual([]);
    expect(modules[1]!.clickhouse.map((t) => [t.topic, t.table, t.create('db1')])).toEqual([['ext.parsed', 'ext_parsed', ['CREATE TABLE IF NOT EXISTS db1.ext_parsed (u String) ENGINE = MergeTree ORDER BY u']]]);
    const builder = new StreamsBuilder();
    const config = defaultPipelineConfig();
    const pipeline = buildDefaultPipeline(builder, config);
    const topics = applyPipelineExtensions(modules, builder, pipeline.streams, { config, env: {} });
    pipeline.close();
    expect(topics).toEqual(['ext.users', 'ext.parsed']);
    const names = builder.build().allNodes().map((node) => node.name);
    expect(names).toEqual(expect.arrayContaining(['ext-users', 'ext-users-sink', 'ext-parsed', 'ext-parsed-sink']));
  });

  test.each([
    ['no default export', 'export const x = 1;', /no default export function/],
    ['a bad clickhouse export', "export default () => {}; export const clickhouse = [{ topic: 't', table: 'bad name', create: () => [], map: () => null }];", /"clickhouse" export must be/],
  ])('refused with a ConfigError: %s', async (_what, text, message) => {
    const file = write('bad.ts', text);
    const loading = loadPipelineExtensions({ PIPELINE_EXTENSIONS: file }, dir);
    await expect(loading).rejects.toThrow(ConfigError);
    await expect(loadPipelineExtensions({ PIPELINE_EXTENSIONS: file }, dir)).rejects.toThrow(message);
  });

  test('a path that does not exist is a ConfigError naming it', async () => {
    await expect(loadPipelineExtensions({ PIPELINE_EXTENSIONS: 'missing.ts' }, dir)).rejects.toThrow(/cannot load missing\.ts/);
  });
});

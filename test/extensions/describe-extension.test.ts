import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

test("streamline describe lists a PIPELINE_EXTENSIONS module's nodes and its store's changelog topic", async () => {
  const run = (env: Record<string, string>) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'bin/streamline.ts', 'describe'], { cwd: root, env: { ...process.env, ...env } });
  const extended = (await run({ PIPELINE_EXTENSIONS: 'examples/extensions/campaign-funnel.ts' })).stdout;
  expect(extended).toContain('Processor: funnel-select');
  expect(extended).toContain('Sink: funnel-sink (topic: campaign.funnel)');
  expect(extended).toContain('Store: campaign-funnel (changelog: streamline-campaign-funnel-changelog)');
  const plain = (await run({ PIPELINE_EXTENSIONS: '' })).stdout;
  expect(plain).toContain('Processor: filter-passed');
  expect(plain).not.toContain('funnel');
}, 60_000);

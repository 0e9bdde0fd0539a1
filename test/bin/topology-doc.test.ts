import fs from 'node:fs';
import { renderTopologyDoc, TOPOLOGY_DOC_COMMAND, topologyDocPath } from '../../scripts/topology-doc.js';

/**
 * docs/TOPOLOGY.md is generated from the default topology (`streamline describe --mermaid` and
 * `streamline describe`); a change to the default pipeline without regenerating it fails here.
 */
test('docs/TOPOLOGY.md is what `streamline describe --mermaid` draws of the default topology today', async () => {
  const expected = await renderTopologyDoc();
  // The page must hold the graph, not just any text the generator happens to produce.
  expect(expected).toContain('```mermaid\ngraph TD\n');
  expect(expected).toContain('t_events_raw[("events.raw")] --> landing');
  const committed = fs.existsSync(topologyDocPath()) ? fs.readFileSync(topologyDocPath(), 'utf8') : '';
  if (committed !== expected) {
    throw new Error(`docs/TOPOLOGY.md is out of date with the default topology: run \`${TOPOLOGY_DOC_COMMAND}\` and commit the page`);
  }
});

import { pino } from 'pino';
import { applyPipelineExtensions, buildDefaultPipeline, loadPipelineExtensions, readPipelineConfig } from '../../processors/index.js';
import { describeTopology, StreamsBuilder, topologyMermaid, type Topology } from '../../topology/index.js';
import type { Env } from '../../config/index.js';
import { appConfig, CliError, type Command, parseCommand } from './cli-support.js';

const USAGE = 'streamline describe [--mermaid] [--url http://127.0.0.1:8081]';

/** The default topology `npm start` runs, built from the same configuration (no log, no state). */
export function defaultTopology(env: Env): Topology {
  return defaultPipelineBuilder(env).builder.build();
}

/** As defaultTopology, with the PIPELINE_EXTENSIONS modules' nodes (docs/EXTENDING.md). */
export async function extendedTopology(env: Env): Promise<Topology> {
  const { builder, streams, config } = defaultPipelineBuilder(env);
  const modules = await loadPipelineExtensions(env).catch((error: unknown) => {
    throw new CliError(`configuration error: ${(error as Error).message}`);
  });
  applyPipelineExtensions(modules, builder, streams, { config, env });
  return builder.build();
}

function defaultPipelineBuilder(env: Env) {
  let config;
  try {
    config = readPipelineConfig(env);
  } catch (error) {
    throw new CliError(`configuration error: ${(error as Error).message}`);
  }
  // Rules are read but not watched: describing must not leave a file watcher behind.
  const builder = new StreamsBuilder();
  const pipeline = buildDefaultPipeline(builder, { ...config, filterRulesFile: undefined }, { logger: pino({ level: 'silent' }) });
  pipeline.close();
  return { builder, streams: pipeline.streams, config };
}

/**
 * streamline describe: sub-topologies, sources, processors, stores with their changelog topics,
 * repartition topics and sinks, like Kafka Streams' TopologyDescription; --mermaid draws it;
 * --url asks a running service's admin listener (GET /topology, with ADMIN_TOKEN when set) instead.
 */
export const describeCommand: Command = async (args, context) => {
  const { values, env } = parseCommand(args, { mermaid: { type: 'boolean' }, url: { type: 'string' } }, context, USAGE);
  if (typeof values.url === 'string') {
    if (values.mermaid) throw new CliError('--mermaid draws the local default topology; --url prints the running one as text', 2);
    let response: Response;
    try {
      // GET /topology is on the admin listener, behind ADMIN_TOKEN when the service sets one.
      const token = env.ADMIN_TOKEN?.trim();
      response = await fetch(new URL('/topology', values.url), { headers: token ? { authorization: `Bearer ${token}` } : {} });
    } catch (error) {
      throw new CliError(`cannot reach ${values.url}: ${(error as Error).message}`);
    }
    if (response.status === 401) throw new CliError(`GET ${values.url}/topology answered 401: set ADMIN_TOKEN to the service's admin token`);
    if (response.status === 404) throw new CliError(`GET ${values.url}/topology answered 404: --url takes the admin listener's address (ADMIN_PORT, default 8081), not the public one`);
    if (!response.ok) throw new CliError(`GET ${values.url}/topology answered ${response.status}`);
    context.out((await response.text()).trimEnd());
    return;
  }
  const { applicationId } = appConfig(env);
  const topology = await extendedTopology(env);
  context.out(values.mermaid ? topologyMermaid(topology, applicationId) : describeTopology(topology, applicationId));
};

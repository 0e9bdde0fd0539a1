/**
 * The bottom room: reading and validating configuration (env readers, ConfigError), the topic
 * names the ingress and the topology share, the memory plan and the secret check. It imports
 * only errors/ (ConfigError's base), so every other room may use it (docs/ARCHITECTURE.md "Rooms").
 */
export * from './EnvReaders.js';
export * from './MemoryPlan.js';
export * from './Secrets.js';
export * from './TopicNames.js';
export { YOUNG_GENERATION_MB } from './YoungGeneration.js';
export * from './HeapGrowing.js';
export * from './QuietStdin.js';

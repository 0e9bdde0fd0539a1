/** The topology's public surface: the DSL, the Processor API and the runtime. */
export { StreamsBuilder, type Consumed } from './dsl/StreamsBuilder.js';
export { KStream, type Produced, type Grouped, type Branch } from './dsl/KStream.js';
export { KGroupedStream, type Materialized } from './dsl/KGroupedStream.js';
export { TimeWindowedKStream } from './dsl/TimeWindowedKStream.js';
export { KTable, type TableMaterialized } from './dsl/KTable.js';
export { KGroupedTable } from './dsl/KGroupedTable.js';
export { GlobalKTable } from './dsl/GlobalKTable.js';
export { TimeWindows, type Windowed } from './dsl/TimeWindows.js';
export { keyValueStoreBuilder, windowStoreBuilder } from './dsl/Stores.js';
export type { EmitStrategy } from './dsl/DslProcessors.js';
export { NO_TIMESTAMP, type ValueAndTimestamp, type TimestampedKeyValueStore, type TimestampedWindowStore } from './dsl/TimestampedStores.js';
export { Topology, type TopicNameExtractor, type TimestampExtractor } from './Topology.js';
export { describeTopology, topologyMermaid } from './TopologyDescription.js';
export type { Processor, ProcessorContext, ProcessorSupplier, Punctuator, PunctuationType, Cancellable } from './processor/Processor.js';
export type { StreamRecord, RecordMetadata } from './processor/Record.js';
export { StreamsApp, type StreamsConfig, type StreamsState, type CommitEvent } from './runtime/StreamsApp.js';
export { changelogTopic } from './runtime/TopicPlanner.js';
export * from './runtime/DeadLetters.js';

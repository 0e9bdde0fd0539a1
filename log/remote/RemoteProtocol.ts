import type { ConsumerOptions, TopicConfig, TopicPartition, TopicPartitionOffset } from '../Log.js';
import type { PackedMetadata, PackedRecords } from './RecordPacking.js';
import type { SerializedError } from './RemoteErrors.js';

/**
 * The messages between a RemoteLog (client) and a LogServer over one MessagePort. Consumers,
 * producers and transactions are handles: numbers the CLIENT picks, so createConsumer() stays
 * synchronous and a handle can be used before the server has answered for it (a port delivers
 * messages in order).
 */

/** What the client mirrors of a server-side consumer, so assignment() and position() stay synchronous. */
export interface ConsumerState {
  assignment: TopicPartition[];
  /** [partitionKey, next offset] for assigned partitions whose position is known. */
  positions: [string, number][];
  /** The last seek/pause/resume of this consumer the server had applied when it took the state. */
  appliedCastSeq: number;
}

export interface TransactionOffsets {
  consumerId: number;
  offsets: TopicPartitionOffset[];
}

export type ProduceOutcome = { metadata: PackedMetadata } | { error: SerializedError };

/** Request/response operations: op name -> [arguments, result]. */
export interface Calls {
  hello: [[], { kind: 'embedded' | 'kafka' }];
  ensureTopic: [[topic: string, config: TopicConfig], void];
  partitionCount: [[topic: string], number];
  listTopics: [[], string[]];
  /**
   * The produce() calls a client made in one event-loop turn, in one message: their records back
   * to back, and how many belong to each call. Each call keeps its own outcome.
   */
  produce: [[records: PackedRecords, callSizes: number[]], ProduceOutcome[]];
  beginningOffset: [[tp: TopicPartition], number];
  endOffset: [[tp: TopicPartition], number];
  beginningOffsets: [[partitions: TopicPartition[]], Map<string, number>];
  endOffsets: [[partitions: TopicPartition[]], Map<string, number>];
  read: [[tp: TopicPartition, fromOffset: number, maxRecords: number], PackedRecords];
  committedOffsets: [[groupId: string, partitions: TopicPartition[]], Map<string, number>];
  isHealthy: [[], boolean];
  consumerCreate: [[consumerId: number, options: ConsumerOptions], void];
  consumerSubscribe: [[consumerId: number, topics: string[]], ConsumerState];
  consumerPoll: [[consumerId: number, maxRecords: number, timeoutMs: number], { records: PackedRecords; state: ConsumerState }];
  consumerCommit: [[consumerId: number, offsets: TopicPartitionOffset[]], void];
  consumerClose: [[consumerId: number], void];
  producerCreate: [[producerId: number, transactionalId: string], void];
  producerBegin: [[producerId: number, transactionId: number], void];
  transactionCommit: [[transactionId: number, records: PackedRecords | null, offsets: TransactionOffsets[]], PackedMetadata];
  transactionAbort: [[transactionId: number], void];
  producerClose: [[producerId: number], void];
  /** Ends this client's session: its consumers leave their groups, its producers close. The log stays open. */
  close: [[], void];
}

/** Fire-and-forget operations (the LogConsumer methods that return void). */
export interface Casts {
  consumerSeek: [consumerId: number, seq: number, tp: TopicPartition, offset: number];
  consumerPause: [consumerId: number, seq: number, partitions: TopicPartition[]];
  consumerResume: [consumerId: number, seq: number, partitions: TopicPartition[]];
}

export type CallName = keyof Calls;
export type CastName = keyof Casts;
export type RebalanceKind = 'assigned' | 'revoked' | 'lost';

export type ClientMessage =
  | { type: 'call'; id: number; op: CallName; args: unknown[] }
  | { type: 'cast'; op: CastName; args: unknown[] }
  | { type: 'callbackDone'; id: number; error?: SerializedError };

export type ServerMessage =
  | { type: 'result'; id: number; value?: unknown; error?: SerializedError }
  /** A rebalance listener call the server awaits: the client runs its listener and answers callbackDone. */
  | { type: 'callback'; id: number; consumerId: number; kind: RebalanceKind; partitions: TopicPartition[]; state: ConsumerState };

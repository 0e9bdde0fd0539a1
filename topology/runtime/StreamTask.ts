import type { LogRecord, ProducerRecord, TopicPartitionOffset } from '../../log/Log.js';
import type { KeyValueStore, StateStore } from '../../state/StateStore.js';
import type { Cancellable, Processor, ProcessorContext, PunctuationType, Punctuator } from '../processor/Processor.js';
import type { RecordMetadata, StreamRecord } from '../processor/Record.js';
import type { RuntimeStore } from '../../state/StoreBuilder.js';
import type { SinkNode, SourceNode, Topology } from '../Topology.js';
import { resolveTopicName, sinkPartitions } from '../Topology.js';
import type { Subtopology } from '../Subtopologies.js';
import { deadLetterFor } from './DeadLetters.js';
import { deferPlacement } from './DeferredPlacement.js';
import { Punctuations } from './Punctuations.js';
import { RecordCollector } from './RecordCollector.js';
import { SerializedValueMemo } from './SerializedValueMemo.js';
import { readStreamTime, writeStreamTime } from './TaskStreamTime.js';
import { TaskIdling } from './TaskIdling.js';
import { NamedError } from '../../errors/NamedError.js';

/** What a task reports to the runtime's metrics. */
export interface TaskObserver {
  recordProcessed(taskId: string): void;
  recordDeadLettered(taskId: string, reason: string): void;
  processorOutcome(processor: string, outcome: string, amount: number): void;
}

interface Queued {
  record: LogRecord;
  timestamp: number;
}

interface InputQueue {
  topic: string;
  source: SourceNode;
  /** The source's runtime node, set once the nodes are built. */
  node?: RuntimeNode;
  /** Records fetched and not yet processed from head on; slots before head are cleared. */
  records: (Queued | undefined)[];
  head: number;
  /** Offset after the last record processed from this queue; undefined until one is. */
  nextOffset: number | undefined;
}

interface RuntimeNode {
  readonly name: string;
  process(record: StreamRecord<unknown, unknown>): void;
}

export interface StreamTaskOptions {
  applicationId: string;
  subtopology: Subtopology;
  partition: number;
  topology: Topology;
  stores: Map<string, RuntimeStore>;
  /** Global stores, readable by every task's processors. */
  globalStores: Map<string, StateStore>;
  dlqTopic: string;
  observer: TaskObserver;
  /** Name of the store in `stores` that keeps this task's stream time across restarts. */
  streamTimeStore?: string;
}

/**
 * One partition of one sub-topology: its processor instances, its stores, its input queues and
 * what it produced since the last commit. Everything here is synchronous; the runtime around it
 * does the I/O.
 */
export class StreamTask {
  readonly id: string;
  readonly partition: number;
  private readonly queues = new Map<string, InputQueue>();
  private readonly collector = new RecordCollector();
  private readonly lastValue = new SerializedValueMemo();
  private readonly punctuations = new Punctuations();
  private readonly nodes = new Map<string, RuntimeNode>();
  private readonly processors: Array<Processor<unknown, unknown, unknown, unknown>> = [];
  /** The processors with a beforeCommit hook (children before parents, as they are built). */
  private readonly committing: Array<Processor<unknown, unknown, unknown, unknown>> = [];
  private streamTime = Number.NEGATIVE_INFINITY;
  private storesAdvancedTo = Number.NEGATIVE_INFINITY;
  private current: RecordMetadata | undefined;
  private lastOffset = -1;
  private commitRequested = false;
  private processedSinceCommit = 0;

  /** Inputs to read up to their end before the task picks records by timestamp (see waitForInput). */
  private readonly idling = new TaskIdling();
  /** Bound once: processOne asks per record. */
  private readonly inputEmpty = (topic: string): boolean => {
    const queue = this.queues.get(topic)!;
    return queue.head >= queue.records.length;
  };

  /** advanceStreamTime of the stores that have one (window stores), bound once: not a lookup per store and record. */
  private readonly streamTimeListeners: Array<(streamTime: number) => void> = [];
  /** Punctuations run through this one function instead of a closure made per record. */
  private readonly runPunctuation = (nodeName: string, fire: () => void): void => this.runAs(nodeName, fire);

  private readonly streamTimeStore: KeyValueStore<string, number> | undefined;
  private persistedStreamTime = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: StreamTaskOptions) {
    this.partition = options.partition;
    this.id = `${options.subtopology.id}_${options.partition}`;
    if (options.streamTimeStore) {
      this.streamTimeStore = options.stores.get(options.streamTimeStore) as unknown as KeyValueStore<string, number>;
      this.streamTime = this.persistedStreamTime = readStreamTime(this.streamTimeStore);
    }
    this.buildNodes();
    for (const node of options.subtopology.nodes) {
      if (node.kind !== 'source') continue;
      for (const topic of node.topics) {
        const resolved = resolveTopicName(options.applicationId, topic, node.internal);
        this.queues.set(resolved, { topic: resolved, source: node, node: this.nodes.get(node.name), records: [], head: 0, nextOffset: undefined });
      }
    }
    for (const store of options.stores.values()) {
      const advance = store.advanceStreamTime;
      if (typeof advance === 'function') this.streamTimeListeners.push(advance.bind(store));
    }
  }

  inputTopics(): string[] {
    return [...this.queues.keys()];
  }

  stores(): Map<string, RuntimeStore> {
    return this.options.stores;
  }

  addRecords(records: LogRecord[]): void {
    for (const record of records) {
      const queue = this.queues.get(record.topic);
      if (!queue) throw new Error(`task ${this.id} got a record of topic ${record.topic} it does not read`);
      let timestamp = record.timestamp;
      const extractor = queue.source.timestampExtractor;
      if (extractor) {
        try {
          timestamp = extractor(record.key, record.value, record.timestamp);
        } catch {
          // left as the log timestamp; the source node reports the bad record when it deserializes it
        }
      }
      queue.records.push({ record, timestamp });
      this.idling.reached(record.topic, record.offset + 1);
    }
  }

  /** Task idling (KIP-695, topology/runtime/TaskIdling.ts): read `topic` up to `endOffset` before processing by timestamp, until `deadline`. */
  waitForInput(topic: string, endOffset: number, deadline: number): void {
    if (this.queues.has(topic)) this.idling.waitFor(topic, endOffset, deadline);
  }

  /** Inputs still being caught up (see waitForInput): the thread reports the consumer's position of each. */
  catchingUp(): Iterable<string> {
    return this.idling.topics();
  }

  /** The consumer's position of an input, after its polled records were added. */
  inputPosition(topic: string, position: number): void {
    this.idling.reached(topic, position);
  }

  buffered(): number {
    let count = 0;
    for (const queue of this.queues.values()) count += queue.records.length - queue.head;
    return count;
  }

  /**
   * Processes the buffered head with the lowest timestamp across this task's inputs, so joins
   * and windows see time advance as evenly as the inputs allow. Returns false when nothing is buffered.
   */
  processOne(): boolean {
    if (this.idling.waiting(this.inputEmpty)) return false;
    let chosen: InputQueue | undefined;
    let chosenTimestamp = Number.POSITIVE_INFINITY;
    for (const queue of this.queues.values()) {
      const head = queue.records[queue.head];
      if (head && (chosen === undefined || head.timestamp < chosenTimestamp)) {
        chosen = queue;
        chosenTimestamp = head.timestamp;
      }
    }
    if (!chosen) return false;
    const { record, timestamp } = chosen.records[chosen.head]!;
    // A record is a view into its fetch's whole buffer (~2 MB from the log thread): a processed
    // one left in its slot until the queue is compacted pinned 48-125 MB of them at capacity.
    chosen.records[chosen.head++] = undefined;
    if (chosen.head > 1024 && chosen.head * 2 > chosen.records.length) {
      chosen.records = chosen.records.slice(chosen.head);
      chosen.head = 0;
    }
    this.processRecord(chosen, record, timestamp);
    chosen.nextOffset = record.offset + 1;
    this.lastOffset = record.offset;
    this.processedSinceCommit++;
    this.options.observer.recordProcessed(this.id);
    return true;
  }

  private processRecord(queue: InputQueue, record: LogRecord, timestamp: number): void {
    const source = queue.source;
    const mark = this.collector.mark();
    this.current = { topic: record.topic, partition: record.partition, offset: record.offset };
    try {
      let key: unknown;
      let value: unknown;
      try {
        key = record.key === null ? null : source.keySerde.deserialize(record.key);
        value = record.value === null ? null : source.valueSerde.deserialize(record.value);
      } catch (error) {
        throw new PoisonRecordError(`deserialization failed: ${messageOf(error)}`);
      }
      if (!Number.isFinite(timestamp) || timestamp < 0) {
        throw new PoisonRecordError(`invalid timestamp ${timestamp}`);
      }
      if (timestamp > this.streamTime) this.streamTime = timestamp;
      queue.node!.process({ key, value, timestamp, headers: record.headers });
      this.punctuations.fireStreamTime(this.streamTime, this.runPunctuation);
      // After processing, so a window that this record's time closed is emitted before it expires.
      if (this.streamTime > this.storesAdvancedTo) {
        this.storesAdvancedTo = this.streamTime;
        for (const advance of this.streamTimeListeners) advance(this.streamTime);
      }
    } catch (error) {
      // A poison record must never stop the partition: drop what it half produced, keep the
      // original bytes in the DLQ with the reason, and move on. Processing is deterministic,
      // so retrying the same record here would fail the same way.
      this.collector.rollbackTo(mark);
      const reason = messageOf(error);
      this.collector.send(deadLetterFor(record, this.options.dlqTopic, reason));
      this.options.observer.recordDeadLettered(this.id, error instanceof PoisonRecordError ? 'poison' : 'processing_error');
    } finally {
      this.current = undefined;
      this.lastValue.clear();
    }
  }

  punctuateWallClock(now: number): void {
    this.punctuations.fireWallClock(now, this.runPunctuation);
    this.lastValue.clear();
  }

  /** When this task's next wall-clock punctuation is due (undefined: it has none). */
  nextWallClockAt(): number | undefined {
    return this.punctuations.nextWallClockAt();
  }

  private runAs(_nodeName: string, fire: () => void): void {
    fire();
  }

  wantsCommit(): boolean {
    return this.commitRequested;
  }

  hasUncommittedWork(): boolean {
    return this.processedSinceCommit > 0 || this.collector.size() > 0;
  }

  /** Input offsets to commit: the next offset of every partition this task has processed from. */
  offsetsToCommit(): TopicPartitionOffset[] {
    const offsets: TopicPartitionOffset[] = [];
    for (const queue of this.queues.values()) {
      if (queue.nextOffset !== undefined) offsets.push({ topic: queue.topic, partition: this.partition, offset: queue.nextOffset });
    }
    return offsets;
  }

  /** Outputs then changelog records, in that order, for the commit's transaction. */
  drainForCommit(): ProducerRecord[] {
    // First, so what the processors write or forward now is part of this commit.
    for (const processor of this.committing) processor.beforeCommit!();
    this.lastValue.clear();
    if (this.streamTimeStore && this.streamTime > this.persistedStreamTime) {
      writeStreamTime(this.streamTimeStore, this.streamTime);
      this.persistedStreamTime = this.streamTime;
    }
    const records = this.collector.drain();
    for (const store of this.options.stores.values()) {
      records.push(...store.drainChangelog(this.partition, String(this.lastOffset)));
    }
    return records;
  }

  /** After the transaction committed: persist store buffers with their changelog checkpoints. */
  async afterCommit(changelogEnds: Map<string, number>): Promise<void> {
    for (const store of this.options.stores.values()) {
      await store.flush(changelogEnds.get(`${store.changelogTopic}:${this.partition}`));
    }
    this.commitRequested = false;
    this.processedSinceCommit = 0;
  }

  /** Positions for input queues restored from committed offsets, so a commit without new work still knows them. */
  setCommittedOffset(topic: string, offset: number): void {
    const queue = this.queues.get(topic);
    if (queue && queue.nextOffset === undefined) queue.nextOffset = offset;
  }

  async close(): Promise<void> {
    for (const processor of this.processors) processor.close?.();
    for (const store of this.options.stores.values()) await store.close();
  }

  private buildNodes(): void {
    const { subtopology, topology } = this.options;
    const order = subtopology.nodes;
    // Children first, so a node can wire itself to the runtime nodes of its children.
    const built = new Set<string>();
    const build = (name: string): RuntimeNode => {
      const existing = this.nodes.get(name);
      if (existing) return existing;
      if (built.has(name)) throw new Error(`cycle in topology at "${name}"`);
      built.add(name);
      const def = topology.node(name)!;
      const children = topology.childrenOf(name).map(build);
      let node: RuntimeNode;
      if (def.kind === 'sink') node = this.sinkNode(def);
      else if (def.kind === 'source') node = this.forwardingNode(name, children);
      else node = this.processorNode(name, def.supplier(), def.stores, children);
      this.nodes.set(name, node);
      return node;
    };
    for (const node of order) build(node.name);
  }

  private forwardingNode(name: string, children: RuntimeNode[]): RuntimeNode {
    return {
      name,
      process: (record) => {
        for (const child of children) child.process(record);
      },
    };
  }

  private processorNode(
    name: string,
    processor: Processor<unknown, unknown, unknown, unknown>,
    storeNames: string[],
    children: RuntimeNode[],
  ): RuntimeNode {
    const childByName = new Map(children.map((child) => [child.name, child]));
    const context: ProcessorContext<unknown, unknown> = {
      applicationId: this.options.applicationId,
      taskId: this.id,
      partition: this.partition,
      forward: (record, childName) => {
        if (childName === undefined) {
          for (const child of children) child.process(record);
          return;
        }
        const child = childByName.get(childName);
        if (!child) throw new Error(`processor "${name}" has no child named "${childName}"`);
        child.process(record);
      },
      schedule: (intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable =>
        this.punctuations.schedule(name, intervalMs, type, punctuator, Date.now()),
      getStateStore: <S extends StateStore>(storeName: string): S => {
        const store = storeNames.includes(storeName) ? this.options.stores.get(storeName) : this.options.globalStores.get(storeName);
        if (!store) throw new Error(`processor "${name}" is not connected to store "${storeName}"`);
        return store as unknown as S;
      },
      recordMetadata: () => this.current,
      currentStreamTimeMs: () => this.streamTime,
      currentSystemTimeMs: () => Date.now(),
      commit: () => {
        this.commitRequested = true;
      },
      count: (outcome, amount = 1) => this.options.observer.processorOutcome(name, outcome, amount),
    };
    processor.init?.(context);
    this.processors.push(processor);
    if (processor.beforeCommit) this.committing.push(processor);
    return { name, process: (record) => processor.process(record) };
  }

  private sinkNode(def: SinkNode): RuntimeNode {
    const fixedTopic = typeof def.topic === 'string' ? resolveTopicName(this.options.applicationId, def.topic, def.internal) : undefined;
    return {
      name: def.name,
      process: (record) => {
        const topic = fixedTopic ?? (def.topic as (r: StreamRecord<unknown, unknown>) => string)(record);
        const out = {
          topic,
          key: record.key === null || record.key === undefined ? null : this.lastValue.keyBytesOf(def.keySerde, record.key),
          value: record.value === null || record.value === undefined ? null : this.lastValue.bytesOf(def.valueSerde, record.value),
          headers: record.headers,
          timestamp: record.timestamp,
        };
        // A StreamPartitioner picks the partitions ([]: none; undefined: the default); an extractor's topic at commit.
        if (def.partitioner && !fixedTopic) return this.collector.send(deferPlacement(out, (count) => sinkPartitions(def, topic, record.key, record.value, count)));
        const partitions = def.partitioner || def.dropsNullKeys ? sinkPartitions(def, topic, record.key, record.value) : undefined;
        if (partitions === undefined) this.collector.send(out);
        else for (const partition of partitions) this.collector.send({ ...out, partition });
      },
    };
  }
}

export class PoisonRecordError extends NamedError {}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

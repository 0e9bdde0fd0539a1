import type { MessagePort } from 'node:worker_threads';
import type { Log, TopicPartition, Transaction, TransactionalProducer } from '../Log.js';
import type { CallName, Calls, CastName, Casts, ClientMessage, ConsumerState, ProduceOutcome, RebalanceKind, ServerMessage } from './RemoteProtocol.js';
import { packMetadata, packRecords, transferablesOf, unpackProducerRecords, type PackedRecords } from './RecordPacking.js';
import { ListenerFailedError, serializeError } from './RemoteErrors.js';
import { ServedConsumer } from './ServedConsumer.js';

type Reply = { value: unknown; transfer?: ArrayBuffer[] };

/**
 * One client's connection to a LogServer: answers its calls on the served log and owns what the
 * client created through it (consumers, transactional producers, open transactions), so that a
 * client thread that exits or closes its port releases its group memberships and aborts its
 * open transactions instead of leaving them held.
 */
export class LogSession {
  private readonly consumers = new Map<number, ServedConsumer>();
  private readonly failedConsumers = new Map<number, unknown>();
  private readonly producers = new Map<number, TransactionalProducer>();
  private readonly transactions = new Map<number, Transaction>();
  private readonly callbacks = new Map<number, { resolve: () => void; reject: (error: unknown) => void }>();
  private nextCallbackId = 1;
  private ending: Promise<void> | null = null;
  /** Replies not sent yet: close waits for them, so a produce sent before close is answered. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly log: Log,
    private readonly port: MessagePort,
    private readonly onEnded: (session: LogSession) => void,
  ) {
    port.on('message', (message: ClientMessage) => this.receive(message));
    port.on('close', () => void this.end());
  }

  private receive(message: ClientMessage): void {
    switch (message.type) {
      case 'call':
        this.answer(message.id, message.op, message.args);
        break;
      case 'cast':
        this.applyCast(message.op, message.args);
        break;
      case 'callbackDone': {
        const waiting = this.callbacks.get(message.id);
        this.callbacks.delete(message.id);
        if (message.error) waiting?.reject(new ListenerFailedError(message.id, message.error));
        else waiting?.resolve();
        break;
      }
    }
  }

  private answer(id: number, op: CallName, args: unknown[]): void {
    let reply: Promise<Reply>;
    try {
      // Runs synchronously up to its first await, so calls start in the order they were sent
      // (a consumer exists before the next message, its subscribe, is read).
      reply = Promise.resolve(this.dispatch(op, args));
    } catch (error) {
      reply = Promise.reject(error);
    }
    const sent = reply.then(
      ({ value, transfer }) => this.post({ type: 'result', id, value }, transfer),
      (error: unknown) => this.post({ type: 'result', id, error: serializeError(error) }),
    );
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
  }

  private dispatch(op: CallName, args: unknown[]): Reply | Promise<Reply> {
    const log = this.log;
    const a = args as never;
    switch (op) {
      case 'hello':
        return { value: { kind: log.kind } };
      case 'ensureTopic': {
        const [topic, config] = a as Calls['ensureTopic'][0];
        return log.ensureTopic(topic, config).then(nothing);
      }
      case 'partitionCount':
        return log.partitionCount((a as Calls['partitionCount'][0])[0]).then(plain);
      case 'listTopics':
        return log.listTopics().then(plain);
      case 'produce': {
        const [packed, callSizes] = a as Calls['produce'][0];
        const records = unpackProducerRecords(packed);
        let at = 0;
        // One log.produce per client call, all in this turn: the embedded log still writes them
        // as one group commit, and one call's error (an unknown topic) does not fail the others.
        const outcomes = callSizes.map((size) => {
          const own = callSizes.length === 1 ? records : records.slice(at, (at += size));
          return log.produce(own).then(
            (metadata): ProduceOutcome => ({ metadata: packMetadata(metadata) }),
            (error: unknown): ProduceOutcome => ({ error: serializeError(error) }),
          );
        });
        return Promise.all(outcomes).then(plain);
      }
      case 'beginningOffset':
        return log.beginningOffset((a as Calls['beginningOffset'][0])[0]).then(plain);
      case 'endOffset':
        return log.endOffset((a as Calls['endOffset'][0])[0]).then(plain);
      case 'beginningOffsets':
        return log.beginningOffsets((a as Calls['beginningOffsets'][0])[0]).then(plain);
      case 'endOffsets':
        return log.endOffsets((a as Calls['endOffsets'][0])[0]).then(plain);
      case 'read': {
        const [tp, from, max] = a as Calls['read'][0];
        return log.read(tp, from, max).then((records) => packedReply(packRecords(records)));
      }
      case 'committedOffsets': {
        const [groupId, partitions] = a as Calls['committedOffsets'][0];
        return log.committedOffsets(groupId, partitions).then(plain);
      }
      case 'isHealthy':
        return log.isHealthy().then(plain);
      case 'consumerCreate': {
        const [consumerId, options] = a as Calls['consumerCreate'][0];
        try {
          const served = new ServedConsumer(log.createConsumer(options), (kind, tps, state) => this.callClient(consumerId, kind, tps, state));
          this.consumers.set(consumerId, served);
        } catch (error) {
          // createConsumer is synchronous on the client: its failure is reported by the next call.
          this.failedConsumers.set(consumerId, error);
          throw error;
        }
        return { value: undefined };
      }
      case 'consumerSubscribe': {
        const [consumerId, topics] = a as Calls['consumerSubscribe'][0];
        const served = this.consumer(consumerId);
        return served.consumer.subscribe(topics, served.listener()).then(() => ({ value: served.state() }));
      }
      case 'consumerPoll': {
        const [consumerId, maxRecords, timeoutMs] = a as Calls['consumerPoll'][0];
        const served = this.consumer(consumerId);
        served.throwDeferred();
        return served.consumer.poll(maxRecords, timeoutMs).then((records) => {
          const packed = packRecords(records);
          const state: ConsumerState = served.state();
          return { value: { records: packed, state }, transfer: transferablesOf(packed) };
        });
      }
      case 'consumerCommit': {
        const [consumerId, offsets] = a as Calls['consumerCommit'][0];
        const served = this.consumer(consumerId);
        served.throwDeferred();
        return served.consumer.commitOffsets(offsets).then(nothing);
      }
      case 'consumerClose': {
        const [consumerId] = a as Calls['consumerClose'][0];
        const served = this.consumers.get(consumerId);
        this.failedConsumers.delete(consumerId);
        if (!served) return { value: undefined };
        return served.consumer.close().finally(() => this.consumers.delete(consumerId)).then(nothing);
      }
      case 'producerCreate': {
        const [producerId, transactionalId] = a as Calls['producerCreate'][0];
        return log.createTransactionalProducer(transactionalId).then((producer) => {
          this.producers.set(producerId, producer);
          return { value: undefined };
        });
      }
      case 'producerBegin': {
        const [producerId, transactionId] = a as Calls['producerBegin'][0];
        return this.producer(producerId)
          .begin()
          .then((transaction) => {
            this.transactions.set(transactionId, transaction);
            return { value: undefined };
          });
      }
      case 'transactionCommit': {
        const [transactionId, records, offsets] = a as Calls['transactionCommit'][0];
        return this.commitTransaction(transactionId, records, offsets);
      }
      case 'transactionAbort': {
        const [transactionId] = a as Calls['transactionAbort'][0];
        const transaction = this.transactions.get(transactionId);
        this.transactions.delete(transactionId);
        return (transaction ? transaction.abort() : Promise.resolve()).then(nothing);
      }
      case 'producerClose': {
        const [producerId] = a as Calls['producerClose'][0];
        const producer = this.producers.get(producerId);
        this.producers.delete(producerId);
        return (producer ? producer.close() : Promise.resolve()).then(nothing);
      }
      case 'close': {
        const earlier = [...this.inFlight];
        // Releasing first ends this client's waiting polls; then what it sent before close is answered.
        return this.release()
          .then(() => Promise.allSettled(earlier))
          .then(nothing);
      }
      default:
        throw new Error(`log server: unknown operation "${String(op)}"`);
    }
  }

  /** The whole transaction arrives at commit: records and offsets are applied, then committed. */
  private async commitTransaction(
    transactionId: number,
    records: PackedRecords | null,
    offsets: Calls['transactionCommit'][0][2],
  ): Promise<Reply> {
    const transaction = this.transactions.get(transactionId);
    this.transactions.delete(transactionId);
    if (!transaction) throw new Error('transaction is already committed or aborted');
    try {
      if (records) transaction.produce(unpackProducerRecords(records));
      for (const entry of offsets) transaction.sendOffsets(this.consumer(entry.consumerId).consumer, entry.offsets);
    } catch (error) {
      await transaction.abort();
      throw error;
    }
    return { value: packMetadata(await transaction.commit()) };
  }

  private applyCast(op: CastName, args: unknown[]): void {
    const [consumerId, seq] = args as [number, number];
    const served = this.consumers.get(consumerId);
    if (!served) return;
    try {
      switch (op) {
        case 'consumerSeek': {
          const [, , tp, offset] = args as Casts['consumerSeek'];
          served.consumer.seek(tp, offset);
          break;
        }
        case 'consumerPause':
          served.consumer.pause((args as Casts['consumerPause'])[2]);
          break;
        case 'consumerResume':
          served.consumer.resume((args as Casts['consumerResume'])[2]);
          break;
      }
    } catch (error) {
      served.deferredError = error;
    } finally {
      served.appliedCastSeq = seq;
    }
  }

  private callClient(consumerId: number, kind: RebalanceKind, partitions: TopicPartition[], state: ConsumerState): Promise<void> {
    if (this.ending) return Promise.resolve();
    const id = this.nextCallbackId++;
    return new Promise<void>((resolve, reject) => {
      this.callbacks.set(id, { resolve, reject });
      this.post({ type: 'callback', id, consumerId, kind, partitions, state });
    });
  }

  private consumer(consumerId: number): ServedConsumer {
    const served = this.consumers.get(consumerId);
    if (served) return served;
    const failed = this.failedConsumers.get(consumerId);
    if (failed !== undefined) throw failed;
    throw new Error(`log server: no consumer ${consumerId} in this session (closed?)`);
  }

  private producer(producerId: number): TransactionalProducer {
    const producer = this.producers.get(producerId);
    if (!producer) throw new Error(`log server: no transactional producer ${producerId} in this session (closed?)`);
    return producer;
  }

  private post(message: ServerMessage, transfer?: ArrayBuffer[]): void {
    if (this.ending && message.type === 'callback') return;
    this.port.postMessage(message, transfer);
  }

  /**
   * Closes what the client left open, without calling its listeners (it is going away, as with
   * EmbeddedLog.close abandoning its consumers); the port stays open so the reply can be sent.
   */
  private release(): Promise<void> {
    if (!this.ending) {
      this.ending = (async () => {
        for (const waiting of this.callbacks.values()) waiting.resolve();
        this.callbacks.clear();
        for (const served of this.consumers.values()) served.detached = true;
        const closing: Promise<unknown>[] = [];
        for (const transaction of this.transactions.values()) closing.push(transaction.abort());
        for (const producer of this.producers.values()) closing.push(producer.close());
        for (const served of this.consumers.values()) closing.push(served.consumer.close());
        this.transactions.clear();
        this.producers.clear();
        this.consumers.clear();
        // Best effort: the served log may already be closed by its owner.
        await Promise.allSettled(closing);
        this.onEnded(this);
      })();
    }
    return this.ending;
  }

  /** The port closed (client gone) or the server is shutting down. */
  async end(): Promise<void> {
    await this.release();
    this.port.close();
  }
}

function nothing(): Reply {
  return { value: undefined };
}

function plain(value: unknown): Reply {
  return { value };
}

function packedReply(packed: PackedRecords): Reply {
  return { value: packed, transfer: transferablesOf(packed) };
}


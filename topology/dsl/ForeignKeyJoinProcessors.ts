import { createHash } from 'node:crypto';
import type { Serde } from '../../state/Serde.js';
import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';
import { isNull } from './KTableProcessors.js';
import type { TimestampedKeyValueStore } from './TimestampedStores.js';

/**
 * The processors of the foreign-key table join, as Kafka Streams builds it (KIP-213,
 * kstream/internals/foreignkeyjoin): the left table subscribes each row to the right table's
 * row of its foreign key through the -subscription-registration topic (partitioned by the
 * foreign key), the right side answers through the -subscription-response topic (partitioned by
 * the left key), and the left side joins the answer with its current row unless the row changed
 * meanwhile: each subscription carries a hash of the left value it was made for, and an answer
 * whose hash is not that of the current value is stale and dropped.
 */

/** SubscriptionWrapper.Instruction. */
export type Instruction = 'DELETE_KEY_NO_PROPAGATE' | 'DELETE_KEY_AND_PROPAGATE' | 'PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE' | 'PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE';

export interface SubscriptionWrapper<K> {
  /** Hash of the serialized left value the subscription was made for; null for a deletion. */
  hash: string | null;
  instruction: Instruction;
  primaryKey: K;
  primaryPartition: number;
}

export interface SubscriptionResponseWrapper<VO> {
  hash: string | null;
  foreignValue: VO | null;
  primaryPartition: number;
}

/**
 * Kafka Streams hashes with Murmur3 128; any 128-bit hash of the serialized value does the same
 * job here (the hash never leaves this application), so md5 from node:crypto.
 */
export function valueHash(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('base64');
}

const b64 = (bytes: Buffer) => bytes.toString('base64');
const unb64 = (text: string) => Buffer.from(text, 'base64');

export function subscriptionWrapperSerde<K>(primaryKeySerde: Serde<K>): Serde<SubscriptionWrapper<K>> {
  return {
    serialize: (w) => Buffer.from(JSON.stringify({ h: w.hash, i: w.instruction, k: b64(primaryKeySerde.serialize(w.primaryKey)), p: w.primaryPartition })),
    deserialize: (bytes) => {
      const o = JSON.parse(bytes.toString('utf8')) as { h: string | null; i: Instruction; k: string; p: number };
      return { hash: o.h, instruction: o.i, primaryKey: primaryKeySerde.deserialize(unb64(o.k)), primaryPartition: o.p };
    },
  };
}

export function responseWrapperSerde<VO>(foreignValueSerde: Serde<VO>): Serde<SubscriptionResponseWrapper<VO>> {
  return {
    serialize: (w) => Buffer.from(JSON.stringify({ h: w.hash, v: isNull(w.foreignValue) ? null : b64(foreignValueSerde.serialize(w.foreignValue)), p: w.primaryPartition })),
    deserialize: (bytes) => {
      const o = JSON.parse(bytes.toString('utf8')) as { h: string | null; v: string | null; p: number };
      return { hash: o.h, foreignValue: o.v === null ? null : foreignValueSerde.deserialize(unb64(o.v)), primaryPartition: o.p };
    },
  };
}

/** CombinedKeySchema: [foreign key length, int32][foreign key][primary key], so one foreign key's subscriptions are a prefix range. */
export function combinedKey(foreignKey: Buffer, primaryKey: Buffer): Buffer {
  const length = Buffer.allocUnsafe(4);
  length.writeInt32BE(foreignKey.length);
  return Buffer.concat([length, foreignKey, primaryKey]);
}

function prefixOf(foreignKey: Buffer): Buffer {
  const length = Buffer.allocUnsafe(4);
  length.writeInt32BE(foreignKey.length);
  return Buffer.concat([length, foreignKey]);
}

/** Bytes.increment: the smallest key above every key starting with prefix (the range end, inclusive). */
function increment(prefix: Buffer): Buffer {
  const out = Buffer.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]! += 1;
      return out.subarray(0, i + 1);
    }
  }
  return Buffer.concat([prefix, Buffer.from([0xff])]);
}

/**
 * SubscriptionSendProcessorSupplier: the left table's updates become subscription instructions
 * keyed by foreign key. Kafka Streams reads the old value from the Change record; our KTables
 * forward new values only, so this node keeps a timestamped copy of the left table (which the
 * response join reads as the current value, as Kafka Streams' value getter reads the table).
 */
export class SubscriptionSendProcessor<K, V, KO> implements Processor<K, V | null, KO | null, SubscriptionWrapper<K>> {
  private context!: ProcessorContext<KO | null, SubscriptionWrapper<K>>;
  private copy!: TimestampedKeyValueStore<K, V>;

  constructor(
    private readonly copyStoreName: string,
    private readonly foreignKeyExtractor: (value: V) => KO | null | undefined,
    private readonly foreignKeySerde: Serde<KO>,
    private readonly valueSerde: Serde<V>,
    private readonly leftJoin: boolean,
  ) {}

  init(context: ProcessorContext<KO | null, SubscriptionWrapper<K>>): void {
    this.context = context;
    this.copy = context.getStateStore(this.copyStoreName);
  }

  process(record: StreamRecord<K, V | null>): void {
    if (isNull(record.key)) return this.context.count('null_key_dropped');
    const oldValue = this.copy.get(record.key);
    const newValue = isNull(record.value) ? undefined : record.value;
    if (newValue === undefined) this.copy.delete(record.key);
    else this.copy.putWithTimestamp(record.key, newValue, record.timestamp);
    const hash = newValue === undefined ? null : valueHash(this.valueSerde.serialize(newValue));
    const send = (foreignKey: KO | null | undefined, instruction: Instruction) =>
      this.context.forward({
        key: isNull(foreignKey) ? null : foreignKey,
        value: { hash, instruction, primaryKey: record.key, primaryPartition: this.context.recordMetadata()?.partition ?? this.context.partition },
        timestamp: record.timestamp,
        headers: record.headers,
      });
    const fk = (value: V | undefined) => (value === undefined ? undefined : this.foreignKeyExtractor(value));
    const same = (a: KO | null | undefined, b: KO | null | undefined) =>
      isNull(a) || isNull(b) ? isNull(a) && isNull(b) : this.foreignKeySerde.serialize(a).equals(this.foreignKeySerde.serialize(b));
    // As Kafka Streams 4.4's UnbindChangeProcessor (its bytecode: these branches changed since 3.x).
    const oldForeignKey = fk(oldValue);
    if (this.leftJoin) {
      if (oldValue === undefined && newValue === undefined) return;
      const newForeignKey = fk(newValue);
      if (!isNull(oldForeignKey) && !same(newForeignKey, oldForeignKey)) send(oldForeignKey, 'DELETE_KEY_NO_PROPAGATE');
      send(newForeignKey, 'PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE');
      return;
    }
    const hadForeignKey = !isNull(oldForeignKey);
    if (newValue === undefined) {
      if (hadForeignKey) send(oldForeignKey, 'DELETE_KEY_AND_PROPAGATE');
      return;
    }
    const newForeignKey = fk(newValue);
    if (isNull(newForeignKey)) {
      this.context.count('null_foreign_key_dropped');
      if (hadForeignKey) send(oldForeignKey, 'DELETE_KEY_AND_PROPAGATE');
    } else if (hadForeignKey && !same(newForeignKey, oldForeignKey)) {
      send(oldForeignKey, 'DELETE_KEY_NO_PROPAGATE');
      // The new foreign key may have no row: the previous result must be unset.
      send(newForeignKey, 'PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE');
    } else {
      send(newForeignKey, 'PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE');
    }
  }
}

/**
 * The two processors that read and write the subscription store and the right table's copy (both
 * sides of the join meet there): the stores, the key serdes and their lookup at init.
 */
abstract class SubscriptionStoresProcessor<K, KO, VO, KIn, VIn> implements Processor<KIn, VIn, K, SubscriptionResponseWrapper<VO>> {
  protected context!: ProcessorContext<K, SubscriptionResponseWrapper<VO>>;
  protected subscriptions!: TimestampedKeyValueStore<Buffer, SubscriptionWrapper<K>>;
  protected foreign!: TimestampedKeyValueStore<KO, VO>;

  constructor(
    private readonly subscriptionStoreName: string,
    private readonly foreignCopyStoreName: string,
    protected readonly foreignKeySerde: Serde<KO>,
    protected readonly primaryKeySerde: Serde<K>,
  ) {}

  init(context: ProcessorContext<K, SubscriptionResponseWrapper<VO>>): void {
    this.context = context;
    this.subscriptions = context.getStateStore(this.subscriptionStoreName);
    this.foreign = context.getStateStore(this.foreignCopyStoreName);
  }

  abstract process(record: StreamRecord<KIn, VIn>): void;
}

/**
 * SubscriptionReceiveProcessorSupplier and SubscriptionJoinProcessorSupplier in one node: the
 * subscription is stored (or deleted) under (foreign key, primary key), then answered with the
 * right table's row for the foreign key, at the later timestamp of the two.
 */
export class SubscriptionReceiveProcessor<K, KO, VO> extends SubscriptionStoresProcessor<K, KO, VO, KO | null, SubscriptionWrapper<K>> {
  process(record: StreamRecord<KO | null, SubscriptionWrapper<K>>): void {
    const subscription = record.value;
    const noForeignKey = isNull(record.key);
    if (noForeignKey && subscription.instruction !== 'PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE') return this.context.count('null_foreign_key_dropped');
    if (!noForeignKey) {
      const key = combinedKey(this.foreignKeySerde.serialize(record.key!), this.primaryKeySerde.serialize(subscription.primaryKey));
      if (subscription.instruction === 'DELETE_KEY_AND_PROPAGATE' || subscription.instruction === 'DELETE_KEY_NO_PROPAGATE') this.subscriptions.delete(key);
      else this.subscriptions.putWithTimestamp(key, subscription, record.timestamp);
    }
    const foreign = noForeignKey ? undefined : this.foreign.getWithTimestamp(record.key!);
    const timestamp = foreign === undefined ? record.timestamp : Math.max(record.timestamp, foreign.timestamp);
    const respond = (foreignValue: VO | null) =>
      this.context.forward({
        key: subscription.primaryKey,
        value: { hash: subscription.hash, foreignValue, primaryPartition: subscription.primaryPartition },
        timestamp,
        headers: record.headers,
      });
    switch (subscription.instruction) {
      case 'DELETE_KEY_AND_PROPAGATE':
        return respond(null);
      case 'PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE':
        return respond(foreign === undefined ? null : foreign.value);
      case 'PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE':
        if (foreign !== undefined) respond(foreign.value);
        return;
      case 'DELETE_KEY_NO_PROPAGATE':
        return;
    }
  }
}

/**
 * ForeignTableJoinProcessorSupplier: a right-table update answers every subscription to its key
 * (a prefix scan of the subscription store, in key order), with the update's timestamp. It also
 * keeps the timestamped copy of the right table the subscription side reads.
 */
export class ForeignTableJoinProcessor<K, KO, VO> extends SubscriptionStoresProcessor<K, KO, VO, KO, VO | null> {
  process(record: StreamRecord<KO, VO | null>): void {
    if (isNull(record.key)) return this.context.count('null_key_dropped');
    const foreignValue = isNull(record.value) ? null : record.value;
    if (foreignValue === null) this.foreign.delete(record.key);
    else this.foreign.putWithTimestamp(record.key, foreignValue, record.timestamp);
    const prefix = prefixOf(this.foreignKeySerde.serialize(record.key));
    for (const { key, value } of this.subscriptions.range(prefix, increment(prefix))) {
      if (key.length < prefix.length || !key.subarray(0, prefix.length).equals(prefix)) continue;
      this.context.forward({
        key: this.primaryKeySerde.deserialize(key.subarray(prefix.length)),
        value: { hash: value.hash, foreignValue, primaryPartition: value.primaryPartition },
        timestamp: record.timestamp,
        headers: record.headers,
      });
    }
  }
}

/**
 * ResponseJoinProcessorSupplier: an answer is joined with the left table's current row if that
 * row is still the one subscribed (same hash), else dropped as stale. A missing right row gives
 * a tombstone in the inner join (and when the left row is gone), the joiner with undefined in the left join.
 */
export class ResponseJoinProcessor<K, V, VO, R> implements Processor<K, SubscriptionResponseWrapper<VO>, K, R | null> {
  private context!: ProcessorContext<K, R | null>;
  private left!: TimestampedKeyValueStore<K, V>;

  constructor(
    private readonly leftCopyStoreName: string,
    private readonly valueSerde: Serde<V>,
    private readonly joiner: (value: V | undefined, foreignValue: VO | undefined) => R,
    private readonly leftJoin: boolean,
  ) {}

  init(context: ProcessorContext<K, R | null>): void {
    this.context = context;
    this.left = context.getStateStore(this.leftCopyStoreName);
  }

  process(record: StreamRecord<K, SubscriptionResponseWrapper<VO>>): void {
    const current = this.left.get(record.key);
    const currentHash = current === undefined ? null : valueHash(this.valueSerde.serialize(current));
    if (currentHash !== record.value.hash) return this.context.count('stale_response_dropped');
    const foreignValue = isNull(record.value.foreignValue) ? undefined : record.value.foreignValue;
    const result = foreignValue === undefined && (!this.leftJoin || current === undefined) ? null : this.joiner(current, foreignValue);
    this.context.forward({ key: record.key, value: result, timestamp: record.timestamp, headers: record.headers });
  }
}

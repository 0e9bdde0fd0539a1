import { jsonSerde, stringSerde, bufferSerde, type Serde } from '../../state/Serde.js';
import {
  ForeignTableJoinProcessor,
  ResponseJoinProcessor,
  SubscriptionReceiveProcessor,
  SubscriptionSendProcessor,
  responseWrapperSerde,
  subscriptionWrapperSerde,
} from './ForeignKeyJoinProcessors.js';
import type { KTable, TableMaterialized } from './KTable.js';
import { TableMaterializeProcessor } from './KTableProcessors.js';
import { keyValueStoreBuilder } from './Stores.js';
import { timestampedKeyValueStoreBuilder } from './TimestampedStores.js';

/**
 * KTableImpl.doJoinOnForeignKey: the left table's rows joined with the right table's row of the
 * key each left row names (foreignKeyExtractor). Built as Kafka Streams builds it:
 *
 *   left table -> SUBSCRIPTION-REGISTRATION (send) -> <app>-...-SUBSCRIPTION-REGISTRATION-n-topic
 *     -> subscription receive + join (subscription store, right copy) -> <app>-...-SUBSCRIPTION-RESPONSE-n-topic
 *   right table -> foreign join (prefix scan of the subscription store) -> the same response topic
 *   response topic -> response join (left copy, hash check) -> result table
 *
 * The registration topic is co-partitioned with the right table (its readers' partition count),
 * the response topic with the left table. Responses go to the partition of the left key by the
 * default partitioner (Kafka Streams sends them to the partition the subscription came from,
 * the same one when the left topic is partitioned by its key's bytes, as the default partitioner does).
 */
export function foreignKeyJoin<K, V, KO, VO, R>(
  left: KTable<K, V>,
  right: KTable<KO, VO>,
  foreignKeyExtractor: (value: V) => KO | null | undefined,
  joiner: (value: V | undefined, foreignValue: VO | undefined) => R,
  leftJoin: boolean,
  materialized: TableMaterialized<R>,
): KTable<K, R> {
  const builder = left.builder;
  const { topology, names } = builder;
  left.enableSendingOldValues();
  right.enableSendingOldValues();
  const keySerde = left.keySerde ?? (stringSerde as unknown as Serde<K>);
  const valueSerde = left.valueSerde ?? jsonSerde<V>();
  const foreignKeySerde = right.keySerde ?? (stringSerde as unknown as Serde<KO>);
  const foreignValueSerde = right.valueSerde ?? jsonSerde<VO>();

  const registration = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION');
  const registrationTopic = `${registration}-topic`;
  const sendName = `${registration}-processor`;
  const leftCopy = `${sendName}-LEFT-STORE`;
  const subscriptions = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE');
  const receiveName = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR');
  const rightCopy = `${receiveName}-FOREIGN-STORE`;
  const foreignJoinName = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR');
  const response = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE');
  const responseTopic = `${response}-topic`;
  const resolverName = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR');
  const resultName = names.next('KTABLE-FK-JOIN-OUTPUT');
  const resultStore = materialized.name ?? `${resultName}-STATE-STORE`;

  const subscriptionSerde = subscriptionWrapperSerde(keySerde);
  const responseSerde = responseWrapperSerde(foreignValueSerde);

  topology.addProcessor(sendName, () => new SubscriptionSendProcessor<K, V, KO>(leftCopy, foreignKeyExtractor, foreignKeySerde, valueSerde, leftJoin), left.nodeName);
  topology.addInternalTopic(registrationTopic, undefined, { copartitioned: true });
  topology.addSink(`${registration}-sink`, registrationTopic, { keySerde: foreignKeySerde, valueSerde: subscriptionSerde, internal: true }, sendName);
  topology.addSource(`${registration}-source`, [registrationTopic], { keySerde: foreignKeySerde, valueSerde: subscriptionSerde, internal: true });
  topology.addProcessor(receiveName, () => new SubscriptionReceiveProcessor<K, KO, VO>(subscriptions, rightCopy, foreignKeySerde, keySerde), `${registration}-source`);
  topology.addProcessor(foreignJoinName, () => new ForeignTableJoinProcessor<K, KO, VO>(subscriptions, rightCopy, foreignKeySerde, keySerde), right.nodeName);
  topology.addStateStore(timestampedKeyValueStoreBuilder(subscriptions, bufferSerde, subscriptionSerde), receiveName, foreignJoinName);
  topology.addStateStore(timestampedKeyValueStoreBuilder(rightCopy, foreignKeySerde, foreignValueSerde), receiveName, foreignJoinName);

  topology.addInternalTopic(responseTopic, undefined, { copartitioned: true });
  topology.addSink(`${response}-sink`, responseTopic, { keySerde, valueSerde: responseSerde, internal: true }, receiveName, foreignJoinName);
  topology.addSource(`${response}-source`, [responseTopic], { keySerde, valueSerde: responseSerde, internal: true });
  topology.addProcessor(resolverName, () => new ResponseJoinProcessor<K, V, VO, R>(leftCopy, valueSerde, joiner, leftJoin), `${response}-source`);
  topology.addStateStore(timestampedKeyValueStoreBuilder(leftCopy, keySerde, valueSerde), sendName, resolverName);

  const resultSerde = materialized.valueSerde ?? jsonSerde<R>();
  topology.addProcessor(resultName, () => new TableMaterializeProcessor<K, R>(resultStore), resolverName);
  topology.addStateStore(keyValueStoreBuilder(resultStore, keySerde, resultSerde), resultName);
  return new (left.constructor as typeof KTable)<K, R>(builder, resultName, resultStore, left.keySerde, materialized.valueSerde);
}

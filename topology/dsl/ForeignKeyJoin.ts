import { jsonSerde, stringSerde, bufferSerde, type Serde } from '../../state/Serde.js';
import {
  ForeignTableJoinProcessor,
  ResponseJoinProcessor,
  SubscriptionReceiveProcessor,
  SubscriptionSendProcessor,
  responseWrapperSerde,
  subscriptionWrapperSerde,
  type SubscriptionResponseWrapper,
} from './ForeignKeyJoinProcessors.js';
import type { KTable, TableMaterialized } from './KTable.js';
import { TableMaterializeProcessor } from './KTableProcessors.js';
import { keyValueStoreBuilder } from './MaterializedStores.js';
import { singlePartition, type TableJoined } from './TableJoined.js';
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
 * the response topic with the left table. Registrations go to murmur2 of the foreign key, or where
 * TableJoined's otherPartitioner says; responses to the partition the subscription came from, or
 * where TableJoined's partitioner says. A TableJoined name names the nodes, topics and
 * subscription store as Kafka Streams' NamedInternal.suffixWithOrElseGet does.
 */
export function foreignKeyJoin<K, V, KO, VO, R>(
  left: KTable<K, V>,
  right: KTable<KO, VO>,
  foreignKeyExtractor: (value: V) => KO | null | undefined,
  joiner: (value: V | undefined, foreignValue: VO | undefined) => R,
  leftJoin: boolean,
  materialized: TableMaterialized<R>,
  tableJoined?: TableJoined<K, KO>,
): KTable<K, R> {
  const builder = left.builder;
  const { topology, names } = builder;
  left.enableSendingOldValues();
  right.enableSendingOldValues();
  const keySerde = left.keySerde ?? (stringSerde as unknown as Serde<K>);
  const valueSerde = left.valueSerde ?? jsonSerde<V>();
  const foreignKeySerde = right.keySerde ?? (stringSerde as unknown as Serde<KO>);
  const foreignValueSerde = right.valueSerde ?? jsonSerde<VO>();

  const { registrationTopic, sendName, registrationSink, registrationSource, subscriptions, receiveName, foreignJoinName, responseTopic, responseSink, responseSource, resolverName, resultName } =
    joinNames(names, tableJoined?.name);
  const leftCopy = `${sendName}-LEFT-STORE`;
  const rightCopy = `${receiveName}-FOREIGN-STORE`;
  const resultStore = materialized.name ?? `${resultName}-STATE-STORE`;
  const registrationPartitioner = tableJoined?.otherPartitioner ? singlePartition(tableJoined.otherPartitioner) : undefined;
  const responsePartitioner = tableJoined?.partitioner
    ? singlePartition(tableJoined.partitioner)
    : (_topic: string, _key: K, response: SubscriptionResponseWrapper<VO>) => [response.primaryPartition];

  const subscriptionSerde = subscriptionWrapperSerde(keySerde);
  const responseSerde = responseWrapperSerde(foreignValueSerde);

  topology.addProcessor(sendName, () => new SubscriptionSendProcessor<K, V, KO>(leftCopy, foreignKeyExtractor, foreignKeySerde, valueSerde, leftJoin), left.nodeName);
  topology.addInternalTopic(registrationTopic, undefined, { copartitioned: true });
  topology.addSink(registrationSink, registrationTopic, { keySerde: foreignKeySerde, valueSerde: subscriptionSerde, internal: true, partitioner: registrationPartitioner }, sendName);
  topology.addSource(registrationSource, [registrationTopic], { keySerde: foreignKeySerde, valueSerde: subscriptionSerde, internal: true });
  topology.addProcessor(receiveName, () => new SubscriptionReceiveProcessor<K, KO, VO>(subscriptions, rightCopy, foreignKeySerde, keySerde), registrationSource);
  topology.addProcessor(foreignJoinName, () => new ForeignTableJoinProcessor<K, KO, VO>(subscriptions, rightCopy, foreignKeySerde, keySerde), right.nodeName);
  topology.addStateStore(timestampedKeyValueStoreBuilder(subscriptions, bufferSerde, subscriptionSerde), receiveName, foreignJoinName);
  topology.addStateStore(timestampedKeyValueStoreBuilder(rightCopy, foreignKeySerde, foreignValueSerde), receiveName, foreignJoinName);

  topology.addInternalTopic(responseTopic, undefined, { copartitioned: true });
  topology.addSink(responseSink, responseTopic, { keySerde, valueSerde: responseSerde, internal: true, partitioner: responsePartitioner }, receiveName, foreignJoinName);
  topology.addSource(responseSource, [responseTopic], { keySerde, valueSerde: responseSerde, internal: true });
  topology.addProcessor(resolverName, () => new ResponseJoinProcessor<K, V, VO, R>(leftCopy, valueSerde, joiner, leftJoin), responseSource);
  topology.addStateStore(timestampedKeyValueStoreBuilder(leftCopy, keySerde, valueSerde), sendName, resolverName);

  const resultSerde = materialized.valueSerde ?? jsonSerde<R>();
  topology.addProcessor(resultName, () => new TableMaterializeProcessor<K, R>(resultStore), resolverName);
  topology.addStateStore(keyValueStoreBuilder(resultStore, keySerde, resultSerde), resultName);
  return new (left.constructor as typeof KTable)<K, R>(builder, resultName, resultStore, left.keySerde, materialized.valueSerde);
}

/**
 * The join's node, topic and store names. Named (TableJoined.withName): Kafka Streams'
 * renamed.suffixWithOrElseGet suffixes. Unnamed: the generated names this join always had (a
 * running application's internal topics and changelogs keep theirs).
 */
function joinNames(names: { next(prefix: string): string }, name: string | undefined) {
  if (name) {
    return {
      registrationTopic: `${name}-subscription-registration-topic`,
      sendName: `${name}-subscription-registration-processor`,
      registrationSink: `${name}-subscription-registration-sink`,
      registrationSource: `${name}-subscription-registration-source`,
      subscriptions: `${name}-subscription-store`,
      receiveName: `${name}-subscription-receive`,
      foreignJoinName: `${name}-foreign-join-subscription`,
      responseTopic: `${name}-subscription-response-topic`,
      responseSink: `${name}-subscription-response-sink`,
      responseSource: `${name}-subscription-response-source`,
      resolverName: `${name}-subscription-response-resolver`,
      resultName: `${name}-result`,
    };
  }
  const registration = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION');
  const subscriptions = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE');
  const receiveName = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR');
  const foreignJoinName = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR');
  const response = names.next('KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE');
  return {
    registrationTopic: `${registration}-topic`,
    sendName: `${registration}-processor`,
    registrationSink: `${registration}-sink`,
    registrationSource: `${registration}-source`,
    subscriptions,
    receiveName,
    foreignJoinName,
    responseTopic: `${response}-topic`,
    responseSink: `${response}-sink`,
    responseSource: `${response}-source`,
    resolverName: names.next('KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR'),
    resultName: names.next('KTABLE-FK-JOIN-OUTPUT'),
  };
}

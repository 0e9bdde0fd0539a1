package dev.streamline.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.CogroupedKStream;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.KeyValue;
import java.time.Duration;
import java.util.Optional;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.StreamPartitioner;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.common.utils.Bytes;

import java.util.List;
import java.util.Set;

/**
 * The store-option scenarios of test/conformance/scenarios-stores.ts, as a Kafka Streams user
 * writes them.
 */
final class StoreScenarios {
    private StoreScenarios() {}

    static final Set<String> NAMES = Set.of("aggregate-in-memory-store", "repartition-named-partitions", "cogroup-aggregate", "cogroup-windowed", "stream-partitioner", "topic-extractor-partitioner", "rocksdb-logging-disabled");

    static boolean handles(String scenario) {
        return NAMES.contains(scenario);
    }

    /** No partition for values whose n divides by d (the record is dropped), else n % numPartitions; null values: the default partitioner. */
    static StreamPartitioner<String, JsonNode> dropEvery(long d) {
        return (topic, key, value, numPartitions) -> {
            if (value == null) return Optional.empty();
            long n = Json.number(value, "n");
            return n % d == 0 ? Optional.of(Set.<Integer>of()) : Optional.of(Set.of((int) (n % numPartitions)));
        };
    }

    static JsonNode clicksAndSpent(long clicks, long spent) {
        ObjectNode o = Json.object();
        o.put("clicks", clicks);
        o.put("spent", spent);
        return o;
    }

    static Scenarios.Built build(String scenario) {
        StreamsBuilder builder = new StreamsBuilder();
        List<String> outputs = outputs(scenario, builder);
        return new Scenarios.Built(builder.build(), outputs);
    }

    private static List<String> outputs(String scenario, StreamsBuilder builder) {
        switch (scenario) {
            case "aggregate-in-memory-store" -> {
                KGroupedStream<String, JsonNode> grouped = Scenarios.grouped(Scenarios.events(builder));
                grouped.aggregate(() -> Scenarios.countAndSum(0, 0),
                        (k, v, agg) -> Scenarios.countAndSum(Json.number(agg, "count") + 1, Json.number(agg, "sum") + Json.number(v, "n")),
                        Materialized.<String, JsonNode>as(Stores.inMemoryKeyValueStore("agg-in-memory"))
                            .withKeySerde(Serdes.String()).withValueSerde(Json.SERDE).withCachingDisabled())
                    .toStream().to("out-in-memory", Scenarios.JSON_OUT);
                grouped.count(Materialized.<String, Long>as(Stores.inMemoryKeyValueStore("count-no-logging"))
                        .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()).withLoggingDisabled())
                    .toStream().mapValues(KTableScenarios::number).to("out-no-logging", Scenarios.JSON_OUT);
                return List.of("out-in-memory", "out-no-logging");
            }
            case "rocksdb-logging-disabled" -> {
                KGroupedStream<String, JsonNode> grouped = Scenarios.grouped(Scenarios.events(builder));
                grouped.count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("count-unlogged").withLoggingDisabled())
                    .toStream().mapValues(KTableScenarios::number).to("out-count", Scenarios.JSON_OUT);
                grouped.windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(60), Duration.ofSeconds(10)))
                    .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("windowed-unlogged").withLoggingDisabled())
                    .toStream().map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), KTableScenarios.number(count))).to("out-windowed", Scenarios.JSON_OUT);
                grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)))
                    .count(Materialized.<String, Long, SessionStore<Bytes, byte[]>>as("session-unlogged").withLoggingDisabled())
                    .toStream().map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), count == null ? null : KTableScenarios.number(count))).to("out-session", Scenarios.JSON_OUT);
                return List.of("out-count", "out-windowed", "out-session");
            }
            case "repartition-named-partitions" -> {
                Scenarios.events(builder)
                    .selectKey((k, v) -> Json.text(v, "user"))
                    .repartition(Repartitioned.<String, JsonNode>as("by-user").withNumberOfPartitions(3).withKeySerde(Serdes.String()).withValueSerde(Json.SERDE))
                    .groupByKey(Grouped.with(Serdes.String(), Json.SERDE))
                    .aggregate(() -> 0L, (k, v, sum) -> sum + Json.number(v, "n"), Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream().mapValues(KTableScenarios::number)
                    .to((k, v, context) -> "out-" + k, Scenarios.JSON_OUT);
                return List.of("out-a0", "out-a1", "out-a2", "out-a3");
            }
            case "cogroup-aggregate" -> {
                KGroupedStream<String, JsonNode> clicks = builder.stream("clicks", Scenarios.JSON_IN).groupByKey(Grouped.with(Serdes.String(), Json.SERDE));
                KGroupedStream<String, JsonNode> orders = builder.stream("orders", Scenarios.JSON_IN).groupByKey(Grouped.with(Serdes.String(), Json.SERDE));
                clicks.<JsonNode>cogroup((k, v, agg) -> clicksAndSpent(Json.number(agg, "clicks") + 1, Json.number(agg, "spent")))
                    .cogroup(orders, (k, v, agg) -> clicksAndSpent(Json.number(agg, "clicks"), Json.number(agg, "spent") + Json.number(v, "n")))
                    .aggregate(() -> clicksAndSpent(0, 0), Materialized.with(Serdes.String(), Json.SERDE))
                    .toStream().to("out", Scenarios.JSON_OUT);
                return List.of("out");
            }
            case "stream-partitioner" -> {
                KStream<String, JsonNode> events = Scenarios.events(builder);
                events.to("out", Produced.with(Serdes.String(), Json.SERDE, dropEvery(7)));
                events.repartition(Repartitioned.<String, JsonNode>with(Serdes.String(), Json.SERDE).withStreamPartitioner(dropEvery(5)))
                    .to("out-repartitioned", Scenarios.JSON_OUT);
                return List.of("out", "out-repartitioned");
            }
            case "topic-extractor-partitioner" -> {
                Scenarios.events(builder).to(
                    (k, v, context) -> "out-" + (v == null ? "null" : Json.number(v, "n") % 2 == 0 ? "even" : "odd"),
                    Produced.with(Serdes.String(), Json.SERDE, dropEvery(7)));
                return List.of("out-even", "out-odd", "out-null");
            }
            case "cogroup-windowed" -> {
                KGroupedStream<String, JsonNode> clicks = builder.stream("clicks", Scenarios.JSON_IN).groupByKey(Grouped.with(Serdes.String(), Json.SERDE));
                KGroupedStream<String, JsonNode> orders = builder.stream("orders", Scenarios.JSON_IN).groupByKey(Grouped.with(Serdes.String(), Json.SERDE));
                java.util.function.Supplier<CogroupedKStream<String, JsonNode>> cogroup = () -> clicks
                    .<JsonNode>cogroup((k, v, agg) -> clicksAndSpent(Json.number(agg, "clicks") + 1, Json.number(agg, "spent")))
                    .cogroup(orders, (k, v, agg) -> clicksAndSpent(Json.number(agg, "clicks"), Json.number(agg, "spent") + Json.number(v, "n")));
                cogroup.get().windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(60), Duration.ofSeconds(10)))
                    .aggregate(() -> clicksAndSpent(0, 0), Materialized.with(Serdes.String(), Json.SERDE))
                    .toStream().map((wk, v) -> KeyValue.pair(Scenarios.windowedKey(wk), v)).to("out-time", Scenarios.JSON_OUT);
                cogroup.get().windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)))
                    .aggregate(() -> clicksAndSpent(0, 0), Materialized.with(Serdes.String(), Json.SERDE))
                    .toStream().map((wk, v) -> KeyValue.pair(Scenarios.windowedKey(wk), v)).to("out-sliding", Scenarios.JSON_OUT);
                cogroup.get().windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)))
                    .aggregate(() -> clicksAndSpent(0, 0),
                        (k, a, b) -> clicksAndSpent(Json.number(a, "clicks") + Json.number(b, "clicks"), Json.number(a, "spent") + Json.number(b, "spent")),
                        Materialized.with(Serdes.String(), Json.SERDE))
                    .toStream().map((wk, v) -> KeyValue.pair(Scenarios.windowedKey(wk), v)).to("out-session", Scenarios.JSON_OUT);
                return List.of("out-time", "out-sliding", "out-session");
            }
            default -> throw new IllegalArgumentException("unknown scenario " + scenario);
        }
    }
}

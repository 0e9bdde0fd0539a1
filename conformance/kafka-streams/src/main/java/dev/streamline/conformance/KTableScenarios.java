package dev.streamline.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedTable;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.Suppressed.BufferConfig;
import org.apache.kafka.streams.kstream.TableJoined;
import org.apache.kafka.streams.processor.StreamPartitioner;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;

import java.time.Duration;

import java.util.List;

/**
 * The KTable scenarios of test/conformance/scenarios-ktable.ts, as a Kafka Streams user writes
 * them.
 */
final class KTableScenarios {
    private KTableScenarios() {}

    private static final Produced<String, JsonNode> OUT = Scenarios.JSON_OUT;

    private static void putText(ObjectNode node, String field, String value) {
        if (value == null) node.putNull(field); else node.put(field, value);
    }

    static JsonNode score(long score) {
        ObjectNode o = Json.object();
        o.put("score", score);
        return o;
    }

    static JsonNode number(Long value) {
        return value == null ? null : Json.NODES.numberNode(value);
    }

    static JsonNode tierAndPlan(JsonNode user, JsonNode plan) {
        ObjectNode out = Json.object();
        putText(out, "tier", Json.text(user, "tier"));
        putText(out, "plan", Json.text(plan, "plan"));
        return out;
    }

    static final java.util.Set<String> NAMES = java.util.Set.of("ktable-filter-mapvalues-to-stream", "stream-to-table", "table-table-joins", "ktable-groupby-aggregate",
        "suppress-until-window-closes", "suppress-until-time-limit", "foreign-key-join", "foreign-key-join-table-joined");

    static boolean handles(String scenario) {
        return NAMES.contains(scenario);
    }

    static Scenarios.Built build(String scenario) {
        StreamsBuilder builder = new StreamsBuilder();
        List<String> outputs = outputs(scenario, builder);
        return new Scenarios.Built(builder.build(), outputs);
    }

    private static List<String> outputs(String scenario, StreamsBuilder builder) {
        switch (scenario) {
            case "ktable-filter-mapvalues-to-stream" -> {
                KTable<String, JsonNode> users = builder.table("users", Scenarios.JSON_IN);
                users.filter((k, v) -> !"bronze".equals(Json.text(v, "tier"))).toStream().to("out-filter", OUT);
                users.mapValues((k, v) -> {
                    ObjectNode o = Json.object();
                    o.put("key", k);
                    o.put("level", Json.number(v, "score") >= 50 ? "high" : "low");
                    return (JsonNode) o;
                }).toStream().to("out-map", OUT);
                users.filterNot((k, v) -> Json.number(v, "score") < 30)
                    .mapValues(v -> {
                        ObjectNode o = Json.object();
                        putText(o, "tier", Json.text(v, "tier"));
                        return (JsonNode) o;
                    })
                    .toStream()
                    .to("out-filter-map", OUT);
                return List.of("out-filter", "out-map", "out-filter-map");
            }
            case "stream-to-table" -> {
                KStream<String, JsonNode> events = builder.stream("events", Scenarios.JSON_IN);
                events.toTable().toStream().to("out", OUT);
                events.selectKey((k, v) -> Json.text(v, "user"))
                    .toTable(Materialized.with(Serdes.String(), Json.SERDE))
                    .filter((k, v) -> Json.number(v, "n") >= 50)
                    .toStream()
                    .to("out-rekeyed", OUT);
                return List.of("out", "out-rekeyed");
            }
            case "foreign-key-join" -> {
                KTable<String, JsonNode> users = builder.table("users", Scenarios.JSON_IN);
                KTable<String, JsonNode> plans = builder.table("plans", Scenarios.JSON_IN);
                users.join(plans, u -> Json.text(u, "planId"), KTableScenarios::tierAndPlan).toStream().to("out-inner", OUT);
                users.leftJoin(plans, u -> Json.text(u, "planId"), KTableScenarios::tierAndPlan).toStream().to("out-left", OUT);
                return List.of("out-inner", "out-left");
            }
            case "foreign-key-join-table-joined" -> {
                KTable<String, JsonNode> users = builder.table("users", Scenarios.JSON_IN);
                KTable<String, JsonNode> plans = builder.table("plans", Scenarios.JSON_IN);
                StreamPartitioner<String, Void> lastCharParity = (topic, key, value, numPartitions) ->
                    key == null || key.charAt(key.length() - 1) % 2 == 0 ? Optional.empty() : Optional.of(Set.of(numPartitions - 1));
                users.join(plans, u -> Json.text(u, "planId"), KTableScenarios::tierAndPlan,
                        TableJoined.with(lastCharParity, lastCharParity).withName("user-plan"))
                    .toStream().to("out-inner", OUT);
                users.leftJoin(plans, u -> Json.text(u, "planId"), KTableScenarios::tierAndPlan,
                        TableJoined.with(lastCharParity, lastCharParity).withName("user-plan-left"))
                    .toStream().to("out-left", OUT);
                return List.of("out-inner", "out-left");
            }
            case "table-table-joins" -> {
                KTable<String, JsonNode> users = builder.table("users", Scenarios.JSON_IN);
                KTable<String, JsonNode> plans = builder.table("plans", Scenarios.JSON_IN);
                users.join(plans, KTableScenarios::tierAndPlan).toStream().to("out-inner", OUT);
                users.leftJoin(plans, KTableScenarios::tierAndPlan).toStream().to("out-left", OUT);
                users.outerJoin(plans, KTableScenarios::tierAndPlan).toStream().to("out-outer", OUT);
                return List.of("out-inner", "out-left", "out-outer");
            }
            case "ktable-groupby-aggregate" -> {
                KTable<String, JsonNode> users = builder.table("users", Scenarios.JSON_IN);
                KGroupedTable<String, JsonNode> byTier = users.groupBy(
                    (k, v) -> KeyValue.pair(Json.text(v, "tier"), score(Json.number(v, "score"))), Grouped.with(Serdes.String(), Json.SERDE));
                byTier.count().toStream().mapValues(KTableScenarios::number).to("out-count", OUT);
                byTier.aggregate(() -> 0L, (k, v, sum) -> sum + Json.number(v, "score"), (k, v, sum) -> sum - Json.number(v, "score"),
                        Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream().mapValues(KTableScenarios::number).to("out-sum", OUT);
                byTier.reduce((a, v) -> score(Json.number(a, "score") + Json.number(v, "score")), (a, v) -> score(Json.number(a, "score") - Json.number(v, "score")))
                    .toStream().to("out-reduce", OUT);
                users.filter((k, v) -> Json.number(v, "score") >= 20)
                    .groupBy((k, v) -> KeyValue.pair(Json.text(v, "tier"), v), Grouped.with(Serdes.String(), Json.SERDE))
                    .count()
                    .toStream().mapValues(KTableScenarios::number).to("out-filtered-count", OUT);
                return List.of("out-count", "out-sum", "out-reduce", "out-filtered-count");
            }
            case "suppress-until-window-closes" -> {
                var grouped = Scenarios.grouped(Scenarios.events(builder));
                grouped.windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(60), Duration.ofSeconds(10))).count()
                    .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
                    .toStream().map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), number(count))).to("out", OUT);
                grouped.windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(30))).count()
                    .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
                    .toStream().map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), number(count))).to("out-no-grace", OUT);
                grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5))).count()
                    .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
                    .toStream().map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), number(count))).to("out-session", OUT);
                grouped.windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5))).count()
                    .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
                    .toStream().map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), number(count))).to("out-sliding", OUT);
                return List.of("out", "out-no-grace", "out-session", "out-sliding");
            }
            case "suppress-until-time-limit" -> {
                KStream<String, JsonNode> events = Scenarios.events(builder);
                KTable<String, Long> counts = Scenarios.grouped(events).count();
                counts.suppress(Suppressed.untilTimeLimit(Duration.ofSeconds(20), BufferConfig.unbounded()))
                    .toStream().mapValues(KTableScenarios::number).to("out", OUT);
                counts.suppress(Suppressed.untilTimeLimit(Duration.ofSeconds(20), BufferConfig.maxRecords(3)))
                    .toStream().mapValues(KTableScenarios::number).to("out-bounded", OUT);
                events.toTable(Materialized.with(Serdes.String(), Json.SERDE))
                    .suppress(Suppressed.untilTimeLimit(Duration.ofSeconds(10), BufferConfig.maxRecords(2).emitEarlyWhenFull()))
                    .toStream().to("out-table", OUT);
                return List.of("out", "out-bounded", "out-table");
            }
            default -> throw new IllegalArgumentException("unknown scenario " + scenario);
        }
    }
}

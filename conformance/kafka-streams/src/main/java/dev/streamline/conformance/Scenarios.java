package dev.streamline.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;

import java.time.Duration;
import java.util.List;

/**
 * The scenarios of test/conformance/scenarios.ts, written the way a Kafka Streams user writes
 * them. Each name must build the same topology as its TypeScript twin; inputs and the canonical
 * windowed key text (key@start/end) are shared with that file.
 */
final class Scenarios {
    record Built(Topology topology, List<String> outputTopics) {}

    private Scenarios() {}

    static final Consumed<String, JsonNode> JSON_IN = Consumed.with(Serdes.String(), Json.SERDE);
    static final Produced<String, JsonNode> JSON_OUT = Produced.with(Serdes.String(), Json.SERDE);

    static String windowedKey(Windowed<String> windowed) {
        return windowed.key() + "@" + windowed.window().start() + "/" + windowed.window().end();
    }

    static KStream<String, JsonNode> events(StreamsBuilder builder) {
        return builder.stream("events", JSON_IN);
    }

    static KGroupedStream<String, JsonNode> grouped(KStream<String, JsonNode> stream) {
        return stream.groupByKey(Grouped.with(Serdes.String(), Json.SERDE));
    }

    /** A windowed count written as key@start/end -> count. */
    static void windowedCountTo(KGroupedStream<String, JsonNode> grouped, TimeWindows windows, boolean onClose, String topic) {
        var windowed = grouped.windowedBy(windows);
        if (onClose) windowed = windowed.emitStrategy(EmitStrategy.onWindowClose());
        windowed.count()
            .toStream()
            .map((wk, count) -> KeyValue.pair(windowedKey(wk), (JsonNode) Json.NODES.numberNode(count)))
            .to(topic, JSON_OUT);
    }

    static JsonNode joined(JsonNode order, JsonNode user) {
        ObjectNode out = Json.object();
        out.put("n", Json.number(order, "n"));
        String tier = Json.text(user, "tier");
        if (tier == null) out.putNull("tier"); else out.put("tier", tier);
        return out;
    }

    static Built build(String scenario) {
        if (WindowScenarios.handles(scenario)) return WindowScenarios.build(scenario);
        if (KTableScenarios.handles(scenario)) return KTableScenarios.build(scenario);
        if (StoreScenarios.handles(scenario)) return StoreScenarios.build(scenario);
        StreamsBuilder builder = new StreamsBuilder();
        List<String> outputs = List.of("out");
        TimeWindows tumbling = TimeWindows.ofSizeAndGrace(Duration.ofSeconds(60), Duration.ofSeconds(10));
        switch (scenario) {
            case "stream-table-join" -> {
                KTable<String, JsonNode> users = builder.table("users", JSON_IN);
                builder.stream("orders", JSON_IN).join(users, Scenarios::joined).to("out", JSON_OUT);
            }
            case "global-table-join" -> {
                GlobalKTable<String, JsonNode> users = builder.globalTable("users", JSON_IN);
                builder.stream("orders", JSON_IN).join(users, (k, v) -> Json.text(v, "user"), Scenarios::joined).to("out", JSON_OUT);
            }
            case "stream-table-left-join-null-values" -> {
                KTable<String, JsonNode> users = builder.table("users", JSON_IN);
                builder.stream("orders", JSON_IN).leftJoin(users, Scenarios::joined).to("out", JSON_OUT);
            }
            case "global-table-left-join-null-values" -> {
                GlobalKTable<String, JsonNode> users = builder.globalTable("users", JSON_IN);
                builder.stream("orders", JSON_IN).leftJoin(users, (k, v) -> Json.text(v, "user"), Scenarios::joined).to("out", JSON_OUT);
            }
            case "filter-split" -> {
                outputs = List.of("out-low", "out-mid", "out-high");
                events(builder)
                    .filter((k, v) -> v != null && Json.number(v, "n") % 5 != 0)
                    .split(Named.as("route-"))
                    .branch((k, v) -> Json.number(v, "n") < 30, Branched.withConsumer(s -> s.to("out-low", JSON_OUT)))
                    .branch((k, v) -> Json.number(v, "n") < 70, Branched.withConsumer(s -> s.to("out-mid", JSON_OUT)))
                    .defaultBranch(Branched.withConsumer(s -> s.to("out-high", JSON_OUT)));
            }
            case "table-to-stream" -> builder.table("users", JSON_IN).toStream().to("out", JSON_OUT);
            case "tumbling-count-on-update" -> windowedCountTo(grouped(events(builder)), tumbling, false, "out");
            case "tumbling-count-on-close" -> windowedCountTo(grouped(events(builder)), tumbling, true, "out");
            case "tumbling-count-on-close-no-grace" ->
                windowedCountTo(grouped(events(builder)), TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(30)), true, "out");
            case "hopping-sum" -> grouped(events(builder))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(60), Duration.ofSeconds(5)).advanceBy(Duration.ofSeconds(20)))
                .aggregate(() -> 0L, (k, v, sum) -> sum + Json.number(v, "n"), org.apache.kafka.streams.kstream.Materialized.with(Serdes.String(), Serdes.Long()))
                .toStream()
                .map((wk, sum) -> KeyValue.pair(windowedKey(wk), (JsonNode) Json.NODES.numberNode(sum)))
                .to("out", JSON_OUT);
            case "keyed-reduce-aggregate" -> {
                outputs = List.of("out-reduce", "out-aggregate");
                KGroupedStream<String, JsonNode> grouped = grouped(events(builder));
                grouped.reduce((a, b) -> {
                    ObjectNode sum = Json.object();
                    sum.put("n", Json.number(a, "n") + Json.number(b, "n"));
                    return sum;
                }).toStream().to("out-reduce", JSON_OUT);
                grouped.aggregate(() -> countAndSum(0, 0), (k, v, agg) -> countAndSum(Json.number(agg, "count") + 1, Json.number(agg, "sum") + Json.number(v, "n")),
                        org.apache.kafka.streams.kstream.Materialized.with(Serdes.String(), Json.SERDE))
                    .toStream().to("out-aggregate", JSON_OUT);
            }
            case "selectkey-repartition-window-count" -> windowedCountTo(
                events(builder).selectKey((k, v) -> Json.text(v, "user")).groupByKey(Grouped.with(Serdes.String(), Json.SERDE)), tumbling, false, "out");
            case "merge-count" -> {
                KStream<String, JsonNode> events = events(builder);
                KStream<String, JsonNode> even = events.filter((k, v) -> v == null || Json.number(v, "n") % 2 == 0);
                KStream<String, JsonNode> odd = events.filter((k, v) -> v != null && Json.number(v, "n") % 2 != 0).mapValues(v -> {
                    ObjectNode scaled = Json.object();
                    scaled.put("n", Json.number(v, "n") * 10);
                    return scaled;
                });
                grouped(even.merge(odd)).count().toStream().mapValues(count -> (JsonNode) Json.NODES.numberNode(count)).to("out", JSON_OUT);
            }
            case "filter-window-count-on-close" ->
                windowedCountTo(grouped(events(builder).filter((k, v) -> "keep".equals(Json.text(v, "kind")))), tumbling, true, "out");
            case "windowed-count-null-keys" -> windowedCountTo(grouped(events(builder)), tumbling, true, "out");
            default -> throw new IllegalArgumentException("unknown scenario " + scenario);
        }
        return new Built(builder.build(), outputs);
    }

    static JsonNode countAndSum(long count, long sum) {
        ObjectNode o = Json.object();
        o.put("count", count);
        o.put("sum", sum);
        return o;
    }
}

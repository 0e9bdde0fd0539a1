package dev.streamline.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.SessionWindowedKStream;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.TimeWindowedKStream;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;

import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * The scenarios of test/conformance/scenarios-windows.ts (windows and stream-side operators),
 * written the way a Kafka Streams user writes them.
 */
final class WindowScenarios {
    private WindowScenarios() {}

    static final Set<String> NAMES = Set.of("windowed-serde-repartition", "session-count", "session-reduce-aggregate-no-grace", "sliding-count",
        "sliding-reduce-aggregate-no-grace", "sliding-on-close", "session-on-close", "stream-stream-inner-join",
        "stream-stream-left-join", "stream-stream-outer-join");

    static boolean handles(String scenario) {
        return NAMES.contains(scenario);
    }

    static Scenarios.Built build(String scenario) {
        StreamsBuilder builder = new StreamsBuilder();
        List<String> outputs = List.of("out");
        switch (scenario) {
            case "windowed-serde-repartition" -> Scenarios.grouped(Scenarios.events(builder))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(60), Duration.ofSeconds(10)))
                .count()
                .toStream()
                .repartition(Repartitioned.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 60_000L), Serdes.Long()))
                .map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), (JsonNode) Json.NODES.numberNode(count)))
                .to("out", Scenarios.JSON_OUT);
            case "session-count" -> Scenarios.grouped(Scenarios.events(builder))
                .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)))
                .count()
                .toStream()
                .map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), count == null ? null : (JsonNode) Json.NODES.numberNode(count)))
                .to("out", Scenarios.JSON_OUT);
            case "session-reduce-aggregate-no-grace" -> {
                outputs = List.of("out-reduce", "out-aggregate");
                SessionWindowedKStream<String, JsonNode> sessions = Scenarios.grouped(Scenarios.events(builder))
                    .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofSeconds(8)));
                sessions.reduce((a, v) -> {
                    ObjectNode sum = Json.object();
                    sum.put("n", Json.number(a, "n") + Json.number(v, "n"));
                    return sum;
                }).toStream().map((wk, v) -> KeyValue.pair(Scenarios.windowedKey(wk), v)).to("out-reduce", Scenarios.JSON_OUT);
                sessions.aggregate(
                        () -> countAndMax(0, 0),
                        (k, v, agg) -> countAndMax(Json.number(agg, "count") + 1, Math.max(Json.number(agg, "max"), Json.number(v, "n"))),
                        (k, a, b) -> countAndMax(Json.number(a, "count") + Json.number(b, "count"), Math.max(Json.number(a, "max"), Json.number(b, "max"))),
                        Materialized.with(Serdes.String(), Json.SERDE))
                    .toStream().map((wk, v) -> KeyValue.pair(Scenarios.windowedKey(wk), v)).to("out-aggregate", Scenarios.JSON_OUT);
            }
            case "sliding-count" -> Scenarios.grouped(Scenarios.events(builder))
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)))
                .count()
                .toStream()
                .map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), count == null ? null : (JsonNode) Json.NODES.numberNode(count)))
                .to("out", Scenarios.JSON_OUT);
            case "sliding-reduce-aggregate-no-grace" -> {
                outputs = List.of("out-reduce", "out-aggregate");
                TimeWindowedKStream<String, JsonNode> windowed = Scenarios.grouped(Scenarios.events(builder))
                    .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(Duration.ofSeconds(8)));
                windowed.reduce((a, v) -> {
                    ObjectNode sum = Json.object();
                    sum.put("n", Json.number(a, "n") + Json.number(v, "n"));
                    return sum;
                }).toStream().map((wk, v) -> KeyValue.pair(Scenarios.windowedKey(wk), v)).to("out-reduce", Scenarios.JSON_OUT);
                windowed.aggregate(
                        () -> countAndMax(0, 0),
                        (k, v, agg) -> countAndMax(Json.number(agg, "count") + 1, Math.max(Json.number(agg, "max"), Json.number(v, "n"))),
                        Materialized.with(Serdes.String(), Json.SERDE))
                    .toStream().map((wk, v) -> KeyValue.pair(Scenarios.windowedKey(wk), v)).to("out-aggregate", Scenarios.JSON_OUT);
            }
            case "sliding-on-close" -> {
                outputs = List.of("out-count", "out-aggregate");
                KStream<String, JsonNode> events = Scenarios.events(builder);
                Scenarios.grouped(events)
                    .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .count()
                    .toStream()
                    .map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), count == null ? null : (JsonNode) Json.NODES.numberNode(count)))
                    .to("out-count", Scenarios.JSON_OUT);
                Scenarios.grouped(events)
                    .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(Duration.ofSeconds(8)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .aggregate(
                        () -> countAndMax(0, 0),
                        (k, v, agg) -> countAndMax(Json.number(agg, "count") + 1, Math.max(Json.number(agg, "max"), Json.number(v, "n"))),
                        Materialized.with(Serdes.String(), Json.SERDE))
                    .toStream().map((wk, v) -> KeyValue.pair(Scenarios.windowedKey(wk), v)).to("out-aggregate", Scenarios.JSON_OUT);
            }
            case "session-on-close" -> {
                outputs = List.of("out", "out-no-grace");
                KStream<String, JsonNode> events = Scenarios.events(builder);
                Scenarios.grouped(events)
                    .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .count()
                    .toStream()
                    .map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), count == null ? null : (JsonNode) Json.NODES.numberNode(count)))
                    .to("out", Scenarios.JSON_OUT);
                Scenarios.grouped(events)
                    .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofSeconds(8)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .count()
                    .toStream()
                    .map((wk, count) -> KeyValue.pair(Scenarios.windowedKey(wk), count == null ? null : (JsonNode) Json.NODES.numberNode(count)))
                    .to("out-no-grace", Scenarios.JSON_OUT);
            }
            case "stream-stream-inner-join" -> {
                KStream<String, JsonNode> payments = builder.stream("payments", Scenarios.JSON_IN);
                builder.stream("orders", Scenarios.JSON_IN)
                    .join(payments, WindowScenarios::pair, JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)),
                        StreamJoined.with(Serdes.String(), Json.SERDE, Json.SERDE))
                    .to("out", Scenarios.JSON_OUT);
            }
            case "stream-stream-left-join" -> {
                KStream<String, JsonNode> payments = builder.stream("payments", Scenarios.JSON_IN);
                builder.stream("orders", Scenarios.JSON_IN)
                    .leftJoin(payments, WindowScenarios::pairOrMissing, JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)),
                        StreamJoined.with(Serdes.String(), Json.SERDE, Json.SERDE))
                    .to("out", Scenarios.JSON_OUT);
            }
            case "stream-stream-outer-join" -> {
                KStream<String, JsonNode> payments = builder.stream("payments", Scenarios.JSON_IN);
                builder.stream("orders", Scenarios.JSON_IN)
                    .outerJoin(payments, WindowScenarios::pairOrMissing,
                        JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(8), Duration.ofSeconds(3)).after(Duration.ofSeconds(12)),
                        StreamJoined.with(Serdes.String(), Json.SERDE, Json.SERDE))
                    .to("out", Scenarios.JSON_OUT);
            }
            default -> throw new IllegalArgumentException("unknown window scenario " + scenario);
        }
        return new Scenarios.Built(builder.build(), outputs);
    }

    static JsonNode pair(JsonNode order, JsonNode payment) {
        ObjectNode o = Json.object();
        o.put("o", Json.number(order, "n"));
        o.put("p", Json.number(payment, "n"));
        return o;
    }

    /** A missing side (null) shows as null. */
    static JsonNode pairOrMissing(JsonNode order, JsonNode payment) {
        ObjectNode o = Json.object();
        if (order == null) o.putNull("o"); else o.put("o", Json.number(order, "n"));
        if (payment == null) o.putNull("p"); else o.put("p", Json.number(payment, "n"));
        return o;
    }

    static JsonNode countAndMax(long count, long max) {
        ObjectNode o = Json.object();
        o.put("count", count);
        o.put("max", max);
        return o;
    }
}

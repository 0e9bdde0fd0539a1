package dev.streamline.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Repartitioned;
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

    static final Set<String> NAMES = Set.of("windowed-serde-repartition");

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
            default -> throw new IllegalArgumentException("unknown window scenario " + scenario);
        }
        return new Scenarios.Built(builder.build(), outputs);
    }
}

package dev.streamline.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;

import java.io.File;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Runs every run of the input file (scenario + seeded inputs) through TopologyTestDriver and
 * writes each output topic's records in order (see pom.xml for the java command line).
 * One partition, record cache off, emit-on-close not throttled by wall-clock time (the driver's
 * mocked clock never advances: with the default 1 s interval only the first close would emit).
 */
public final class Main {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) throw new IllegalArgumentException("usage: Main <inputs.json> <outputs.json>");
        JsonNode input = Json.MAPPER.readTree(new File(args[0]));
        ArrayNode results = Json.NODES.arrayNode();
        for (JsonNode run : input.get("runs")) results.add(runOne(run));
        ObjectNode out = Json.object();
        out.set("runs", results);
        Json.MAPPER.writeValue(new File(args[1]), out);
    }

    static Properties driverConfig(String applicationId) {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_WINDOWED_AGGREGATION, 0L);
        props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_OUTER_JOIN_SPURIOUS_RESULTS_FIX, 0L);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        return props;
    }

    static ObjectNode runOne(JsonNode run) {
        String id = run.get("id").asText();
        Scenarios.Built built = Scenarios.build(run.get("scenario").asText());
        Topology topology = built.topology();
        Map<String, TestInputTopic<String, JsonNode>> inputs = new HashMap<>();
        Map<String, TestOutputTopic<String, JsonNode>> outputs = new HashMap<>();
        ObjectNode result = Json.object();
        result.put("id", id);
        ObjectNode byTopic = result.putObject("outputs");
        try (TopologyTestDriver driver = new TopologyTestDriver(topology, driverConfig("conformance-" + id.replaceAll("[^A-Za-z0-9]", "-")))) {
            for (String topic : built.outputTopics()) {
                outputs.put(topic, driver.createOutputTopic(topic, new StringDeserializer(), Json.DESERIALIZER));
                byTopic.putArray(topic);
            }
            for (JsonNode phase : run.get("phases")) {
                for (JsonNode record : phase) {
                    String topic = record.get("topic").asText();
                    TestInputTopic<String, JsonNode> in = inputs.computeIfAbsent(topic, t -> driver.createInputTopic(t, new StringSerializer(), Json.SERIALIZER));
                    JsonNode key = record.get("key");
                    JsonNode value = record.get("value");
                    in.pipeInput(new TestRecord<>(key == null || key.isNull() ? null : key.asText(), value == null || value.isNull() ? null : value, Instant.ofEpochMilli(record.get("timestamp").asLong())));
                }
            }
            for (String topic : built.outputTopics()) {
                ArrayNode records = (ArrayNode) byTopic.get(topic);
                List<TestRecord<String, JsonNode>> read = outputs.get(topic).readRecordsToList();
                for (TestRecord<String, JsonNode> r : read) {
                    ObjectNode o = records.addObject();
                    if (r.key() == null) o.putNull("key"); else o.put("key", r.key());
                    if (r.value() == null) o.putNull("value"); else o.set("value", r.value());
                    o.put("timestamp", r.timestamp());
                }
            }
        } catch (RuntimeException e) {
            result.put("error", e.toString());
        }
        return result;
    }
}

package dev.streamline.peer;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;

/**
 * landing (key = user, value = JSON {id, user, correct, ts, sentAt?})
 *   -> dedupe by id (persistent RocksDB key-value store "seen-ids", changelogged)
 *   -> output topic (the deduped events, JSON)
 *   -> groupByKey, tumbling 1-minute windows with 10 s grace, count() into "per-minute"
 * processValues (not process): the key does not change, so no repartition topic, the same as ours.
 */
final class DedupeCountTopology {
  static final String SEEN_STORE = "seen-ids";

  private DedupeCountTopology() {}

  static Topology build(String input, String output) {
    StreamsBuilder builder = new StreamsBuilder();
    builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(SEEN_STORE), Serdes.String(), Serdes.Long()));
    KStream<String, JsonNode> landing = builder.stream(input, Consumed.with(Serdes.String(), JsonSerde.INSTANCE));
    KStream<String, JsonNode> deduped = landing.processValues(Dedupe::new, SEEN_STORE);
    deduped.to(output, Produced.with(Serdes.String(), JsonSerde.INSTANCE));
    deduped
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), Duration.ofSeconds(10)))
        .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("per-minute"));
    return builder.build();
  }

  /** Forwards an event the first time its id is seen; remembers the id with the record's timestamp. */
  static final class Dedupe implements FixedKeyProcessor<String, JsonNode, JsonNode> {
    private FixedKeyProcessorContext<String, JsonNode> context;
    private KeyValueStore<String, Long> seen;

    @Override
    public void init(FixedKeyProcessorContext<String, JsonNode> context) {
      this.context = context;
      this.seen = context.getStateStore(SEEN_STORE);
    }

    @Override
    public void process(FixedKeyRecord<String, JsonNode> record) {
      JsonNode id = record.value() == null ? null : record.value().get("id");
      if (id == null) return;
      String eventId = id.asText();
      if (seen.get(eventId) != null) return;
      seen.put(eventId, record.timestamp());
      context.forward(record);
    }
  }
}

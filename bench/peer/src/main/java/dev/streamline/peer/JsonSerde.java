package dev.streamline.peer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/** JSON values as Jackson trees: parsed at the source, written again at the sink (our jsonSerde's work). */
final class JsonSerde {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  static final Serializer<JsonNode> SERIALIZER = (topic, value) -> {
    if (value == null) return null;
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  };

  static final Deserializer<JsonNode> DESERIALIZER = (topic, bytes) -> {
    if (bytes == null) return null;
    try {
      return MAPPER.readTree(bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  };

  static final Serde<JsonNode> INSTANCE = Serdes.serdeFrom(SERIALIZER, DESERIALIZER);

  private JsonSerde() {}
}

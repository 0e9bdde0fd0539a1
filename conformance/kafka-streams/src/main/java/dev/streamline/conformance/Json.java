package dev.streamline.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

import java.io.IOException;
import java.io.UncheckedIOException;

/** JSON values as trees, written back the way our jsonSerde writes them (JSON.stringify). */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private Json() {}

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

    static final Serde<JsonNode> SERDE = Serdes.serdeFrom(SERIALIZER, DESERIALIZER);

    static ObjectNode object() {
        return NODES.objectNode();
    }

    /** A field of a value that may be null or lack it: null then, like `v?.field` in TypeScript. */
    static JsonNode field(JsonNode value, String name) {
        if (value == null) return null;
        JsonNode field = value.get(name);
        return field == null || field.isNull() ? null : field;
    }

    static long number(JsonNode value, String name) {
        JsonNode field = field(value, name);
        return field == null ? 0L : field.asLong();
    }

    static String text(JsonNode value, String name) {
        JsonNode field = field(value, name);
        return field == null ? null : field.asText();
    }
}

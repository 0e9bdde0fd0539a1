package dev.streamline.peer;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;

/**
 * The Kafka Streams peer of bench/kafka-topology.ts: reads the landing topic, dedupes by event id,
 * writes the deduped events to the output topic and counts them per key in tumbling 1-minute
 * windows (10 s grace), exactly-once v2, the same commit interval as ours.
 *
 * Settings come from args (key=value) or the environment (PEER_ + upper case key):
 *   bootstrap (PEER_BOOTSTRAP)        broker list, required
 *   input (PEER_INPUT)                landing topic, required
 *   output (PEER_OUTPUT)              deduped events topic, required
 *   application.id (PEER_APPLICATION_ID), state.dir (PEER_STATE_DIR), required
 *   commit.interval.ms (PEER_COMMIT_INTERVAL_MS)  default 100 (ours, and Kafka Streams' EOS default)
 *   threads (PEER_THREADS)            num.stream.threads, default 1 (one thread, like our one event loop)
 *
 * Prints "state RUNNING" (and every other state change) on stdout; stops cleanly on SIGTERM or
 * when stdin closes (its parent, the bench, went away).
 */
public final class Main {
  private Main() {}

  static String setting(Map<String, String> args, String key, String fallback) {
    String value = args.get(key);
    if (value == null) value = System.getenv("PEER_" + key.toUpperCase().replace('.', '_'));
    if (value == null) value = fallback;
    if (value == null) throw new IllegalArgumentException("missing setting " + key + " (arg " + key + "=... or env PEER_" + key.toUpperCase().replace('.', '_') + ")");
    return value;
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = new java.util.HashMap<>();
    for (String arg : argv) {
      int eq = arg.indexOf('=');
      if (eq > 0) args.put(arg.substring(0, eq), arg.substring(eq + 1));
    }
    String input = setting(args, "input", null);
    String output = setting(args, "output", null);

    Properties props = new Properties();
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, setting(args, "bootstrap", null));
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, setting(args, "application.id", null));
    props.put(StreamsConfig.STATE_DIR_CONFIG, setting(args, "state.dir", null));
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, setting(args, "commit.interval.ms", "100"));
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, setting(args, "threads", "1"));
    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    // Everything else stays at Kafka Streams' defaults (record cache 10 MiB, max.poll.records 1000,
    // RocksDB stores with changelogs), as a user would run it.

    KafkaStreams streams = new KafkaStreams(DedupeCountTopology.build(input, output), props);
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener((next, previous) -> {
      System.out.println("state " + next);
      System.out.flush();
      if (next == KafkaStreams.State.NOT_RUNNING || next == KafkaStreams.State.ERROR) stopped.countDown();
    });
    streams.setUncaughtExceptionHandler(error -> {
      System.err.println("peer: stream thread failed: " + error);
      error.printStackTrace();
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(30));
      stopped.countDown();
    }));
    // The bench holds our stdin open; EOF means it is gone, so no JVM outlives an aborted bench.
    Thread parentWatch = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {
          // discard
        }
      } catch (java.io.IOException ignored) {
        // treated as EOF
      }
      System.exit(0);
    }, "parent-watch");
    parentWatch.setDaemon(true);
    parentWatch.start();

    streams.start();
    stopped.await();
    streams.close(Duration.ofSeconds(30));
    System.exit(streams.state() == KafkaStreams.State.ERROR ? 1 : 0);
  }
}

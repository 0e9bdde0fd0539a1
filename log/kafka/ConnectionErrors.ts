import { subscribe } from 'node:diagnostics_channel';
import { Connection } from '@platformatic/kafka';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

/**
 * Every Kafka connection of the process gets a permanent 'error' listener.
 *
 * A `Connection` is an EventEmitter that emits 'error' when its socket fails (ECONNRESET when the
 * broker is SIGKILLed, a timeout while connecting). An 'error' event with no listener throws and
 * ends the process. The client's ConnectionPool listens with `once`, so a second error on the same
 * connection is unhandled, and a raw Connection (GroupCoordinator's) had none at all: the service
 * died in 3 of 11 broker kills. The failure itself still reaches the request that was waiting (its
 * callback gets "Connection closed"), and the pool and GroupCoordinator drop the dead connection;
 * this listener only keeps the event from being fatal and counts it.
 *
 * Connections announce themselves on the client's diagnostics channel `plt:kafka:instances` when
 * they are constructed, before they can connect, so no connection is missed, whoever creates it.
 */
const INSTANCES_CHANNEL = 'plt:kafka:instances';

let installed = false;
const sinks = new Set<{ logger?: Logger; counter?: Counter }>();

/** How many connection errors were absorbed (for tests and health). */
export let absorbedConnectionErrors = 0;
let lastLoggedAt = 0;
let suppressed = 0;
/** One warning per interval: a broker outage fails every connection attempt, every few hundred ms. */
const LOG_INTERVAL_MS = 10_000;

function onConnectionError(error: Error): void {
  absorbedConnectionErrors++;
  for (const sink of sinks) sink.counter?.inc();
  const now = Date.now();
  if (now - lastLoggedAt < LOG_INTERVAL_MS) {
    suppressed++;
    return;
  }
  lastLoggedAt = now;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const logged = new Set<Logger>();
  for (const sink of sinks) {
    if (!sink.logger || logged.has(sink.logger)) continue;
    logged.add(sink.logger);
    sink.logger.warn(
      { err: error.message, cause: cause?.code ?? cause?.message, suppressedSinceLast: suppressed },
      'kafka connection error (the request is retried; the process keeps running)',
    );
  }
  suppressed = 0;
}

function guard(connection: Connection): void {
  connection.on('error', onConnectionError);
}

/**
 * Installs the guard (once per process) and adds a logger and a counter
 * (streamline_kafka_connection_errors_total) to report through. Returns a function that removes
 * them again; the guard itself stays, connections outlive the log that created them.
 */
export function guardKafkaConnections(options: { logger?: Logger; registry?: Registry } = {}): () => void {
  if (!installed) {
    installed = true;
    subscribe(INSTANCES_CHANNEL, (message) => {
      const { type, instance } = message as { type?: string; instance?: unknown };
      if (type === 'connection' && instance instanceof Connection) guard(instance);
    });
  }
  let counter: Counter | undefined;
  if (options.registry) {
    const existing = options.registry.getSingleMetric('streamline_kafka_connection_errors_total');
    counter =
      (existing as Counter | undefined) ??
      new Counter({
        name: 'streamline_kafka_connection_errors_total',
        help: 'Kafka connection errors (broker gone, reset, connect timeout) absorbed without ending the process',
        registers: [options.registry],
      });
  }
  const sink = { logger: options.logger, counter };
  sinks.add(sink);
  return () => sinks.delete(sink);
}

/** For a Connection created outside the client (none today): the same guard, explicitly. */
export function guardConnection(connection: Connection): Connection {
  if (connection.listeners('error').includes(onConnectionError)) return connection;
  guard(connection);
  return connection;
}

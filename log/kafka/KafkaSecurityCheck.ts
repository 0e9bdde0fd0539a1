import { Connection, metadataV12 } from '@platformatic/kafka';
import type { Logger } from 'pino';
import { guardConnection } from './ConnectionErrors.js';
import { withDeadline } from './KafkaRecords.js';
import { explainSecurityFailure, type KafkaSecurity } from './KafkaSecurity.js';

export interface SecurityCheckSettings {
  clientId: string;
  brokers: string[];
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  security?: KafkaSecurity;
  logger?: Logger;
}

/**
 * With TLS or SASL configured, one metadata request at open: a wrong password, a mechanism the
 * listener does not offer or a certificate the CA does not vouch for fails the start with a
 * ConfigError naming the setting, instead of every later request retrying (and the service
 * looking like it waits for a broker). A broker that is merely unreachable is not an error here
 * (the log copes with that as on PLAINTEXT).
 */
export async function verifyKafkaSecurity(settings: SecurityCheckSettings): Promise<void> {
  const security = settings.security;
  if (!security) return;
  let lastError: unknown;
  for (const broker of settings.brokers) {
    const separator = broker.lastIndexOf(':');
    // A raw connection, not a client: its socket's own error (a TLS alert such as "certificate
    // required" arrives after the handshake looked done) is kept, where a client request would
    // only say "Connection closed".
    const connection = guardConnection(
      new Connection(`${settings.clientId}-security-check`, {
        ...security.client,
        connectTimeout: settings.connectTimeoutMs,
        requestTimeout: settings.requestTimeoutMs,
      }),
    );
    const socketErrors: Error[] = [];
    connection.on('error', (error: Error) => socketErrors.push(error));
    try {
      await withDeadline(
        (async () => {
          await connection.connect(broker.slice(0, separator), Number(broker.slice(separator + 1)));
          await metadataV12.api.async(connection, []);
        })(),
        settings.connectTimeoutMs + settings.requestTimeoutMs,
        'Kafka security check',
      );
      return;
    } catch (error) {
      const explained = explainSecurityFailure({ message: (error as Error).message, cause: error, errors: socketErrors }, security, settings.brokers);
      if (explained) throw explained;
      lastError = error;
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
  settings.logger?.warn({ err: (lastError as Error | undefined)?.message, security }, 'Kafka did not answer the start-up security check; carrying on (requests retry)');
}

import type { StreamsState } from './StreamsApp.js';
import { NamedError } from '../../errors/NamedError.js';

/**
 * Kafka Streams' InvalidStateStoreException: a store cannot be queried right now because the app
 * is not RUNNING (starting, shutting down, stopped on an error) or a rebalance is moving tasks and
 * restoring their stores. Retriable: the same query answers once the app is RUNNING again, which
 * is why HTTP routes map it to 503 + Retry-After rather than 500.
 */
export class InvalidStateStoreError extends NamedError {
  constructor(
    readonly storeName: string,
    /** The app's state; REBALANCING while tasks are being assigned, revoked or restored. */
    readonly state: StreamsState | 'REBALANCING',
    /** Stores still being restored from their changelogs, when that is the reason. */
    readonly restoring: string[] = [],
  ) {
    super(
      state === 'REBALANCING'
        ? `store "${storeName}" is not queryable while a rebalance is in progress${restoring.length ? ` (restoring ${restoring.join(', ')})` : ''}; retry shortly`
        : `store "${storeName}" is not queryable while the app is ${state}; retry shortly`,
    );
  }
}

import { partitionKey, type LogConsumer, type RebalanceListener, type TopicPartition } from '../Log.js';
import type { ConsumerState, RebalanceKind } from './RemoteProtocol.js';

/** Asks the client to run its listener and resolves when the client has answered. */
export type ClientCallback = (kind: RebalanceKind, partitions: TopicPartition[], state: ConsumerState) => Promise<void>;

/**
 * The server side of a RemoteConsumer: the real consumer of the served log, a listener that
 * forwards every rebalance callback to the client (and waits for it, so the log does not go on
 * before the client's onAssigned/onRevoked/onLost has finished, as in-process), and the sequence
 * number of the last seek/pause/resume applied, which lets the client tell a stale position from
 * a fresh one.
 */
export class ServedConsumer {
  appliedCastSeq = 0;
  /** A seek/pause/resume that failed here; reported by the next call on this consumer. */
  deferredError: unknown = undefined;
  /** Set once the session ends: the client cannot run listeners any more. */
  detached = false;

  constructor(
    readonly consumer: LogConsumer,
    private readonly callClient: ClientCallback,
  ) {}

  listener(): RebalanceListener {
    const forward = (kind: RebalanceKind) => async (partitions: TopicPartition[]) => {
      if (this.detached) return;
      await this.callClient(kind, partitions, this.state());
    };
    return { onAssigned: forward('assigned'), onRevoked: forward('revoked'), onLost: forward('lost') };
  }

  state(): ConsumerState {
    const assignment = this.consumer.assignment();
    const positions: [string, number][] = [];
    for (const tp of assignment) {
      const position = this.consumer.position(tp);
      if (position !== undefined) positions.push([partitionKey(tp), position]);
    }
    return { assignment, positions, appliedCastSeq: this.appliedCastSeq };
  }

  throwDeferred(): void {
    if (this.deferredError === undefined) return;
    const error = this.deferredError;
    this.deferredError = undefined;
    throw error;
  }
}

import { NamedError } from '../../errors/NamedError.js';
import { UnknownTopicError } from '../Log.js';
import { CommitFencedError } from '../embedded/EmbeddedGroup.js';
import { ProducerFencedError } from '../embedded/EmbeddedTransactions.js';

/**
 * Errors cross the port as plain data and are rebuilt on the other side with the class callers
 * test with instanceof (UnknownTopicError in TopicPlanner, DefaultPipeline and the CLI;
 * ProducerFencedError in the embedded tests; CommitFencedError, a member's commit refused after its
 * partition moved; TypeError and RangeError from argument checks).
 * Any other error arrives as an Error with the same name and message; its stack is the server's,
 * under a line saying so.
 */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  topic?: string;
  transactionalId?: string;
  /** CommitFencedError's group and "topic:partition". */
  groupId?: string;
  partition?: string;
  /**
   * Set when the error is the client's own rebalance listener failing: the client rethrows its
   * original error object rather than a copy.
   */
  callbackId?: number;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const out: SerializedError = { name: error.name, message: error.message, stack: error.stack };
  if (error instanceof UnknownTopicError) out.topic = error.topic;
  if (error instanceof ProducerFencedError) out.transactionalId = error.transactionalId;
  if (error instanceof CommitFencedError) {
    out.groupId = error.groupId;
    out.partition = error.partition;
  }
  if (error instanceof ListenerFailedError) out.callbackId = error.callbackId;
  return out;
}

export function deserializeError(data: SerializedError): Error {
  let error: Error;
  if (data.name === 'UnknownTopicError' && data.topic !== undefined) error = new UnknownTopicError(data.topic);
  else if (data.name === 'ProducerFencedError' && data.transactionalId !== undefined) error = new ProducerFencedError(data.transactionalId);
  else if (data.name === 'CommitFencedError' && data.groupId !== undefined && data.partition !== undefined) error = new CommitFencedError(data.groupId, data.partition);
  else if (data.name === 'TypeError') error = new TypeError(data.message);
  else if (data.name === 'RangeError') error = new RangeError(data.message);
  else {
    error = new Error(data.message);
    error.name = data.name;
  }
  error.message = data.message;
  if (data.stack) error.stack = `${data.stack}\n    --- thrown in the log server's thread, received through its port ---`;
  return error;
}

/**
 * The log's thread is gone (terminated, crashed) or its port was closed: every call pending at
 * that moment and every later call rejects with this instead of waiting forever.
 */
export class LogServerGoneError extends NamedError {
  constructor(readonly operation: string, readonly reason: string) {
    super(`remote log: ${operation} failed: the log server is gone (${reason})`);
  }
}

/** Server side: the client's rebalance listener threw (its error came back through callbackDone). */
export class ListenerFailedError extends Error {
  constructor(
    readonly callbackId: number,
    cause: SerializedError,
  ) {
    super(cause.message);
    this.name = cause.name;
  }
}

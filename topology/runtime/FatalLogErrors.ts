import { LogServerGoneError } from '../../log/remote/RemoteErrors.js';

/**
 * Errors that no retry can cure: the thread serving the log (log/remote) has ended, so every
 * later call fails the same way. A stream thread stops on these (state ERROR) instead of backing
 * off as it does for a log that is briefly away (a broker restart, an outage it waits out).
 */
export function isFatalLogError(error: unknown): boolean {
  return error instanceof LogServerGoneError;
}

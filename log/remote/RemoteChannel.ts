import type { MessagePort } from 'node:worker_threads';
import type { CallName, Calls, CastName, Casts, ClientMessage, ServerMessage } from './RemoteProtocol.js';
import { deserializeError, LogServerGoneError, serializeError } from './RemoteErrors.js';

type CallbackMessage = Extract<ServerMessage, { type: 'callback' }>;

interface Pending {
  op: CallName;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The client end of a LogServer's port: numbered calls matched to their results, casts, and the
 * server's rebalance callbacks handed to the RemoteLog. When the server goes away (its thread
 * exits, which closes the port, or goneWith() is called) every pending call rejects with
 * LogServerGoneError, and so does every later one.
 */
export class RemoteChannel {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private goneReason: string | null = null;
  private closedByClient = false;
  /** The client's own listener errors, rethrown as themselves when the server reports them back. */
  private readonly listenerErrors = new Map<number, unknown>();

  constructor(
    private readonly port: MessagePort,
    private readonly onCallback: (message: CallbackMessage) => Promise<void>,
    private readonly onServerGone: (how: 'port_closed' | 'reported') => void = () => undefined,
  ) {
    port.on('message', (message: ServerMessage) => this.receive(message));
    port.on('close', () => this.goneWith('its port closed', 'port_closed'));
  }

  get isOpen(): boolean {
    return this.goneReason === null;
  }

  /** Throws what a call would reject with when the server is gone or the client closed. */
  assertOpen(op: string): void {
    if (this.goneReason !== null) throw this.goneError(op);
  }

  call<K extends CallName>(op: K, args: Calls[K][0], transfer?: ArrayBuffer[]): Promise<Calls[K][1]> {
    if (this.goneReason !== null) return Promise.reject(this.goneError(op));
    const id = this.nextId++;
    return new Promise<Calls[K][1]>((resolve, reject) => {
      this.pending.set(id, { op, resolve: resolve as (value: unknown) => void, reject });
      try {
        this.send({ type: 'call', id, op, args }, transfer);
      } catch (error) {
        // An argument that cannot be cloned (DataCloneError): this call fails, nothing is left pending.
        this.pending.delete(id);
        reject(error);
      }
    });
  }

  /** Fire-and-forget; a failure on the server is reported by the consumer's next call. */
  cast<K extends CastName>(op: K, args: Casts[K]): void {
    if (this.goneReason !== null) throw this.goneError(op);
    this.send({ type: 'cast', op, args });
  }

  private send(message: ClientMessage, transfer?: ArrayBuffer[]): void {
    this.port.postMessage(message, transfer);
  }

  private receive(message: ServerMessage): void {
    if (message.type === 'callback') {
      this.onCallback(message).then(
        () => this.reply(message.id),
        (error: unknown) => {
          this.listenerErrors.set(message.id, error);
          this.reply(message.id, error);
        },
      );
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.error === undefined) {
      pending.resolve(message.value);
      return;
    }
    const own = message.error.callbackId !== undefined ? this.listenerErrors.get(message.error.callbackId) : undefined;
    if (message.error.callbackId !== undefined) this.listenerErrors.delete(message.error.callbackId);
    pending.reject(own ?? deserializeError(message.error));
  }

  private reply(id: number, error?: unknown): void {
    if (this.goneReason !== null) return;
    this.send(error === undefined ? { type: 'callbackDone', id } : { type: 'callbackDone', id, error: serializeError(error) });
    // An error the server swallowed (a listener failing during close) is not kept forever.
    if (this.listenerErrors.size > 1000) this.listenerErrors.clear();
  }

  /** Marks the server gone (e.g. its worker's 'exit' event, with the exit code as the reason). */
  goneWith(reason: string, how: 'port_closed' | 'reported' = 'reported'): void {
    if (this.goneReason !== null) return;
    this.goneReason = this.closedByClient ? 'the remote log was closed' : reason;
    if (!this.closedByClient) this.onServerGone(how);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(this.goneError(p.op));
    this.port.close();
  }

  /** The client is done: later calls fail as on a closed log. */
  closeByClient(): void {
    this.closedByClient = true;
    this.goneWith('the remote log was closed');
  }

  get closedNormally(): boolean {
    return this.closedByClient;
  }

  private goneError(op: string): Error {
    if (this.closedByClient) return new Error('remote log is closed');
    return new LogServerGoneError(op, this.goneReason ?? 'unknown');
  }
}

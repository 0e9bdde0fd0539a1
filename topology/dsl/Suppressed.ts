/**
 * Kafka Streams' Suppressed and BufferConfig: when a suppressed KTable lets its updates through.
 *
 * - untilWindowCloses: a windowed table's final result per window, once stream time reaches the
 *   window's end plus the aggregation's grace; deletions are dropped. Its buffer must never
 *   emit early: unbounded, or shutDownWhenFull (Kafka Streams' StrictBufferConfig).
 * - untilTimeLimit: the latest update per key, once stream time is timeLimitMs past the first
 *   buffered update of that key; deletions pass. A bounded buffer either emits its oldest
 *   entries early when full (emitEarlyWhenFull, Kafka Streams' default for a bounded buffer)
 *   or fails the task (shutDownWhenFull).
 */
export type BufferFullStrategy = 'emitEarlyWhenFull' | 'shutDownWhenFull';

export interface BufferConfig {
  maxRecords: number;
  /** Bytes of the buffered keys and values as their serdes write them (see docs/KAFKA-STREAMS.md). */
  maxBytes: number;
  whenFull: BufferFullStrategy;
}

export const BufferConfig = {
  unbounded: (): BufferConfig => ({ maxRecords: Infinity, maxBytes: Infinity, whenFull: 'shutDownWhenFull' }),
  maxRecords: (maxRecords: number, whenFull: BufferFullStrategy = 'emitEarlyWhenFull'): BufferConfig => ({ maxRecords, maxBytes: Infinity, whenFull }),
  maxBytes: (maxBytes: number, whenFull: BufferFullStrategy = 'emitEarlyWhenFull'): BufferConfig => ({ maxRecords: Infinity, maxBytes, whenFull }),
};

export type Suppressed =
  | { kind: 'untilWindowCloses'; buffer: BufferConfig; name?: string }
  | { kind: 'untilTimeLimit'; timeLimitMs: number; buffer: BufferConfig; name?: string };

export const Suppressed = {
  untilWindowCloses(buffer: BufferConfig = BufferConfig.unbounded(), name?: string): Suppressed {
    if (buffer.whenFull !== 'shutDownWhenFull') throw new Error('Suppressed.untilWindowCloses needs a buffer that never emits early: BufferConfig.unbounded() or shutDownWhenFull');
    return { kind: 'untilWindowCloses', buffer, name };
  },
  untilTimeLimit(timeLimitMs: number, buffer: BufferConfig = BufferConfig.unbounded(), name?: string): Suppressed {
    if (!(timeLimitMs >= 0)) throw new RangeError(`Suppressed.untilTimeLimit: the time limit must be >= 0, got ${timeLimitMs}`);
    return { kind: 'untilTimeLimit', timeLimitMs, buffer, name };
  },
};

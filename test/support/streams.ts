import { partitionKey, type Log, type LogRecord, type TopicPartition, type TopicPartitionOffset } from '../../log/Log.js';
import type { CommitEvent, StreamsApp } from '../../topology/index.js';

export async function partitionsOf(log: Log, topic: string): Promise<TopicPartition[]> {
  const count = await log.partitionCount(topic);
  return Array.from({ length: count }, (_, partition) => ({ topic, partition }));
}

/** True when the group's committed offsets left no record unread in any partition of the topics. */
export async function caughtUp(log: Log, groupId: string, topics: string[]): Promise<boolean> {
  for (const topic of topics) {
    const partitions = await partitionsOf(log, topic);
    const committed = await log.committedOffsets(groupId, partitions);
    for (const tp of partitions) {
      const end = await log.endOffset(tp);
      const position = committed.get(`${tp.topic}:${tp.partition}`) ?? 0;
      // On Kafka, offsets between the last record and the end of a transactionally written topic
      // are commit markers: nothing left to read there means caught up.
      if (position < end && (await log.read(tp, position, 1)).length > 0) return false;
    }
  }
  return true;
}

/**
 * Waits until every partition's end offset reaches the given one. On Kafka a commit's markers
 * are written just after commit() returns, and until then read_committed readers do not see the
 * commit's records (there is no event for it: the end offset is polled).
 */
async function untilVisible(log: Log, ends: TopicPartitionOffset[]): Promise<void> {
  for (const tp of ends) {
    while ((await log.endOffset(tp)) < tp.offset) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Resolves once the app has committed everything in the input topics (and in whatever those
 * inputs caused to be written to the other listed topics), waking on each commit event, and
 * what those commits wrote is visible to readers.
 */
export function waitForCaughtUp(app: StreamsApp, log: Log, groupId: string, topics: string[], timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let checking = false;
    let again = false;
    let lastError: Error | undefined;
    const timer = setTimeout(() => finish(new Error(`not caught up on ${topics.join(', ')} within ${timeoutMs} ms${lastError ? ` (last check failed: ${lastError.message})` : ''}`)), timeoutMs);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      app.off('commit', onCommit);
      app.off('error', finish);
      if (error) reject(error);
      else resolve();
    };
    const check = async () => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          if (await caughtUp(log, groupId, topics)) {
            await untilVisible(log, [...written.values()]);
            return finish();
          }
        } while (again);
      } catch (error) {
        // The log may answer with a transient error (a Kafka coordinator still loading after a
        // restart): the next commit checks again; the timeout reports the last one.
        lastError = error as Error;
      } finally {
        checking = false;
      }
    };
    const written = new Map<string, TopicPartitionOffset>();
    const onCommit = (event: CommitEvent) => {
      for (const ends of event.written) if ((written.get(partitionKey(ends))?.offset ?? -1) < ends.offset) written.set(partitionKey(ends), ends);
      void check();
    };
    app.on('commit', onCommit);
    app.on('error', finish);
    void check();
  });
}

export async function readAll(log: Log, topic: string): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  for (const tp of await partitionsOf(log, topic)) {
    const end = await log.endOffset(tp);
    let position = await log.beginningOffset(tp);
    while (position < end) {
      const batch = await log.read(tp, position, 10_000);
      if (batch.length === 0) break;
      records.push(...batch);
      position = batch[batch.length - 1]!.offset + 1;
    }
  }
  return records;
}

export function jsonValues<T>(records: LogRecord[]): T[] {
  return records.map((record) => JSON.parse(record.value!.toString('utf8')) as T);
}

/**
 * Resolves after the first commit at which check() holds (what a wall-clock punctuation wrote
 * becomes visible at a commit), checking once right away too.
 */
export function afterCommitWhen(app: StreamsApp, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error('condition not met after commits')), timeoutMs);
    let running = false;
    let again = false;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      app.off('commit', onCommit);
      if (error) reject(error);
      else resolve();
    };
    // A commit landing while a check runs gets its own check afterwards, or the last one could be missed.
    const onCommit = () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      again = false;
      check().then(
        (ok) => {
          running = false;
          if (ok) finish();
          else if (again) onCommit();
        },
        finish,
      );
    };
    app.on('commit', onCommit);
    onCommit();
  });
}

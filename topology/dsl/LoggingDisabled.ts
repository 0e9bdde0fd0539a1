import type { RuntimeStore, StoreBuilder } from '../../state/StoreBuilder.js';

/**
 * Materialized.withLoggingDisabled() on a RocksDB (persistent) store: no changelog topic (the
 * topic planner creates none for `loggingEnabled: false`), no changelog records, no restore
 * (StateRestorer.ts opens the store as it is). Its state lives in the task directory only: it
 * survives a clean restart or a task moving away and back, not the loss of DATA_DIR.
 *
 * Exactly-once: Kafka Streams under EOS deletes a task's checkpoint once the task runs and writes
 * it back only on a clean close; after an unclean shutdown (a crash, or a dirty close after a
 * failed commit) it wipes the task's state directory, unlogged stores included
 * (ProcessorStateManager.initializeStoreOffsetsFromCheckpoint throws TaskCorruptedException,
 * StateManagerUtil.closeStateManager wipes when `!closeClean && eosEnabled`), because the local
 * state may then be ahead of or behind the committed offsets. The same here, per store: a commit's
 * flush persists the writes and removes the store's checkpoint (ChangelogBackedStore.flush with
 * no changelog offset), a clean close (no drained writes left unflushed, i.e. the last commit
 * finished) writes it back, and open() wipes a non-empty store that has none. So after a crash
 * or a failed commit the store starts empty, never with writes of a commit that did not happen
 * or without those of one that did. (Logged stores need none of this: data and checkpoint are
 * written atomically and the changelog fills any gap.)
 */
export function withLoggingDisabled(builder: StoreBuilder): StoreBuilder {
  return {
    name: builder.name,
    changelogCleanupPolicy: builder.changelogCleanupPolicy,
    changelogRetentionMs: builder.changelogRetentionMs,
    loggingEnabled: false,
    build: (applicationId) => unlogged(builder.build(applicationId)),
  };
}

/** The store a Materialized asks for: unlogged when it says `loggingEnabled: false`. */
export function loggedAsMaterialized(builder: StoreBuilder, materialized: { loggingEnabled?: boolean }): StoreBuilder {
  return materialized.loggingEnabled === false ? withLoggingDisabled(builder) : builder;
}

/** Any checkpoint marks the state clean; without a changelog there is no position to record. */
const CLEAN_CHECKPOINT = 0;

function unlogged(store: RuntimeStore): RuntimeStore {
  const drain = store.drainChangelog.bind(store);
  const flush = store.flush.bind(store);
  const close = store.close.bind(store);
  let drainedNotFlushed = false;
  // Own properties over the store's methods: every other call goes to the store as it is, unwrapped.
  return Object.assign(store, {
    // Read by the restore: a store without a changelog is opened, not restored.
    loggingEnabled: false,
    drainChangelog(partition: number, sourceOffsetHeader: string) {
      // The writes move to the drained generation the commit's flush persists; nothing is logged.
      drain(partition, sourceOffsetHeader);
      drainedNotFlushed = true;
      return [];
    },
    async flush(_changelogOffset: number | undefined) {
      await flush(undefined);
      drainedNotFlushed = false;
    },
    async close() {
      // A commit drained but never flushed (it failed): a dirty close, the checkpoint stays removed.
      if (!drainedNotFlushed) {
        try {
          await flush(CLEAN_CHECKPOINT);
        } catch {
          // Not open (never was, or closed already): nothing to mark clean.
        }
      }
      drainedNotFlushed = false;
      await close();
    },
  });
}

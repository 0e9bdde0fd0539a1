import { LogDatabase } from '../../log/embedded/LogDatabase.js';
import { RocksDBEngine } from '../../state/RocksDBEngine.js';
import { TaskDatabase } from '../../state/TaskDatabase.js';
import { TempDirs } from '../support/temp-dir.js';

/**
 * Issue 21 item 1 (the soak's memory growth): abstract-level registers every batch and iterator
 * in a Set on the database and unregisters it only on its async close(). Closed with _closeSync()
 * (the stores' and the log's hot path), each stayed in the Set with its native WriteBatch for the
 * life of the database: a stream thread held 3,693 ChainedBatch objects after 1.2 min at 300
 * events/s. Closed batches and iterators must leave the Set.
 */
const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

/** abstract-level's private Set of open batches and iterators (Symbol('resources')). */
function openResources(db: object): number {
  const symbol = Object.getOwnPropertySymbols(db).find((candidate) => candidate.description === 'resources');
  if (!symbol) throw new Error('abstract-level no longer keeps Symbol(resources): update this test');
  return ((db as Record<symbol, Set<unknown>>)[symbol]).size;
}

const ROUNDS = 500;
const key = (i: number) => Buffer.from(`key-${String(i).padStart(6, '0')}`);

test('a state store: written and discarded batches, finished and abandoned scans leave no resource behind', async () => {
  const dir = dirs.make();
  const engine = await RocksDBEngine.open(dir, 'counts');
  const database = await TaskDatabase.acquire(dir, 'probe');
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const batch = engine.batch();
      batch.put(key(i), Buffer.from(String(i)));
      batch.write();
      engine.batch().discard();
      expect([...engine.scan({ gte: key(0), limit: 3 })]).toHaveLength(Math.min(3, i + 1));
      // A scan left after its first entry (a break in a for-of) closes its iterator too.
      for (const entry of engine.scan({ gte: key(0) })) if (entry) break;
    }
    expect(engine.estimateNumKeys()).toBe(ROUNDS);
    expect(database.isColumnEmpty('counts')).toBe(false);
    expect(openResources(database.db)).toBe(0);
  } finally {
    await database.release('probe');
    await engine.close();
  }
});

test('the embedded log database: written batches, group-commit batches and closed cursors leave no resource behind', async () => {
  const logDatabase = await LogDatabase.open(dirs.make('log'));
  // The native database is private to LogDatabase: the test reads abstract-level's Set on it.
  const native = (logDatabase as unknown as { db: object }).db;
  try {
    for (let i = 0; i < ROUNDS; i++) {
      logDatabase.write([{ type: 'put', key: key(i), value: Buffer.from(String(i)) }]);
      const batch = logDatabase.beginBatch();
      batch._put(key(ROUNDS + i), Buffer.from('x'), {});
      batch._writeSync({});
      logDatabase.endBatch(batch);
      const cursor = logDatabase.cursor({ gte: key(0), lt: key(3 * ROUNDS), limit: 2 });
      expect(cursor.next(2).rows).toHaveLength(2);
      cursor.close();
    }
    expect(openResources(native)).toBe(0);
  } finally {
    await logDatabase.close();
  }
});

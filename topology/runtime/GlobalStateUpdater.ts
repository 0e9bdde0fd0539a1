import fs from 'node:fs/promises';
import path from 'node:path';
import type { Log } from '../../log/Log.js';
import type { StateStore } from '../../state/StateStore.js';
import type { RuntimeStore } from '../../state/StoreBuilder.js';
import type { GlobalStoreDef } from '../Topology.js';

const READ_BATCH = 10_000;

interface GlobalStoreState {
  def: GlobalStoreDef;
  store: RuntimeStore;
  dir: string;
  checkpointFile: string;
  partitions: number;
  positions: number[];
}

/**
 * Keeps global stores (reference tables) equal to their topics. Before any task runs, every
 * global store catches up to the end of all partitions of its topic; afterwards refresh() reads
 * what was appended since. Positions are checkpointed per partition in a small file written after
 * the store data, so a crash between the two only re-applies puts, which is harmless.
 */
export class GlobalStateUpdater {
  private readonly states: GlobalStoreState[] = [];

  constructor(
    private readonly log: Log,
    private readonly applicationId: string,
    /** The directory of every global store's RocksDB and positions file. */
    private readonly dir: string,
    private readonly defs: GlobalStoreDef[],
  ) {}

  async start(): Promise<Map<string, StateStore>> {
    const stores = new Map<string, StateStore>();
    for (const def of this.defs) {
      const dir = this.dir;
      const store = def.store.build(this.applicationId);
      await store.open(dir);
      let state: GlobalStoreState;
      try {
        const partitions = await this.log.partitionCount(def.topic);
        const checkpointFile = path.join(dir, `${def.store.name}.positions.json`);
        const positions = await readPositions(checkpointFile, partitions);
        for (let p = 0; p < partitions; p++) {
          positions[p] = Math.max(positions[p]!, await this.log.beginningOffset({ topic: def.topic, partition: p }));
        }
        state = { def, store, dir, checkpointFile, partitions, positions };
      } catch (error) {
        // Not yet in `states`: close it here, or its lock outlives this start and a retry fails.
        await this.closeAfterFailedStart(store);
        throw error;
      }
      this.states.push(state);
      stores.set(def.store.name, store);
      try {
        await this.catchUp(state, true);
      } catch (error) {
        await this.closeAfterFailedStart();
        throw error;
      }
    }
    return stores;
  }

  /** A failed start leaves nothing open: the caller may retry start() on the same directory. */
  private async closeAfterFailedStart(unrecorded?: RuntimeStore): Promise<void> {
    await unrecorded?.close().catch(() => undefined);
    for (const state of this.states) await state.store.close().catch(() => undefined);
    this.states.length = 0;
  }

  /** Applies what was appended to the global topics since the last call. */
  async refresh(): Promise<number> {
    let applied = 0;
    for (const state of this.states) applied += await this.catchUp(state, false);
    return applied;
  }

  async close(): Promise<void> {
    for (const state of this.states) await state.store.close();
    this.states.length = 0;
  }

  private async catchUp(state: GlobalStoreState, toEnd: boolean): Promise<number> {
    let applied = 0;
    for (let partition = 0; partition < state.partitions; partition++) {
      const tp = { topic: state.def.topic, partition };
      const end = toEnd ? await this.log.endOffset(tp) : Number.POSITIVE_INFINITY;
      for (;;) {
        const batch = await this.log.read(tp, state.positions[partition]!, READ_BATCH);
        if (batch.length === 0) break;
        await state.store.restore(batch);
        applied += batch.length;
        state.positions[partition] = batch[batch.length - 1]!.offset + 1;
        if (state.positions[partition]! >= end || batch.length < READ_BATCH) break;
      }
    }
    if (applied > 0) {
      await state.store.finishRestore(0);
      await fs.writeFile(state.checkpointFile + '.tmp', JSON.stringify(state.positions));
      await fs.rename(state.checkpointFile + '.tmp', state.checkpointFile);
    }
    return applied;
  }
}

async function readPositions(file: string, partitions: number): Promise<number[]> {
  const positions = new Array<number>(partitions).fill(0);
  try {
    const saved = JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
    if (Array.isArray(saved)) saved.forEach((offset, p) => {
      if (p < partitions && typeof offset === 'number') positions[p] = offset;
    });
  } catch {
    // no checkpoint: read from the beginning
  }
  return positions;
}

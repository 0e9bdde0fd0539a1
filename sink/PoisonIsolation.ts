import { chunkRows, type AnalyticsStore, type InsertRow } from './AnalyticsStore.js';
import { classifyInsertError } from './InsertErrors.js';

export interface RefusedRow {
  /** Index into the rows given to insertIsolatingPoison. */
  index: number;
  /** The engine's error when this row was inserted on its own. */
  error: unknown;
}

/** One insert made while isolating (for metrics, and for the crash tests' kill points). */
export interface IsolationStep {
  table: string;
  dedupToken: string;
  rows: number;
  refused: boolean;
}

export interface IsolatingInsertOptions {
  /** The batch's token; blocks are `<token>` or, split by maxRowsPerInsert, `<token>/<i>`. */
  dedupToken: string;
  maxRowsPerInsert: number;
  onStep?: (step: IsolationStep) => void | Promise<void>;
}

/**
 * Inserts rows as the same blocks as a plain insert (store chunks of maxRowsPerInsert, tokens
 * `<token>` or `<token>/<i>`). A block the engine refuses for its data (InsertErrors.ts) is cut
 * in two halves, each inserted as its own block with the token `<block token>/rows:<from>-<to>`
 * (row indexes inside the block), and so on down to the single rows that are refused on their
 * own: those are returned, everything else is in the table. An engine error anywhere is thrown
 * as is: the caller keeps the batch and retries it whole later.
 *
 * Exactly-once across a crash or a retry: the blocks tried are a pure function of the rows and
 * of which rows the engine refuses, both the same on a replay (the sink rebuilds the batch at its
 * recorded cut and mappers are pure). A replay therefore walks the same tree with the same
 * tokens: the halves that went in are dropped by deduplication, the refused ones are refused
 * again. A block that was refused inserted nothing, so its own token never enters the dedup window.
 *
 * Cost: about 2·log2(n) inserts per refused row; a block of n rows all refused takes 2n − 1.
 * When the left half goes in whole, the right half must hold the refusal, so it is split without
 * being tried whole (a block refused only as a whole, e.g. rows over too many partitions, still
 * ends with its single rows tried, and they go in). A row is only ever returned as refused after
 * the engine refused it on its own.
 */
export async function insertIsolatingPoison(
  store: Pick<AnalyticsStore, 'insert'>,
  table: string,
  rows: readonly InsertRow[],
  options: IsolatingInsertOptions,
): Promise<RefusedRow[]> {
  const refused: RefusedRow[] = [];
  const chunks = chunkRows(rows, options.dedupToken, options.maxRowsPerInsert);
  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c]!;
    const offset = c * options.maxRowsPerInsert;
    // undefined: the block went in; else the engine's data error (an engine error is thrown).
    const tryBlock = async (from: number, to: number, token: string): Promise<unknown> => {
      try {
        await store.insert(table, from === 0 && to === chunk.rows.length ? chunk.rows : chunk.rows.slice(from, to), { dedupToken: token });
      } catch (error) {
        if (classifyInsertError(error) !== 'data') throw error;
        if (token !== chunk.token) await options.onStep?.({ table, dedupToken: token, rows: to - from, refused: true });
        return error ?? new Error('insert refused');
      }
      if (token !== chunk.token) await options.onStep?.({ table, dedupToken: token, rows: to - from, refused: false });
      return undefined;
    };
    /** Places rows [from, to) of the chunk; true when they went in as one block. */
    const isolate = async (from: number, to: number, refusal: unknown, skipWhole: boolean): Promise<boolean> => {
      if (refusal === undefined && !(skipWhole && to - from > 1)) {
        refusal = await tryBlock(from, to, `${chunk.token}/rows:${from}-${to - 1}`);
        if (refusal === undefined) return true;
      }
      if (to - from === 1) {
        refused.push({ index: offset + from, error: refusal });
        return false;
      }
      const mid = from + Math.ceil((to - from) / 2);
      const leftWhole = await isolate(from, mid, undefined, false);
      await isolate(mid, to, undefined, leftWhole);
      return false;
    };
    const refusal = await tryBlock(0, chunk.rows.length, chunk.token);
    if (refusal !== undefined) await isolate(0, chunk.rows.length, refusal, false);
  }
  return refused;
}

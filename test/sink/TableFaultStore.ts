import type { InsertOptions, Row } from '../../sink/AnalyticsStore.js';
import { FlakyStore } from './FlakyStore.js';

/**
 * Fault injection by table: while `refusedTable` is set, inserts into it fail as an engine error
 * would, so a flush round can be stopped between its table inserts. Counts the inserts that went
 * through, per table.
 */
export class TableFaultStore extends FlakyStore {
  refusedTable: string | null = null;
  inserts = new Map<string, number>();
  override async insert(table: string, rows: readonly Row[], options: InsertOptions): Promise<void> {
    if (table === this.refusedTable) throw new Error(`connect ECONNRESET (injected for ${table})`);
    this.inserts.set(table, (this.inserts.get(table) ?? 0) + 1);
    return super.insert(table, rows, options);
  }
}

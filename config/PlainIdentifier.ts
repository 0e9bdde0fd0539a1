/**
 * A name usable in ClickHouse SQL without quoting: letters, digits and underscores, not starting
 * with a digit. One rule for the sink's tables and columns, CLICKHOUSE_DATABASE and the query
 * layer's Identifier parameters; here, not in sink/, because the HTTP thread reads
 * CLICKHOUSE_DATABASE without loading the sink (test/app/thread-imports).
 */
export function isPlainIdentifier(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

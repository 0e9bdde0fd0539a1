import { ClickHouseHttpError } from './ClickHouseErrors.js';

/**
 * Output formats the interface lets the engine write (chDB formats exactly as a server does), with
 * the Content-Type a ClickHouse server sends for each. Formats that read schema or template files
 * (Template, Protobuf, CapnProto) are left out.
 */
const FORMATS: Record<string, string> = {};
function add(contentType: string, names: string[]): void {
  for (const name of names) FORMATS[name] = contentType;
}
add('application/json; charset=UTF-8', [
  'JSON', 'JSONStrings', 'JSONCompact', 'JSONCompactStrings', 'JSONColumns', 'JSONCompactColumns', 'JSONColumnsWithMetadata', 'JSONObjectEachRow',
]);
add('application/x-ndjson; charset=UTF-8', [
  'JSONEachRow', 'JSONStringsEachRow', 'JSONCompactEachRow', 'JSONCompactEachRowWithNames', 'JSONCompactEachRowWithNamesAndTypes',
  'JSONCompactStringsEachRow', 'JSONCompactStringsEachRowWithNames', 'JSONCompactStringsEachRowWithNamesAndTypes', 'NDJSON', 'JSONLines',
  'JSONEachRowWithProgress', 'JSONStringsEachRowWithProgress',
]);
add('text/tab-separated-values; charset=UTF-8', [
  'TabSeparated', 'TabSeparatedRaw', 'TabSeparatedWithNames', 'TabSeparatedWithNamesAndTypes', 'TabSeparatedRawWithNames',
  'TabSeparatedRawWithNamesAndTypes', 'TSV', 'TSVRaw', 'TSVWithNames', 'TSVWithNamesAndTypes', 'TSVRawWithNames', 'TSVRawWithNamesAndTypes',
]);
add('text/csv; charset=UTF-8; header=absent', ['CSV']);
add('text/csv; charset=UTF-8; header=present', ['CSVWithNames', 'CSVWithNamesAndTypes']);
add('text/plain; charset=UTF-8', [
  'Pretty', 'PrettyCompact', 'PrettyCompactMonoBlock', 'PrettySpace', 'PrettyNoEscapes', 'PrettyCompactNoEscapes', 'PrettySpaceNoEscapes',
  'PrettyMonoBlock', 'PrettyNoEscapesMonoBlock', 'Vertical', 'Markdown', 'Values', 'LineAsString', 'Raw', 'Null', 'CustomSeparated',
  'CustomSeparatedWithNames', 'CustomSeparatedWithNamesAndTypes', 'SQLInsert', 'Prometheus',
]);
add('application/xml; charset=UTF-8', ['XML']);
add('application/octet-stream', [
  'Native', 'RowBinary', 'RowBinaryWithNames', 'RowBinaryWithNamesAndTypes', 'Parquet', 'Arrow', 'ArrowStream', 'ORC', 'Avro', 'MsgPack', 'BSONEachRow', 'Npy',
]);

const BY_LOWER = new Map(Object.keys(FORMATS).map((name) => [name.toLowerCase(), name]));

/** The canonical name of an output format, or UNKNOWN_FORMAT (Code 73) as a server says it. */
export function outputFormat(name: string): { name: string; contentType: string } {
  const canonical = BY_LOWER.get(name.toLowerCase());
  if (!canonical) throw new ClickHouseHttpError(73, 'UNKNOWN_FORMAT', `Unknown output format ${name} (or not served over this interface)`);
  return { name: canonical, contentType: FORMATS[canonical]! };
}

/** ClickHouse's default for HTTP when neither FORMAT nor default_format says otherwise. */
export const DEFAULT_HTTP_FORMAT = 'TabSeparated';

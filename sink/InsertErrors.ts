/**
 * Why an insert failed: because of the rows it carried (`data`: the same rows fail again, on any
 * retry, so the sink isolates the refused row and dead-letters it), or because of the engine or
 * the way to it (`engine`: down, overloaded, out of space, misconfigured; the same rows succeed
 * later, so the sink keeps them and retries with backoff).
 *
 * The test is ClickHouse's error code: chDB throws `Code: 72. DB::Exception: ...`, and
 * @clickhouse/client a ClickHouseError whose `code` is the number as text ('72') and `type` its
 * name. Only codes that name a value the engine could not read or store count as data; anything
 * else, including errors without a code (sockets, timeouts, a closed store), is the engine's. An
 * unknown code therefore waits for an operator rather than dead-letter good rows.
 */
export type InsertErrorKind = 'data' | 'engine';

/** ClickHouse error codes (src/Common/ErrorCodes.cpp) raised by a value of the inserted rows. */
export const DATA_ERROR_CODES: ReadonlyMap<number, string> = new Map([
  [6, 'CANNOT_PARSE_TEXT'],
  [25, 'CANNOT_PARSE_ESCAPE_SEQUENCE'],
  [26, 'CANNOT_PARSE_QUOTED_STRING'],
  [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'],
  [38, 'CANNOT_PARSE_DATE'],
  [41, 'CANNOT_PARSE_DATETIME'],
  [53, 'TYPE_MISMATCH'],
  [69, 'ARGUMENT_OUT_OF_BOUND'],
  [70, 'CANNOT_CONVERT_TYPE'],
  [72, 'CANNOT_PARSE_NUMBER'],
  [117, 'INCORRECT_DATA'],
  [128, 'TOO_LARGE_ARRAY_SIZE'],
  [130, 'CANNOT_READ_ARRAY_FROM_TEXT'],
  [131, 'TOO_LARGE_STRING_SIZE'],
  [190, 'SIZES_OF_ARRAYS_DOESNT_MATCH'],
  [248, 'INVALID_PARTITION_VALUE'],
  [321, 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE'],
  [349, 'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN'],
  [376, 'CANNOT_PARSE_UUID'],
  [395, 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO'],
  [407, 'DECIMAL_OVERFLOW'],
  [441, 'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING'],
  [467, 'CANNOT_PARSE_BOOL'],
  [469, 'VIOLATED_CONSTRAINT'],
]);

/**
 * TOO_MANY_PARTS (252) is both "merges are behind" (the engine's) and "too many partitions for
 * a single INSERT block" (a batch whose rows span more than max_partitions_per_insert_block
 * months: the rows'). Halves of such a batch go in, so isolation resolves it without a dead letter.
 */
const TOO_MANY_PARTS = 252;
const PARTITIONS_PER_BLOCK = /too many partitions for single insert block/i;

/** The ClickHouse error code of an error from either store; undefined when it has none. */
export function clickHouseErrorCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  if (typeof code === 'number' && Number.isInteger(code)) return code;
  const match = typeof message === 'string' ? /\bCode: (\d+)\./.exec(message) : null;
  return match ? Number(match[1]) : undefined;
}

export function classifyInsertError(error: unknown): InsertErrorKind {
  const code = clickHouseErrorCode(error);
  if (code === undefined) return 'engine';
  if (DATA_ERROR_CODES.has(code)) return 'data';
  if (code === TOO_MANY_PARTS && PARTITIONS_PER_BLOCK.test(String((error as { message?: unknown }).message ?? ''))) return 'data';
  return 'engine';
}

/** The engine's message, one line, for dlq_reason and logs. */
export function insertErrorText(error: unknown): string {
  const message = (error as { message?: unknown })?.message;
  return (typeof message === 'string' ? message : String(error)).replace(/\s+/g, ' ').trim();
}

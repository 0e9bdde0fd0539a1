import { NamedError } from '../errors/NamedError.js';
/**
 * Errors as a ClickHouse server reports them over HTTP, because clients parse them: the body
 * "Code: N. DB::Exception: message. (NAME) (version V)", the X-ClickHouse-Exception-Code header,
 * and the HTTP status ClickHouse picks for the code (@clickhouse/client matches the body with
 * /(Code|Error): (\d+).*Exception: (.+?)\(([A-Z0-9_]+)\)/ and throws a ClickHouseError with them).
 */
export class ClickHouseHttpError extends NamedError {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    /** Overrides the status derived from the code. */
    readonly httpStatus: number = statusForCode(code),
  ) {
    super(message);
  }
}

const UNAUTHORIZED = new Set([192, 193, 194, 516]); // UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED
const FORBIDDEN = new Set([164, 497, 452]); // READONLY, ACCESS_DENIED, SETTING_CONSTRAINT_VIOLATION
const NOT_FOUND = new Set([46, 47, 50, 60, 81, 115]); // UNKNOWN_FUNCTION, _IDENTIFIER, _TYPE, _TABLE, _DATABASE, _SETTING
const BAD_REQUEST = new Set([6, 26, 27, 38, 41, 43, 53, 62, 69, 70, 72, 73, 456, 457, 36]);

/** The status ClickHouse's HTTPHandler gives an exception code (exceptionCodeToHTTPStatus). */
export function statusForCode(code: number): number {
  if (UNAUTHORIZED.has(code)) return 401;
  if (FORBIDDEN.has(code)) return 403;
  if (NOT_FOUND.has(code)) return 404;
  if (BAD_REQUEST.has(code)) return 400;
  if (code === 202) return 503; // TOO_MANY_SIMULTANEOUS_QUERIES
  if (code === 159) return 500; // TIMEOUT_EXCEEDED: ClickHouse answers 500 too
  return 500;
}

const ENGINE_ERROR = /Code: (\d+)\. DB::Exception: ([\s\S]*?)(?: \(([A-Z][A-Z0-9_]+)\))?(?: \(version [^)]*\))?\s*$/;

/** An error chDB threw, as the same ClickHouse error (the engine already wrote it in that shape). */
export function fromEngineError(error: unknown): ClickHouseHttpError {
  if (error instanceof ClickHouseHttpError) return error;
  const text = error instanceof Error ? error.message : String(error);
  const match = ENGINE_ERROR.exec(text.trim());
  if (!match) return new ClickHouseHttpError(1001, 'STD_EXCEPTION', text.split('\n')[0] ?? 'engine error');
  const message = match[2]!.replace(/\.$/, '');
  return new ClickHouseHttpError(Number(match[1]), match[3] ?? 'UNKNOWN_EXCEPTION', message);
}

/** The body ClickHouse sends for an exception. */
export function errorBody(error: ClickHouseHttpError, version: string): string {
  const message = error.message.endsWith('.') ? error.message : `${error.message}.`;
  return `Code: ${error.code}. DB::Exception: ${message} (${error.codeName}) (version ${version})\n`;
}

export const readonlyError = (what: string) => new ClickHouseHttpError(164, 'READONLY', `${what}: cannot execute query in readonly mode`);
export const accessDenied = (what: string) => new ClickHouseHttpError(497, 'ACCESS_DENIED', `Not enough privileges: ${what}`);

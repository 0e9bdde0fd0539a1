import type { FastifyRequest } from 'fastify';

/**
 * The text of each event exactly as it arrived, so the landing envelope can embed it instead of
 * re-serialising the parsed object (JSON.stringify costs as much as JSON.parse). The body has
 * already passed JSON.parse, so the scanner below may assume valid JSON; whenever the shape is
 * not the expected one it answers null and the caller falls back to JSON.stringify.
 */
const RAW_TEXT = Symbol('ingressRawBody');
const RAW_LINES = Symbol('ingressRawLines');

type WithRaw = FastifyRequest & { [RAW_TEXT]?: string; [RAW_LINES]?: string[] };

export function keepRawBody(request: FastifyRequest, text: string): void {
  (request as WithRaw)[RAW_TEXT] = text;
}

export function keepRawLines(request: FastifyRequest, lines: string[]): void {
  (request as WithRaw)[RAW_LINES] = lines;
}

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_SQUARE = 91;
const CLOSE_SQUARE = 93;
const OPEN_CURLY = 123;
const CLOSE_CURLY = 125;
const COMMA = 44;
const COLON = 58;

function skipWhitespace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

function skipString(text: string, i: number): number {
  // i is at the opening quote; native indexOf finds candidate closing quotes, and a quote is
  // escaped exactly when an odd number of backslashes precede it.
  let from = i + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    let backslashes = 0;
    for (let b = quote - 1; text.charCodeAt(b) === BACKSLASH; b--) backslashes++;
    if ((backslashes & 1) === 0) return quote + 1;
    from = quote + 1;
  }
}

function skipValue(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === QUOTE) return skipString(text, i);
  if (first === OPEN_SQUARE || first === OPEN_CURLY) {
    let depth = 0;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        i = skipString(text, i);
        if (i < 0) return -1;
        continue;
      }
      if (c === OPEN_SQUARE || c === OPEN_CURLY) depth++;
      else if (c === CLOSE_SQUARE || c === CLOSE_CURLY) {
        if (--depth === 0) return i + 1;
      } else if (Number.isNaN(c)) return -1;
      i++;
    }
  }
  // number, true, false, null
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === COMMA || c === CLOSE_SQUARE || c === CLOSE_CURLY || c === 32 || c === 10 || c === 13 || c === 9 || Number.isNaN(c)) return i;
    i++;
  }
}

/** Element texts of the array starting at i, or null. */
function arrayElements(text: string, i: number): string[] | null {
  if (text.charCodeAt(i) !== OPEN_SQUARE) return null;
  const out: string[] = [];
  i = skipWhitespace(text, i + 1);
  if (text.charCodeAt(i) === CLOSE_SQUARE) return out;
  for (;;) {
    const end = skipValue(text, i);
    if (end < 0) return null;
    out.push(text.slice(i, end));
    i = skipWhitespace(text, end);
    const c = text.charCodeAt(i);
    if (c === CLOSE_SQUARE) return out;
    if (c !== COMMA) return null;
    i = skipWhitespace(text, i + 1);
  }
}

/** The raw texts of a top-level array's elements, or of the array under a top-level key (e.g. "events"). */
export function rawElementTexts(text: string, key: string): string[] | null {
  let i = skipWhitespace(text, 0);
  const first = text.charCodeAt(i);
  if (first === OPEN_SQUARE) return arrayElements(text, i);
  if (first !== OPEN_CURLY) return null;
  i = skipWhitespace(text, i + 1);
  const wanted = '"' + key + '"';
  while (text.charCodeAt(i) === QUOTE) {
    const keyEnd = skipString(text, i);
    if (keyEnd < 0) return null;
    const isWanted = keyEnd - i === wanted.length && text.startsWith(wanted, i);
    i = skipWhitespace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return null;
    i = skipWhitespace(text, i + 1);
    // A repeated key: JSON.parse keeps the last one, so must we.
    if (isWanted && text.indexOf(wanted, i) < 0) return arrayElements(text, i);
    const end = skipValue(text, i);
    if (end < 0) return null;
    i = skipWhitespace(text, end);
    if (text.charCodeAt(i) === COMMA) i = skipWhitespace(text, i + 1);
  }
  return null;
}

/**
 * Raw texts of a batch's events, aligned with the parsed array, or null (then serialise).
 * `key` names the object field holding the array when the body is an object.
 */
export function rawEventTexts(request: FastifyRequest, count: number, key = 'events'): string[] | null {
  const raw = request as WithRaw;
  const lines = raw[RAW_LINES];
  if (lines) return lines.length === count ? lines : null;
  const text = raw[RAW_TEXT];
  if (text === undefined) return null;
  const texts = rawElementTexts(text, key);
  return texts && texts.length === count ? texts : null;
}

/** The raw text of a single-event body, or undefined. */
export function rawSingleText(request: FastifyRequest): string | undefined {
  const raw = request as WithRaw;
  if (raw[RAW_LINES]) return raw[RAW_LINES].length === 1 ? raw[RAW_LINES][0] : undefined;
  return raw[RAW_TEXT];
}

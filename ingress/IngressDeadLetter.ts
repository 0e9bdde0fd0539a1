import type { CommitContext, Rejection } from './IngestCore.js';

/** Longest dlq_reason header: the reason joins field messages, and a header is not the place for kilobytes. */
const MAX_REASON_CHARS = 1024;

export function clipReason(reason: string): string {
  return reason.length > MAX_REASON_CHARS ? reason.slice(0, MAX_REASON_CHARS) + '…' : reason;
}

/**
 * The payload part of an ingress DLQ record, at most `maxEventBytes` of the client's text.
 *
 * Built from the event's raw text (RawEventText), never by re-serialising the parsed object:
 * JSON.stringify recurses (a 100k-deep event overflowed the stack here and failed its whole
 * batch) and costs a copy as large as the event. An event within the limit is embedded as the
 * JSON it was; a larger one (a 9 MB event once grew the log 28 MB over three rejections) keeps
 * only its first bytes, as a string, with payload_truncated and its full size.
 */
function payloadFields(rejection: Rejection, maxEventBytes: number): string {
  let text = rejection.rawText;
  if (text === undefined) {
    // No raw text (a wrapped seed000 item, or a body the raw scanner could not split): the
    // shape check already refused deep events, but a failure here must cost this event only.
    try {
      text = JSON.stringify(rejection.event) ?? 'null';
    } catch (error) {
      return `"payload":null,"payload_omitted":${JSON.stringify(`the event could not be serialised: ${(error as Error).message}`)}`;
    }
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxEventBytes) return `"payload":${text}`;
  // Escaping a JSON text as a string at most doubles it (quotes, backslashes, whitespace), so
  // half the limit in bytes keeps the embedded string within the limit.
  const keep = Math.max(0, Math.floor(maxEventBytes / 2));
  const head = Buffer.from(text.slice(0, keep), 'utf8').subarray(0, keep).toString('utf8');
  return `"payload":null,"payload_truncated":true,"payload_bytes":${bytes},"payload_head":${JSON.stringify(head)}`;
}

/** The value of a DLQ record for an event the ingress refused (see ingress/README.md, "DLQ record"). */
export function ingressDeadLetterValue(rejection: Rejection, context: CommitContext, reason: string, maxEventBytes: number): string {
  const head = JSON.stringify({
    v: 1,
    source: context.source,
    batch_id: context.batchId,
    index: rejection.index,
    event_id: rejection.eventId,
    received_at: context.receivedAt,
    dlq_reason: reason,
    errors: rejection.errors,
  });
  return head.slice(0, -1) + ',' + payloadFields(rejection, maxEventBytes) + '}';
}

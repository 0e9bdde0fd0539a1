import { createHash } from 'node:crypto';
import type { TopicPartition } from '../log/Log.js';

/** One partition's batch in a flush round: its offset range. */
export interface RoundMember extends TopicPartition {
  first: number;
  last: number;
}

/**
 * A flush round writes the batches of several partitions together: each table gets one insert
 * (chunked at CLICKHOUSE_MAX_ROWS_PER_INSERT) holding the rows of every member, in member order.
 * An insert costs about the same CPU whatever its rows (issue 13), so a round of 4 partitions
 * makes one events_raw insert instead of four.
 *
 * The round's text lists its members, `topic:partition:first-last` joined by `,`, and is written
 * beside every member's cut in sink_batches before the first insert. A replay after a crash finds
 * it for any member and writes exactly the same combination again, with the same token, so every
 * block already in is dropped by deduplication. A round of one batch reads as today's batch token
 * (`topic:partition:first-last`), so cuts recorded before rounds existed replay unchanged.
 */
export function roundText(members: readonly RoundMember[]): string {
  return members.map(memberText).join(',');
}

export function memberText({ topic, partition, first, last }: RoundMember): string {
  return `${topic}:${partition}:${first}-${last}`;
}

/** The members of a round's text (topic names hold neither `,` nor `:` in Kafka or the embedded log). */
export function parseRound(text: string): RoundMember[] {
  return text.split(',').map((member) => {
    const match = /^(.+):(\d+):(\d+)-(\d+)$/.exec(member);
    if (!match) throw new Error(`sink_batches: not a round member: "${member}"`);
    return { topic: match[1]!, partition: Number(match[2]), first: Number(match[3]), last: Number(match[4]) };
  });
}

/**
 * The insert_deduplication_token of every table's block in the round: the round's text, or, when
 * long (many partitions), a digest of it, so the token stays a short query setting on a server.
 * A round of one batch keeps its text at any length: that is the token the sink gave every batch
 * before rounds, so a cut recorded then (a topic name can be 249 characters) replays under it.
 */
export function roundToken(text: string): string {
  if (text.length <= MAX_PLAIN_TOKEN || !text.includes(',')) return text;
  return `round:${text.split(',').length}:${createHash('sha256').update(text).digest('hex')}`;
}

const MAX_PLAIN_TOKEN = 200;

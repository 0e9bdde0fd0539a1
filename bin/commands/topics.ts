import { readString } from '../../config/index.js';
import { partitionKey, type TopicPartition } from '../../log/Log.js';
import { type Command, parseCommand, table, withLog } from './cli-support.js';

const USAGE = 'streamline topics [--group <id>]... [--data-dir <dir>]';

/**
 * streamline topics: every topic with its partitions, start and end offsets, and for each
 * consumer group the committed offset and lag. Groups: the application's (APPLICATION_ID), the
 * ClickHouse sink's (SINK_GROUP_ID) and any --group.
 */
export const topicsCommand: Command = async (args, context) => {
  const { values, env } = parseCommand(args, { group: { type: 'string', multiple: true } }, context, USAGE);
  await withLog(env, async (log, config) => {
    const groups = [...new Set([config.applicationId, readString(env, 'SINK_GROUP_ID', 'clickhouse-sink'), ...((values.group as string[] | undefined) ?? [])])];
    const topics = (await log.listTopics()).sort();
    const rows: string[][] = [['TOPIC', 'PARTITION', 'START', 'END', ...groups.map((g) => `${g} (committed/lag)`)]];
    const lagByGroup = new Map(groups.map((g) => [g, 0]));
    let partitions = 0;
    let records = 0;
    for (const topic of topics) {
      const count = await log.partitionCount(topic);
      const tps: TopicPartition[] = Array.from({ length: count }, (_, partition) => ({ topic, partition }));
      const committed = new Map<string, Map<string, number>>();
      for (const group of groups) committed.set(group, await log.committedOffsets(group, tps));
      for (const tp of tps) {
        const start = await log.beginningOffset(tp);
        const end = await log.endOffset(tp);
        partitions++;
        records += end - start;
        const cells = groups.map((group) => {
          const offset = committed.get(group)!.get(partitionKey(tp));
          if (offset === undefined) return '-';
          const lag = Math.max(0, end - offset);
          lagByGroup.set(group, lagByGroup.get(group)! + lag);
          return `${offset}/${lag}`;
        });
        rows.push([topic, String(tp.partition), String(start), String(end), ...cells]);
      }
    }
    for (const line of table(rows)) context.out(line);
    const lags = groups.map((g) => `${g} ${lagByGroup.get(g)}`).join(', ');
    context.out(`${topics.length} topics, ${partitions} partitions, ${records} records (${log.kind} log); lag: ${lags}`);
  });
};

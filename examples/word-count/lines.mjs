// Input and output of the word-count examples (not part of the topology).
export const LINES = ['the quick brown fox', 'jumps over the lazy dog', 'The dog sleeps'];

/** Writes LINES to the topic "lines"; returns how many words they hold. */
export async function produceLines(log) {
  await log.produce(LINES.map((line, n) => ({ topic: 'lines', key: Buffer.from(`line-${n}`), value: Buffer.from(JSON.stringify(line)) })));
  return LINES.join(' ').split(/\W+/).filter(Boolean).length;
}

/** After each commit, reads "word-counts" (the latest count per word) until every word is counted; prints them as JSON. */
export async function printCounts(log, app, words) {
  const latest = new Map();
  const positions = new Map();
  for (;;) {
    for (let partition = 0; partition < (await log.partitionCount('word-counts')); partition++) {
      const tp = { topic: 'word-counts', partition };
      const end = await log.endOffset(tp);
      let position = positions.get(partition) ?? (await log.beginningOffset(tp));
      while (position < end) {
        const batch = await log.read(tp, position, 1000);
        if (batch.length === 0) break;
        for (const record of batch) latest.set(record.key.toString(), JSON.parse(record.value.toString()));
        position = batch[batch.length - 1].offset + 1;
      }
      positions.set(partition, position);
    }
    if ([...latest.values()].reduce((sum, count) => sum + count, 0) >= words) break;
    await new Promise((resolve) => app.once('commit', resolve));
  }
  console.log(JSON.stringify(Object.fromEntries([...latest].sort(([a], [b]) => a.localeCompare(b)))));
}

/**
 * A worker thread of bench/kafka-topology.ts threads=N: one member (kafka-topology-member.ts).
 * Posts {type:'running'} once its StreamsApp runs, {type:'failed', message} if it fails; on
 * 'stop' from the parent waits for its start to end, closes (last commit, then its log) and
 * posts {type:'stopped'}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startMember, type MemberSettings } from './kafka-topology-member.js';

export type ThreadEvent = { type: 'running' } | { type: 'failed'; message: string } | { type: 'stopped' };

const port = parentPort!;
const post = (event: ThreadEvent) => port.postMessage(event);
const started = startMember(workerData as MemberSettings, (error) => post({ type: 'failed', message: error.stack ?? error.message }));
started.then(
  () => post({ type: 'running' }),
  (error: unknown) => post({ type: 'failed', message: (error as Error).stack ?? String(error) }),
);
let stopping: Promise<void> | undefined;
port.on('message', (message: { type: 'stop' }) => {
  if (message.type !== 'stop') return;
  stopping ??= (async () => {
    const member = await started.catch(() => undefined);
    await member?.close();
    post({ type: 'stopped' });
    port.close();
  })();
});

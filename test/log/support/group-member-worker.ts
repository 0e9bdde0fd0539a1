/**
 * A group member in a worker thread, for test/log/embedded-group.test.ts: reaches the log
 * through the RemoteLog on the port it was given (as a stream thread will) and runs a
 * GroupMember there until the test terminates the thread. Tells its parent what it owns and how
 * much it committed after every change.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { RemoteLog } from '../../../log/remote/RemoteLog.js';
import { GroupMember, type JournalEntry } from './group-member.js';

export interface WorkerReport {
  owned: string[];
  processed: number;
  journal: JournalEntry[];
}

const { port, name, groupId, topics, output } = workerData as { port: MessagePort; name: string; groupId: string; topics: string[]; output: string };

const log = await RemoteLog.connect(port);
const journal: JournalEntry[] = [];
const member: GroupMember = new GroupMember(name, log, groupId, topics, output, journal, () =>
  parentPort!.postMessage({ owned: [...member.owned].sort(), processed: member.processed, journal: [...journal] } satisfies WorkerReport),
);
await member.start();

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { openKafkaLog, type KafkaLog } from '../../../log/kafka/KafkaLog.js';
import { StreamsApp } from '../../../topology/index.js';
import { uniqueName } from '../log-contract.js';
import { testKafkaBrokers } from '../../support/kafka-broker.js';
import { readAll, waitForCaughtUp } from '../../support/streams.js';
import { tempDir } from '../../support/temp-dir.js';
import { copiesAndCounts } from './fixtures/copies-and-counts.js';
import { childLines } from '../../support/child-lines.js';
import { feedUntil } from '../../support/feed-until.js';
import { within } from '../../support/within.js';

const KEYS = 17;

const SESSION_TIMEOUT_MS = 2_000;

/**
 * Two members of one application over one state directory, as two stream threads of `npm start`
 * in Kafka mode: one in a child process that the test freezes (SIGSTOP) past its group session,
 * one here. While the child is frozen the group gives its partitions to the sibling, which waits
 * for their stores' locks. Woken, the child's next commit fails. Rebuilding its old assignment
 * from the last commit (what it did) reopened those stores and kept both retrying (CI: a stream
 * thread that never committed again). It must close its tasks, rejoin and commit again; the
 * outputs end exact.
 */
describe('a member of the topology expired from its group while a sibling took its partitions', () => {
  const dir = tempDir('kafka-expired-thread');
  let admin: KafkaLog;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    admin = await openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: uniqueName('expired-thread'), sessionTimeoutMs: SESSION_TIMEOUT_MS });
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await admin?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('closes its tasks instead of rebuilding them, rejoins, commits again, and the outputs end exact', async () => {
    const input = uniqueName('expired-in');
    const applicationId = uniqueName('expired-app');
    const stateDir = `${dir}/state`;
    await admin.ensureTopic(input, { partitions: 4 });
    let sent = 0;
    const send = async (count: number) => {
      await admin.produce(Array.from({ length: count }, (_, i) => ({ topic: input, key: Buffer.from(`k${(sent + i) % KEYS}`), value: Buffer.from(JSON.stringify({ n: sent + i })) })));
      sent += count;
    };
    await send(2_000);

    child = spawn(process.execPath, ['--import', 'tsx', 'test/log/kafka/fixtures/topology-member.ts', testKafkaBrokers(), input, applicationId, stateDir, String(SESSION_TIMEOUT_MS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = childLines(child);
    const { lines } = output;
    // Each wait bounded, so a stuck step says which it is and what the child printed last.
    const waitForLine = (match: RegExp, from?: number) => output.waitFor(match, from, 60_000);
    await waitForLine(/^commit$/);

    const sibling = new StreamsApp(copiesAndCounts(input), admin, { applicationId, stateDir, maxPollRecords: 50, commitIntervalMs: 50 });
    const siblingErrors: Error[] = [];
    sibling.on('error', (error: Error) => siblingErrors.push(error));
    const siblingCommitted = new Promise<void>((resolve) => sibling.once('commit', () => resolve()));
    await within(sibling.start(), 60_000, () => 'the sibling starting');
    // Input keeps coming until the sibling commits: it commits only what it processed, and when
    // the rebalance that gives it partitions ends after the member has processed everything sent
    // so far (CI on Node 24: the two cooperative rounds took longer than the member's work), it
    // has nothing to commit until more comes.
    const siblingCommittedYet = await feedUntil(siblingCommitted, () => send(50), { pauseMs: 200, timeoutMs: 60_000 });
    if (!siblingCommittedYet) throw new Error(`the sibling did not commit within 60 s of input; the member's last lines: ${lines.slice(-10).join(' | ')}`);

    // Frozen past its session, with input arriving for it: woken, it has work whose commit fails.
    // A member frozen while a rebalance waits for its JoinGroup may outlast its session in the
    // group (the coordinator waits for members to rejoin up to the rebalance timeout), and woken
    // it just takes its assignment, with no loss to learn of: then it is frozen again, the group
    // stable by now. (A guard, not seen needed: the CI hang on Node 24 it was written for turned
    // out to be the sibling's first commit, above.)
    let lostAt: number | undefined;
    for (let freeze = 0; freeze < 3 && lostAt === undefined; freeze++) {
      child.kill('SIGSTOP');
      for (let i = 0; i < 6; i++) {
        await send(100);
        await new Promise((resolve) => setTimeout(resolve, SESSION_TIMEOUT_MS / 2));
      }
      const wokeAt = lines.length;
      child.kill('SIGCONT');
      lostAt = await output.waitFor(/^revoked$/, wokeAt, 20_000).catch(() => undefined);
      // Its old tasks were closed, not rebuilt: no store opened between waking and learning of the loss.
      if (lostAt !== undefined) expect(lines.slice(wokeAt, lostAt).filter((line) => line.startsWith('restoring'))).toEqual([]);
    }
    if (lostAt === undefined) throw new Error(`the frozen member never learnt of a loss; its last lines: ${lines.slice(-10).join(' | ')}`);
    // Input keeps coming until the woken member holds partitions again and commits them.
    const again = waitForLine(/^commit$/, lostAt);
    const committedAgain = (await feedUntil(again, () => send(50), { pauseMs: 200, timeoutMs: 60_000 })) && (await again.then(() => true, () => false));
    expect({ committedAgain, errors: lines.filter((line) => line.startsWith('error')) }).toEqual({ committedAgain: true, errors: [] });

    child.kill('SIGTERM');
    await within(new Promise((resolve) => child!.once('exit', resolve)), 30_000, () => `the member exiting on SIGTERM (its last lines: ${lines.slice(-10).join(' | ')})`);
    await waitForCaughtUp(sibling, admin, applicationId, [input], 120_000);
    expect(siblingErrors).toEqual([]);
    await within(sibling.close(), 30_000, () => 'the sibling closing');

    const copies = (await readAll(admin, `${input}-copies`)).map((r) => (JSON.parse(r.value!.toString()) as { n: number }).n);
    expect(new Set(copies).size).toBe(sent);
    expect(copies).toHaveLength(sent);
    const lastCount = new Map<string, number>();
    for (const record of await readAll(admin, `${input}-counts`)) lastCount.set(record.key!.toString(), JSON.parse(record.value!.toString()) as number);
    const expected = new Map<string, number>();
    for (let n = 0; n < sent; n++) expected.set(`k${n % KEYS}`, (expected.get(`k${n % KEYS}`) ?? 0) + 1);
    expect(lastCount).toEqual(expected);
  }, 240_000);
});

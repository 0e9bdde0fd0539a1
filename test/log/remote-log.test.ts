import { once } from 'node:events';
import { MessageChannel, type Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { UnknownTopicError, type Log, type TopicPartition } from '../../log/Log.js';
import { ProducerFencedError } from '../../log/embedded/index.js';
import { EmbeddedLogThread } from '../../log/remote/EmbeddedLogThread.js';
import { LogServerGoneError } from '../../log/remote/RemoteErrors.js';
import { RemoteLog } from '../../log/remote/RemoteLog.js';
import { startModuleWorker } from '../../log/remote/StartModuleWorker.js';
import { describeLogContract, noopListener, pollUntil, readAll, uniqueName } from './log-contract.js';
import { servedInThread } from '../support/served-log.js';
import { removeDir, tempDir } from '../support/temp-dir.js';
import { within } from '../support/within.js';

describeLogContract('RemoteLog over a MessageChannel (EmbeddedLog in the same thread)', async () => {
  const served = await servedInThread('remote-log-channel');
  return { log: await served.connect(), cleanup: served.cleanup };
});

describeLogContract('RemoteLog to an EmbeddedLog owned by a worker thread', async () => {
  const dir = tempDir('remote-log-worker');
  const thread = await EmbeddedLogThread.start({ dir, cleanupIntervalMs: 0 });
  const log = await thread.connect();
  return {
    log,
    async cleanup() {
      await log.close();
      await thread.stop();
      removeDir(dir);
    },
  };
});

describe('RemoteLog specifics', () => {
  let served: Awaited<ReturnType<typeof servedInThread>>;
  let remote: RemoteLog;

  beforeEach(async () => {
    served = await servedInThread('remote-log');
    remote = await served.connect();
  });

  afterEach(async () => {
    await served.cleanup();
  });

  it('reports the served log kind and keeps error classes across the port', async () => {
    expect(remote.kind).toBe('embedded');
    const missing = uniqueName('missing');
    const error = await remote.produce([{ topic: missing, key: null, value: Buffer.from('x') }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownTopicError);
    expect((error as UnknownTopicError).topic).toBe(missing);
    await remote.ensureTopic('two', { partitions: 2 });
    await expect(remote.produce([{ topic: 'two', key: null, value: null, partition: 7 }])).rejects.toBeInstanceOf(RangeError);
    expect(() => remote.createConsumer({ groupId: '' })).toThrow('groupId is required');
    // An argument that cannot cross a port fails its own call only.
    const uncloneable = { partitions: 1, onCreate: () => undefined } as unknown as { partitions: number };
    await expect(remote.ensureTopic('cloned', uncloneable)).rejects.toThrow(/could not be cloned/);
    expect(await remote.partitionCount('two')).toBe(2);
  });

  it('carries arbitrary bytes, empty buffers, null keys and values, and views into shared buffers exactly', async () => {
    await remote.ensureTopic('bytes', { partitions: 1 });
    const shared = Buffer.alloc(64);
    for (let i = 0; i < 64; i++) shared[i] = 255 - i;
    const records = [
      { topic: 'bytes', key: shared.subarray(3, 9), value: shared.subarray(10, 40), headers: { a: 'é' } },
      { topic: 'bytes', key: Buffer.alloc(0), value: Buffer.alloc(0) },
      { topic: 'bytes', key: null, value: null, timestamp: 42 },
    ];
    const meta = await remote.produce(records);
    expect(meta.map((m) => [m.topic, m.partition, m.offset])).toEqual([
      ['bytes', 0, 0],
      ['bytes', 0, 1],
      ['bytes', 0, 2],
    ]);
    const back = await remote.read({ topic: 'bytes', partition: 0 }, 0, 10);
    expect(back.map((r) => r.key)).toEqual([shared.subarray(3, 9), Buffer.alloc(0), null]);
    expect(back.map((r) => r.value)).toEqual([shared.subarray(10, 40), Buffer.alloc(0), null]);
    expect(back.every((r) => r.key === null || Buffer.isBuffer(r.key))).toBe(true);
    expect(back[0].headers).toEqual({ a: 'é' });
    expect(back[2].timestamp).toBe(42);
    // The caller's buffers are untouched (copied into the message, not detached).
    expect(shared[3]).toBe(252);
    expect(await served.log.read({ topic: 'bytes', partition: 0 }, 0, 10)).toEqual(back);
  });

  it('sends the produce calls of one turn in one message, each with its own outcome, and writes them before close', async () => {
    await remote.ensureTopic('coalesced', { partitions: 1 });
    const before = served.log.appendStats();
    const calls = [
      remote.produce([{ topic: 'coalesced', key: null, value: Buffer.from('a') }]),
      remote.produce([{ topic: uniqueName('missing'), key: null, value: Buffer.from('lost') }]),
      remote.produce([
        { topic: 'coalesced', key: null, value: Buffer.from('b') },
        { topic: 'coalesced', key: null, value: Buffer.from('c') },
      ]),
    ];
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[0] as PromiseFulfilledResult<{ offset: number }[]>).value.map((m) => m.offset)).toEqual([0]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(UnknownTopicError);
    expect((outcomes[2] as PromiseFulfilledResult<{ offset: number }[]>).value.map((m) => m.offset)).toEqual([1, 2]);
    // One group commit on the server for the whole turn.
    expect(served.log.appendStats().batches - before.batches).toBe(1);
    await expect(remote.produce([{ topic: 'coalesced', key: 'not a buffer' as unknown as Buffer, value: null }])).rejects.toBeInstanceOf(TypeError);

    const last = remote.produce([{ topic: 'coalesced', key: null, value: Buffer.from('d') }]);
    await remote.close();
    expect((await last).map((m) => m.offset)).toEqual([3]);
    expect((await served.log.read({ topic: 'coalesced', partition: 0 }, 0, 10)).map((r) => r.value!.toString())).toEqual(['a', 'b', 'c', 'd']);
  });

  it('asks for the offsets of a whole list of partitions in one message', async () => {
    await served.log.ensureTopic('listed', { partitions: 4 });
    await served.log.produce([0, 1, 1, 3].map((partition) => ({ topic: 'listed', key: null, value: Buffer.from('x'), partition })));
    const received: string[] = [];
    const counted = await served.connect(received);
    const partitions = [0, 1, 2, 3].map((partition) => ({ topic: 'listed', partition }));
    const ends = await counted.endOffsets(partitions);
    const beginnings = await counted.beginningOffsets(partitions);
    expect([...ends]).toEqual([['listed:0', 1], ['listed:1', 2], ['listed:2', 0], ['listed:3', 1]]);
    expect([...beginnings.values()]).toEqual([0, 0, 0, 0]);
    expect(received).toEqual(['hello', 'endOffsets', 'beginningOffsets']);
    await expect(counted.endOffsets([{ topic: 'listed', partition: 4 }])).rejects.toBeInstanceOf(RangeError);
    await counted.close();
  });

  it('runs rebalance callbacks on the client side and the server waits for them', async () => {
    const topic = uniqueName('remote-rebalance');
    await remote.ensureTopic(topic, { partitions: 2 });
    await remote.produce([{ topic, key: Buffer.from('k'), value: Buffer.from('v') }]);
    const events: string[] = [];
    let assignmentSeenInCallback: TopicPartition[] = [];
    const consumer = remote.createConsumer({ groupId: uniqueName('remote-rebalance-g') });
    await consumer.subscribe([topic], {
      async onAssigned(tps) {
        events.push(`assigned ${tps.length}`);
        assignmentSeenInCallback = consumer.assignment();
        // A round trip to the log and a few turns of this thread's loop: the server must wait.
        await remote.endOffset(tps[0]);
        for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
        events.push('assigned done');
      },
      async onRevoked(tps) {
        events.push(`revoked ${tps.length}`);
        await remote.listTopics();
        events.push('revoked done');
      },
    });
    const records = await pollUntil(consumer, (rs) => rs.length >= 1);
    events.push(`polled ${records.length}`);
    expect(assignmentSeenInCallback.map((tp) => tp.partition).sort()).toEqual([0, 1]);
    await consumer.close();
    events.push('closed');
    expect(events).toEqual(['assigned 2', 'assigned done', 'polled 1', 'revoked 2', 'revoked done', 'closed']);
  });

  it("rejects poll with the client's own listener error object", async () => {
    class ListenerBroke extends Error {}
    const topic = uniqueName('remote-listener-error');
    await remote.ensureTopic(topic, { partitions: 1 });
    const thrown = new ListenerBroke('onAssigned failed');
    const consumer = remote.createConsumer({ groupId: uniqueName('remote-listener-error-g') });
    await consumer.subscribe([topic], {
      async onAssigned() {
        throw thrown;
      },
      async onRevoked() {},
    });
    await expect(consumer.poll(10, 100)).rejects.toBe(thrown);
    await consumer.close();
  });

  it('commits a transaction with a remote consumer handle atomically with its records', async () => {
    const input = uniqueName('remote-eos-in');
    const output = uniqueName('remote-eos-out');
    const groupId = uniqueName('remote-eos-g');
    await remote.ensureTopic(input, { partitions: 1 });
    await remote.ensureTopic(output, { partitions: 1 });
    await remote.produce([1, 2, 3].map((i) => ({ topic: input, key: null, value: Buffer.from(`in${i}`) })));
    const consumer = remote.createConsumer({ groupId });
    await consumer.subscribe([input], noopListener);
    const inputs = await pollUntil(consumer, (rs) => rs.length >= 3);
    const producer = await remote.createTransactionalProducer(uniqueName('remote-eos-tx'));
    const outputTp = { topic: output, partition: 0 };
    const inputTp = { topic: input, partition: 0 };

    const aborted = await producer.begin();
    aborted.produce(inputs.map((r) => ({ topic: output, key: null, value: Buffer.from(`aborted-${r.value}`) })));
    aborted.sendOffsets(consumer, [{ ...inputTp, offset: 3 }]);
    await aborted.abort();
    expect(await served.log.endOffset(outputTp)).toBe(0);
    expect((await served.log.committedOffsets(groupId, [inputTp])).size).toBe(0);

    const tx = await producer.begin();
    tx.produce(inputs.map((r) => ({ topic: output, key: null, value: Buffer.from(`out-${r.value}`) })));
    tx.sendOffsets(consumer, [{ ...inputTp, offset: consumer.position(inputTp)! }]);
    // The transaction is invisible until commit, then records and offsets are there together.
    expect(await served.log.endOffset(outputTp)).toBe(0);
    const meta = await tx.commit();
    expect(meta.map((m) => m.offset)).toEqual([0, 1, 2]);
    expect((await readAll(served.log, outputTp)).map((r) => r.value!.toString())).toEqual(['out-in1', 'out-in2', 'out-in3']);
    expect((await served.log.committedOffsets(groupId, [inputTp])).get(`${input}:0`)).toBe(3);

    // A newer producer with the same id fences this one: nothing of its transaction lands.
    const stale = await producer.begin();
    stale.produce([{ topic: output, key: null, value: Buffer.from('zombie') }]);
    stale.sendOffsets(consumer, [{ ...inputTp, offset: 1 }]);
    const newer = await served.log.createTransactionalProducer(producer.transactionalId);
    await expect(stale.commit()).rejects.toBeInstanceOf(ProducerFencedError);
    expect(await served.log.endOffset(outputTp)).toBe(3);
    expect((await served.log.committedOffsets(groupId, [inputTp])).get(`${input}:0`)).toBe(3);

    // A produce error surfaces at commit and takes the offsets down with it.
    const next = await newer.begin();
    await next.abort();
    const another = await remote.createTransactionalProducer(uniqueName('remote-eos-tx2'));
    const bad = await another.begin();
    bad.produce([{ topic: uniqueName('missing'), key: null, value: null }]);
    bad.sendOffsets(consumer, [{ ...inputTp, offset: 2 }]);
    await expect(bad.commit()).rejects.toBeInstanceOf(UnknownTopicError);
    expect((await served.log.committedOffsets(groupId, [inputTp])).get(`${input}:0`)).toBe(3);

    const local = served.log.createConsumer({ groupId: uniqueName('local') });
    const mixed = await another.begin();
    expect(() => mixed.sendOffsets(local, [{ ...inputTp, offset: 1 }])).toThrow('sendOffsets needs a consumer created by the same RemoteLog');
    await mixed.abort();
    await local.close();
    await another.close();
    await producer.close();
    await newer.close();
    await consumer.close();
  });

  it("keeps a seek the server has not applied yet in position(), and a client's close frees its group", async () => {
    const topic = uniqueName('remote-seek');
    const groupId = uniqueName('remote-seek-g');
    await remote.ensureTopic(topic, { partitions: 1 });
    await remote.produce([0, 1, 2, 3].map((i) => ({ topic, key: null, value: Buffer.from(`v${i}`) })));
    const consumer = remote.createConsumer({ groupId });
    await consumer.subscribe([topic], noopListener);
    await pollUntil(consumer, (rs) => rs.length >= 4);
    const tp = { topic, partition: 0 };
    expect(consumer.position(tp)).toBe(4);
    consumer.seek(tp, 1);
    expect(consumer.position(tp)).toBe(1);
    expect(() => consumer.seek({ topic, partition: 9 }, 0)).toThrow(`seek on unassigned partition ${topic}:9`);
    const replay = await pollUntil(consumer, (rs) => rs.length >= 3);
    expect(replay.map((r) => r.offset)).toEqual([1, 2, 3]);

    // The only partition is held by this client's consumer; closing the client releases it.
    const other = await served.connect();
    const successor = other.createConsumer({ groupId });
    await successor.subscribe([topic], noopListener);
    expect(await successor.poll(10, 0)).toEqual([]);
    expect(successor.assignment()).toEqual([]);
    await remote.close();
    await expect(remote.endOffset(tp)).rejects.toThrow('remote log is closed');
    expect((await pollUntil(successor, (rs) => rs.length >= 4)).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
    expect(successor.assignment()).toEqual([tp]);
    await successor.close();
  });
});

interface WorkerReport {
  kind: string;
  assigned: TopicPartition[];
  values: string[];
  written: number;
}

/**
 * The worker's report, or a failure naming the last step it reached: when it exits without one,
 * or when `timeoutMs` pass (CI on Node 24 once waited out jest's 60 s here with nothing to say).
 */
function workerReport(worker: Worker, timeoutMs: number): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    let lastStep = 'none (not started)';
    const timer = setTimeout(() => reject(new Error(`no report from the worker within ${timeoutMs} ms; its last step: ${lastStep}`)), timeoutMs);
    worker.on('message', (message: { type: 'step'; step: string } | ({ type: 'report' } & WorkerReport)) => {
      if (message.type === 'step') lastStep = message.step;
      else {
        clearTimeout(timer);
        resolve(message);
      }
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`the worker failed after step "${lastStep}": ${error.message}`));
    });
    worker.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited (code ${code}) without a report; its last step: ${lastStep}`));
    });
  });
}

describe('RemoteLog in a worker thread, the log in this one', () => {
  it('consumes and commits exactly-once from a worker, rebalance listener running there', async () => {
    const served = await servedInThread('remote-log-client-worker');
    try {
      const input = uniqueName('worker-in');
      const output = uniqueName('worker-out');
      const groupId = uniqueName('worker-g');
      await served.log.ensureTopic(input, { partitions: 2 });
      await served.log.ensureTopic(output, { partitions: 1 });
      await served.log.produce(Array.from({ length: 10 }, (_, i) => ({ topic: input, key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) })));
      const { port1, port2 } = new MessageChannel();
      served.server.serve(port2);
      const worker = startModuleWorker(new URL('./support/remote-log-client-worker.js', import.meta.url), {
        workerData: { port: port1, input, output, groupId, expected: 10 },
        transferList: [port1],
      });
      // Each wait bounded and named within jest's 60 s: CI on Node 24 twice waited out the 60 s here
      // (08c194f, 8f3c0c1), the second time with the report's own 45 s bound not reached.
      const report = await workerReport(worker, 30_000);
      await within(once(worker, 'exit'), 10_000, 'the worker exiting after its report');
      expect(report.kind).toBe('embedded');
      expect(report.assigned.map((tp) => tp.partition).sort()).toEqual([0, 1]);
      expect(report.values.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`).sort());
      expect(report.written).toBe(10);
      const outputs = await readAll(served.log, { topic: output, partition: 0 });
      expect(outputs.map((r) => r.value!.toString()).sort()).toEqual(report.values.map((v) => `done-${v}`).sort());
      const committed = await served.log.committedOffsets(groupId, [0, 1].map((partition) => ({ topic: input, partition })));
      const ends = await Promise.all([0, 1].map((partition) => served.log.endOffset({ topic: input, partition })));
      expect([committed.get(`${input}:0`), committed.get(`${input}:1`)]).toEqual(ends);
    } finally {
      await within(served.cleanup(), 10_000, 'closing the served log');
    }
  });
});

describe('LogServer when a client goes away', () => {
  it('releases the group of a client whose port closed without close()', async () => {
    const served = await servedInThread('remote-log-client-gone');
    try {
      const topic = uniqueName('client-gone');
      const groupId = uniqueName('client-gone-g');
      await served.log.ensureTopic(topic, { partitions: 1 });
      const { port1, port2 } = new MessageChannel();
      served.server.serve(port2);
      const doomed = await RemoteLog.connect(port1);
      const held = doomed.createConsumer({ groupId });
      await held.subscribe([topic], noopListener);
      await held.poll(1, 0);
      expect(held.assignment()).toEqual([{ topic, partition: 0 }]);
      expect(served.server.clients).toBe(1);
      await served.log.produce([{ topic, key: null, value: Buffer.from('after') }]);
      const rival = served.log.createConsumer({ groupId });
      await rival.subscribe([topic], noopListener);
      expect(await rival.poll(10, 0)).toEqual([]);
      expect(rival.assignment()).toEqual([]);
      // The client's thread ends: only its port closes.
      port1.close();
      const records = await pollUntil(rival, (rs) => rs.length >= 1);
      expect(records.map((r) => r.value!.toString())).toEqual(['after']);
      expect(rival.assignment()).toEqual([{ topic, partition: 0 }]);
      expect(served.server.clients).toBe(0);
      await rival.close();
    } finally {
      await served.cleanup();
    }
  });
});

describe('RemoteLog when the log thread dies', () => {
  it('rejects pending and later calls with LogServerGoneError instead of hanging', async () => {
    const dir = tempDir('remote-log-gone');
    const thread = await EmbeddedLogThread.start({ dir, cleanupIntervalMs: 0, memory: { blockCacheBytes: 8 << 20, memtableBudgetBytes: 16 << 20 } });
    const registry = new Registry();
    const log: Log = await thread.connect({ registry });
    try {
      const topic = uniqueName('remote-gone');
      await log.ensureTopic(topic, { partitions: 1 });
      const consumer = log.createConsumer({ groupId: uniqueName('remote-gone-g') });
      await consumer.subscribe([topic], noopListener);
      expect(await consumer.poll(10, 50)).toEqual([]);
      // Settled into a value at once: the rejection must not count as unhandled while terminate() runs.
      const waiting = consumer.poll(10, 60_000).then(
        () => 'answered',
        (error: unknown) => error,
      );
      await thread.worker.terminate();
      const pollError = await waiting;
      expect(pollError).toBeInstanceOf(LogServerGoneError);
      expect((pollError as Error).message).toMatch(/consumerPoll failed: the log server is gone \(/);
      await expect(log.produce([{ topic, key: null, value: Buffer.from('late') }])).rejects.toBeInstanceOf(LogServerGoneError);
      await expect(log.endOffset({ topic, partition: 0 })).rejects.toThrow('the log server is gone');
      await expect(log.createTransactionalProducer('late')).rejects.toBeInstanceOf(LogServerGoneError);
      expect(() => log.createConsumer({ groupId: 'late' })).toThrow(LogServerGoneError);
      expect(await log.isHealthy()).toBe(false);
      expect((await registry.getSingleMetricAsString('streamline_log_remote_server_gone_total')).split('\n')).toContain(
        'streamline_log_remote_server_gone_total{reason="port_closed"} 1',
      );
      await consumer.close();
      await log.close();
    } finally {
      removeDir(dir);
    }
  });
});

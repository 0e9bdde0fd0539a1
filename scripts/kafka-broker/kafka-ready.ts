/**
 * Waits until a Kafka broker answers a metadata request that lists at least one broker.
 * Used by kafka-broker.sh beside it: readiness is asked of the broker, never guessed by sleeping.
 *
 *   node --import tsx scripts/kafka-broker/kafka-ready.ts <host:port> [timeoutSeconds=60] [pid]
 *
 * With a pid, gives up as soon as that process has exited (the broker failed to start).
 * Exits 0 when ready, 1 otherwise.
 */
import { Admin } from '@platformatic/kafka';

const [address = '127.0.0.1:9092', timeoutArg = '60', pidArg] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg) * 1000;
const pid = pidArg ? Number(pidArg) : undefined;

function alive(processId: number): boolean {
  try {
    process.kill(processId, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(): Promise<boolean> {
  const admin = new Admin({
    clientId: 'kafka-ready',
    bootstrapBrokers: [address],
    connectTimeout: 1000,
    timeout: 2000,
    retries: 0,
  });
  try {
    const metadata = await admin.metadata({ topics: [] });
    return metadata.brokers.size > 0;
  } catch {
    return false;
  } finally {
    await admin.close().catch(() => undefined);
  }
}

async function main(): Promise<number> {
  for (;;) {
    if (await answers()) return 0;
    if (pid !== undefined && !alive(pid)) {
      console.error(`kafka-ready: broker process ${pid} exited before answering`);
      return 1;
    }
    if (Date.now() > deadline) {
      console.error(`kafka-ready: no answer from ${address} within ${timeoutArg}s`);
      return 1;
    }
    // Between attempts: a refused connection returns at once, so pace the retries.
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

process.exitCode = await main();

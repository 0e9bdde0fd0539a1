export default async function globalTeardown(): Promise<void> {
  const redisPid = process.env.TEST_REDIS_STARTED_PID;
  if (redisPid) {
    try {
      process.kill(Number(redisPid), 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

import { ensureRedis } from './redis-server.js';

/**
 * Starts what the suites need once per run and hands its address to them through env vars
 * (jest copies process.env into every worker).
 */
export default async function globalSetup(): Promise<void> {
  const redis = await ensureRedis();
  process.env.TEST_REDIS_URL = redis.url;
  if (redis.startedPid) process.env.TEST_REDIS_STARTED_PID = String(redis.startedPid);
}

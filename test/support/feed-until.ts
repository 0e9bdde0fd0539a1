/**
 * Sends input (feed) until done settles or timeoutMs has passed, pausing up to pauseMs between
 * sends (less when done settles first). For waits on a member's commit: a member commits only what
 * it processed, and when the rebalance giving it partitions ends after another member processed
 * everything sent so far, it has nothing to commit until more comes.
 * Resolves whether done settled in time; done's value or error stays the caller's to await.
 */
export async function feedUntil(done: Promise<unknown>, feed: () => Promise<unknown>, options: { pauseMs: number; timeoutMs: number }): Promise<boolean> {
  let settled = false;
  const settledOrFailed = done.then(
    () => (settled = true),
    () => (settled = true),
  );
  const deadline = Date.now() + options.timeoutMs;
  while (!settled && Date.now() < deadline) {
    await feed();
    await Promise.race([settledOrFailed, new Promise((resolve) => setTimeout(resolve, options.pauseMs))]);
  }
  return settled;
}

import { MemoryPressure } from '../../app/MemoryPressure.js';
import { DEFAULT_MEMORY_LIMIT_MB, readMemoryPlan } from '../../config/index.js';

const MB = 1024 * 1024;

/** The budget holds by default (issue 21 item 1): enforced unless MEMORY_LIMIT_MB=0, and /ready says why it refuses. */
describe('the default memory budget', () => {
  test('MEMORY_LIMIT_MB unset or set is enforced; 0 turns the check off and keeps the default sizes', () => {
    expect(readMemoryPlan({})).toMatchObject({ enforced: true, limitBytes: DEFAULT_MEMORY_LIMIT_MB * MB });
    expect(readMemoryPlan({ MEMORY_LIMIT_MB: '1024' })).toMatchObject({ enforced: true, limitBytes: 1024 * MB });
    const off = readMemoryPlan({ MEMORY_LIMIT_MB: '0' });
    expect(off.enforced).toBe(false);
    expect(off.stores).toEqual(readMemoryPlan({}).stores);
  });

  test('/ready is not ready over the budget and names RSS, the line and where intake resumes', async () => {
    let rss = 100 * MB;
    const pressure = new MemoryPressure({ refuseAboveBytes: 461 * MB, resumeBelowBytes: 435 * MB, limitBytes: 512 * MB, readRss: () => rss });
    const ready = pressure.readinessCheck();
    expect(await ready.check()).toBe(true);
    expect(ready.waitingFor?.()).toBeUndefined();

    rss = 500 * MB;
    pressure.sample();
    expect(await ready.check()).toBe(false);
    expect(ready.waitingFor?.()).toBe('memory under the budget: RSS 500 MB is over 461 MB (90% of MEMORY_LIMIT_MB); intake answers 503 until it is under 435 MB');

    rss = 450 * MB;
    pressure.sample();
    expect(await ready.check()).toBe(false);
    rss = 430 * MB;
    pressure.sample();
    expect(await ready.check()).toBe(true);
  });
});

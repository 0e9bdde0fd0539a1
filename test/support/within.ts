/**
 * The promise, or a rejection naming the step when it takes longer than ms: a stuck step says
 * which it is, before jest's own timeout says only that the test ran out of time. `step` may be a
 * function, read when the time is up (to include what was seen by then).
 */
export function within<T>(promise: Promise<T>, ms: number, step: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${typeof step === 'string' ? step : step()}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, stuck]).finally(() => clearTimeout(timer));
}

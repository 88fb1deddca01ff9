/** A wait that a cancel cuts short: WAITFOR DELAY, injected latency, a job step waiting on a slow instance. */

/** Waits `ms`, or less when `signal` aborts (a client's ATTENTION, a job being stopped). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

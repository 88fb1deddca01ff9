/**
 * How a foreground command (`sim start`, `console`) runs until it is told to stop: the first Ctrl+C (SIGINT) or
 * service manager's stop (SIGTERM) resolves, and the command then closes what it opened.
 */
export function untilStopped(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

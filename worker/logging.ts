/**
 * The worker's logs: one JSON object per line on stdout (pino), for whatever collects container output. The
 * Temporal Runtime's logger (SDK, Core, workflow and activity context loggers) writes into the same stream.
 */
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevelName } from './settings';

export type WorkerLogger = Logger;

export function createWorkerLogger(level: LogLevelName, destination?: DestinationStream): WorkerLogger {
  return pino(
    {
      name: 'pchat-dr-worker',
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" reads better in a log viewer than pino's numbers.
      formatters: { level: (label) => ({ level: label }) },
      // Temporal puts errors under `error`, pino's convention is `err`: serialize both with message and stack.
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      // Secrets are passed as references and never logged; this is the net under that rule.
      redact: {
        paths: ['apiKey', 'password', '*.apiKey', '*.password', 'connectionOptions.apiKey'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A Temporal logger (for Runtime.install) that writes through pino, keeping Temporal's metadata as fields. */
export function temporalLoggerFor(logger: WorkerLogger, level: LogLevelName): DefaultLogger {
  const temporalLevel = level.toUpperCase() as Uppercase<LogLevelName>;
  return new DefaultLogger(temporalLevel, (entry: LogEntry) => {
    const method = entry.level.toLowerCase() as LogLevelName;
    logger[method]({ ...entry.meta }, entry.message);
  });
}

/**
 * How a pchat-dr process ends: the exit codes scripts rely on (documented in README.md and docs/cli.md), and the
 * error that carries one with a message telling the operator what to fix. The CLI and the worker share them.
 */
export const EXIT = {
  ok: 0,
  /** The run failed or was aborted. */
  failed: 1,
  /** Bad input: usage, flags, topology file. */
  badInput: 2,
  /** Rejected (an approval that did not count) or a precondition failed. */
  refused: 3,
  timedOut: 4,
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error meant for the operator: the message says what to fix; the exit code says what kind of failure it is. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.badInput,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

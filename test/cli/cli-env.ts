/**
 * The built CLI against the suite's dev server (this file's namespace) and a harness's task queue, as an operator
 * would run it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli';
import type { RunbookHarness } from '../helpers/runbooks';
import { temporalAddress, testNamespace } from '../helpers/temporal';

export function cliEnv(harness?: RunbookHarness): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: testNamespace(),
    PCHAT_DR_TASK_QUEUE: harness?.taskQueue ?? 'pchat-dr-cli-test-unused',
  };
}

export function cli(harness: RunbookHarness | undefined, args: string[]): Promise<CliResult> {
  return runCli(args, { env: cliEnv(harness) });
}

/** An error is one clear line on stderr, with nothing on stdout. */
export function expectOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(code);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

/** The password of the simulated estate: it must never appear in anything the CLI prints. */
export function simulatedSecret(harness: RunbookHarness): string {
  return readFileSync(path.join(harness.env.dir, 'simulated.secret'), 'utf8').trim();
}

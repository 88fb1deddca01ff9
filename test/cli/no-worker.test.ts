/**
 * An approval needs a worker to answer it: with none running, `approve` does not hang but says what to check,
 * exit 4 (timed out), one line.
 */
import { afterEach, describe, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { gateOpen, runbookHarness, type RunbookHarness } from '../helpers/runbooks';
import { cliEnv, expectOneLineError } from './cli-env';

let harness: RunbookHarness;
afterEach(async () => harness?.close());

describe('answering a run with no worker up', () => {
  it('gives up after the answer timeout with exit 4 and says to check the worker', async () => {
    harness = await runbookHarness({ label: 'cli-no-worker' });
    const handle = await harness.withWorker(async () => {
      const started = await harness.start('mirror-failover', { to: 'mirror' });
      await gateOpen(started, 'approve-mirror-failover');
      return started;
    });
    // The worker is gone: nobody can answer the update.
    const result = await runCli(['approve', handle.workflowId, '--gate', 'approve-mirror-failover', '--as', 'bob'], {
      env: { ...cliEnv(harness), PCHAT_DR_ANSWER_TIMEOUT_MS: '2000' },
    });
    expectOneLineError(
      result,
      4,
      new RegExp(
        `^no worker answered within 2 s: is a pchat-dr worker running for this task queue\\? .*pchat-dr status ${handle.workflowId}$`,
      ),
    );
  });
});

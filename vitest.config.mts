import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The suite's slowest files (measured: README, "The test suite's time"), started first: with files in parallel, a
 * slow file started last would be the run's tail. A clean checkout has no durations of a last run for vitest to sort
 * by, so this list says it; the other files keep vitest's order (the last run's durations, else file size).
 */
const SLOWEST_FIRST = [
  'test/workflows/crash.test.ts',
  'test/campaign/campaign.test.ts',
  'test/demo/demo.test.ts',
  'test/cli/runbooks.test.ts',
  'test/workflows/drill.test.ts',
  'test/workflows/failover.test.ts',
  'test/workflows/history-size.test.ts',
  'test/cli/drill-schedule.test.ts',
  'test/workflows/way-back.test.ts',
  'test/install/packed.test.ts',
  'test/cli/drill-trigger.test.ts',
  'test/cli/watch.test.ts',
  'test/unit/determinism-lint.test.ts',
  'test/console/approve.test.ts',
];

class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = SLOWEST_FIRST.findIndex((slow) => file.moduleId.endsWith(slow));
      return index < 0 ? SLOWEST_FIRST.length : index;
    };
    // A stable sort: the other files keep vitest's order.
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    environment: 'node',
    // The sources' tests only: dist/test/ holds their compiled copies.
    include: ['test/**/*.test.ts'],
    // Temporal workers use a native runtime: one forked process per test file, never worker threads.
    pool: 'forks',
    // Files run in parallel: most of their time is waiting (timers, Agent job schedules, worker start-up), not CPU,
    // so on 2 cores four at once keep the machine busy without starving any. Each worker has a Temporal namespace
    // of its own on the one dev server (test/helpers/test-namespace.ts); estates are on free ports in folders of
    // their own.
    fileParallelism: true,
    maxWorkers: 4,
    sequence: { sequencer: SlowestFirst },
    // Starts the real Temporal dev server (with a namespace per worker) and bundles the real workflows once per run.
    globalSetup: ['test/helpers/global-setup.ts'],
    // Four files share two cores: a test that runs a dozen CLI processes (each about a second of CPU) takes longer
    // than it did alone, so the default allowance is two minutes, not one. Tests that set their own keep it.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});

import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The suite's slowest files (measured: README, "The test suite's time"), started first: with files in parallel, a
 * slow file started last would be the run's tail. A clean checkout has no durations of a last run for vitest to sort
 * by, so this list says it; the other files keep vitest's order (the last run's durations, else file size).
 */
const SLOWEST_FIRST = [
  'test/campaign/campaign.test.ts',
  'test/workflows/crash.test.ts',
  'test/demo/demo.test.ts',
  'test/cli/runbooks.test.ts',
  'test/workflows/drill.test.ts',
  'test/workflows/failover.test.ts',
  'test/workflows/history-size.test.ts',
  'test/cli/drill-schedule.test.ts',
  'test/console/approve.test.ts',
];

/**
 * Files that write into the checkout while they run: the packed test's `npm pack` rebuilds dist/ (which every other
 * file runs the CLI, the worker and the workflow bundle from), and the determinism lint test writes probe files into
 * the source folders (which that build would compile). They run first, one after the other, before the rest (group 1
 * before group 2: vitest would put a one-at-a-time project left in group 0 last).
 */
const WRITE_THE_CHECKOUT = ['test/install/packed.test.ts', 'test/unit/determinism-lint.test.ts'];

class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = SLOWEST_FIRST.findIndex((slow) => file.moduleId.endsWith(slow));
      return index < 0 ? SLOWEST_FIRST.length : index;
    };
    const group = (file: TestSpecification) => file.project.config.sequence.groupOrder;
    // A stable sort within each group of projects: the other files keep vitest's order.
    return (await super.sort(files)).sort((a, b) => group(a) - group(b) || rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    environment: 'node',
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
    projects: [
      {
        extends: true,
        test: { name: 'checkout', include: WRITE_THE_CHECKOUT, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...WRITE_THE_CHECKOUT],
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});

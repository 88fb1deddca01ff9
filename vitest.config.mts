import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Temporal workers use a native runtime: one forked process per test file, never worker threads.
    pool: 'forks',
    // Every file shares one dev server (and simulated estates on 2 cores): run files one after another so a busy
    // machine does not turn into timeouts.
    fileParallelism: false,
    // Starts the real Temporal dev server and bundles the real workflows once per run.
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});

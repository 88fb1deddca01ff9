/**
 * The Temporal namespace of a vitest worker (VITEST_POOL_ID, 1 to maxWorkers): global-setup creates one per worker,
 * and every client, worker and CLI a test starts on the run's dev server uses its worker's.
 */
export function testNamespaceOf(poolId: number): string {
  return `pchat-dr-test-${poolId}`;
}

/** This test file's namespace on the run's dev server. */
export function testNamespace(): string {
  return testNamespaceOf(Number(process.env.VITEST_POOL_ID ?? 1));
}

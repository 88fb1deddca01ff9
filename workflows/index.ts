/**
 * Every workflow the pchat-dr worker serves: the worker (and the test harness) bundles this file.
 * Runbooks are added here as they are built (one file per runbook).
 */
export {};

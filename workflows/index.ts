/**
 * Every workflow the pchat-dr worker serves: the worker (and the test harness) bundles this file. One file per
 * runbook; the pool lock is the child workflow that keeps incident runbooks one at a time per pool.
 */
export { mirrorFailover } from './mirror-failover';
export { setupLogShipping } from './setup-log-shipping';
export { setupMirrorLogShipping } from './setup-mirror-log-shipping';
export { failover } from './failover';
export { failback } from './failback';
export { poolLock } from './pool-lock';
export { drill } from './drill';

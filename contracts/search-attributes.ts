/**
 * Custom search attributes of every pchat-dr run: `pchat-dr list` and the Temporal UI filter runs with them.
 * They must be registered on the server (dev server: --search-attribute; a cluster: `temporal operator
 * search-attribute create`, see docs/operations.md) before a run starts.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The Persistent Chat pool FQDN the run acts on. */
export const POOL = defineSearchAttributeKey('PchatPool', SearchAttributeType.KEYWORD);
/** The runbook name: mirror-failover, setup-log-shipping, failover, failback, drill ... */
export const RUNBOOK = defineSearchAttributeKey('PchatRunbook', SearchAttributeType.KEYWORD);
/** The phase the run is in (preflight, awaiting-approval, applying-logs, done ...). */
export const PHASE = defineSearchAttributeKey('PchatPhase', SearchAttributeType.KEYWORD);
/** The gate the run waits on, or empty. */
export const AWAITING_GATE = defineSearchAttributeKey('PchatAwaitingGate', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [POOL, RUNBOOK, PHASE, AWAITING_GATE];

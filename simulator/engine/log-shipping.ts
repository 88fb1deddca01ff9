/**
 * Log shipping as SQL Server documents it: the master procedures that configure and remove it (they fill the msdb
 * log-shipping tables and create the Agent jobs), by side: log-shipping-primary.ts, log-shipping-secondary.ts, and
 * the monitor (log-shipping-monitor.ts). What the jobs run is in log-shipping-jobs.ts.
 */
import { MONITOR_PROCEDURES } from './log-shipping-monitor';
import { PRIMARY_PROCEDURES } from './log-shipping-primary';
import { SECONDARY_PROCEDURES } from './log-shipping-secondary';
import type { ProcedureDefinition } from './procedures';

export const LOG_SHIPPING_PROCEDURES: ProcedureDefinition[] = [
  ...PRIMARY_PROCEDURES,
  ...SECONDARY_PROCEDURES,
  ...MONITOR_PROCEDURES,
];

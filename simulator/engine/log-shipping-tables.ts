/**
 * The msdb log-shipping tables as the log-shipping procedures and jobs share them: the sqllogship.exe command the
 * jobs run, the agent types, finding a primary's row, removing a primary's or a secondary's configuration with its
 * Agent jobs, and the parameters the add procedures have in common.
 */
import type { SqlInstance } from './instance';
import { sameText, type Row } from './msdb';
import { BIT, NVARCHAR_128 } from './values';

export const SQLLOGSHIP = '"C:\\Program Files\\Microsoft SQL Server\\160\\Tools\\Binn\\sqllogship.exe"';
/** 14420 minutes: the documented default for retention and alert thresholds. */
export const DEFAULT_MINUTES = 14420;

export type AgentType = 0 | 1 | 2;
export const AGENT_TYPE = { backup: 0, copy: 1, restore: 2 } as const;

export function primaryRow(instance: SqlInstance, database: string): Row | undefined {
  return instance.msdb.find('log_shipping_primary_databases', (row) => sameText(row.primary_database, database));
}

export function removePrimary(instance: SqlInstance, primary: Row): void {
  if (primary.backup_job_id) instance.agent.deleteJob(String(primary.backup_job_id));
  const id = primary.primary_id;
  instance.msdb.delete('log_shipping_monitor_primary', (row) => row.primary_id === id);
  instance.msdb.delete('log_shipping_monitor_history_detail', (row) => row.agent_id === id);
  instance.msdb.delete('log_shipping_monitor_error_detail', (row) => row.agent_id === id);
  instance.msdb.delete('log_shipping_primary_secondaries', (row) => row.primary_id === id);
  instance.msdb.delete('log_shipping_primary_databases', (row) => row.primary_id === id);
  instance.changed();
}

export function removeSecondaryPrimary(instance: SqlInstance, secondary: Row): void {
  for (const job of [secondary.copy_job_id, secondary.restore_job_id]) if (job) instance.agent.deleteJob(String(job));
  const id = secondary.secondary_id;
  instance.msdb.delete('log_shipping_monitor_history_detail', (row) => row.agent_id === id);
  instance.msdb.delete('log_shipping_monitor_error_detail', (row) => row.agent_id === id);
  instance.msdb.delete('log_shipping_secondary', (row) => row.secondary_id === id);
  instance.changed();
}

/** @overwrite: an add procedure replaces the configuration it finds instead of failing. */
export const overwrite = { name: '@overwrite', type: BIT, default: 0 };
/** The monitor server parameters: each simulated instance is its own monitor, so they are accepted and ignored. */
export const ignoredMonitor = [
  { name: '@monitor_server', type: NVARCHAR_128 },
  { name: '@monitor_server_security_mode', type: BIT, default: 1 },
  { name: '@monitor_server_login', type: NVARCHAR_128 },
  { name: '@monitor_server_password', type: NVARCHAR_128 },
];

/**
 * The log-shipping monitor: sp_help_log_shipping_monitor's status of every primary and secondary from the monitor
 * tables, and the monitor-server procedures the simulated estate accepts and ignores.
 */
import type { ProcedureDefinition } from './procedures';
import { BIT, GUID, INT, nvarchar, NVARCHAR_128 } from './values';

export const MONITOR_PROCEDURES: ProcedureDefinition[] = [
  {
    name: 'sp_help_log_shipping_monitor',
    home: 'master',
    parameters: [],
    run(call) {
      const instance = call.execution.instance;
      const now = Date.now();
      const minutesSince = (date: unknown) =>
        date instanceof Date ? Math.floor((now - date.getTime()) / 60_000) : null;
      const columns = [
        ['status', BIT],
        ['is_primary', BIT],
        ['server', NVARCHAR_128],
        ['database_name', NVARCHAR_128],
        ['time_since_last_backup', INT],
        ['last_backup_file', nvarchar(500)],
        ['backup_threshold', INT],
        ['is_backup_alert_enabled', BIT],
        ['time_since_last_copy', INT],
        ['last_copied_file', nvarchar(500)],
        ['time_since_last_restore', INT],
        ['last_restored_file', nvarchar(500)],
        ['last_restored_latency', INT],
        ['restore_threshold', INT],
        ['is_restore_alert_enabled', BIT],
      ].map(([name, type]) => ({ name: name as string, type: type as typeof INT }));
      const rows = [
        ...instance.msdb.rows('log_shipping_monitor_primary').map((row) => {
          const since = minutesSince(row.last_backup_date);
          const unhealthy = since === null || since > Number(row.backup_threshold);
          return [
            unhealthy,
            true,
            row.primary_server,
            row.primary_database,
            since,
            row.last_backup_file,
            row.backup_threshold,
            row.threshold_alert_enabled,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
          ];
        }),
        ...instance.msdb.rows('log_shipping_monitor_secondary').map((row) => {
          const sinceRestore = minutesSince(row.last_restored_date);
          const unhealthy = sinceRestore === null || sinceRestore > Number(row.restore_threshold);
          return [
            unhealthy,
            false,
            row.secondary_server,
            row.secondary_database,
            null,
            null,
            null,
            null,
            minutesSince(row.last_copied_date),
            row.last_copied_file,
            sinceRestore,
            row.last_restored_file,
            row.last_restored_latency,
            row.restore_threshold,
            row.threshold_alert_enabled,
          ];
        }),
      ];
      call.execution.out.resultSet(columns, rows);
    },
  },
  ...['sp_add_log_shipping_alert_job', 'sp_refresh_log_shipping_monitor', 'sp_cleanup_log_shipping_history'].map(
    (name): ProcedureDefinition => ({
      // The simulated estate has no separate monitor server: each instance is its own monitor.
      name,
      home: 'master',
      parameters: [
        { name: '@alert_job_id', type: GUID, output: true },
        { name: '@agent_id', type: GUID },
        { name: '@agent_type', type: { kind: 'tinyint' } },
        { name: '@database', type: NVARCHAR_128 },
        { name: '@mode', type: { kind: 'tinyint' } },
      ],
      run: () => 0,
    }),
  ),
];

/**
 * The secondary side of log shipping, as SQL Server's master procedures configure it: add, change and remove a
 * secondary's primary (with its copy and restore jobs) and the secondary databases restored from it.
 */
import { randomUUID } from 'node:crypto';
import { errors } from './errors';
import {
  AGENT_TYPE,
  DEFAULT_MINUTES,
  ignoredMonitor,
  overwrite,
  removeSecondaryPrimary,
  SQLLOGSHIP,
} from './log-shipping-tables';
import { sameText, type Row } from './msdb';
import type { ProcedureDefinition } from './procedures';
import { BIT, GUID, INT, nvarchar, NVARCHAR_128 } from './values';

export const SECONDARY_PROCEDURES: ProcedureDefinition[] = [
  {
    name: 'sp_add_log_shipping_secondary_primary',
    home: 'master',
    parameters: [
      { name: '@primary_server', type: NVARCHAR_128, required: true },
      { name: '@primary_database', type: NVARCHAR_128, required: true },
      { name: '@backup_source_directory', type: nvarchar(500), required: true },
      { name: '@backup_destination_directory', type: nvarchar(500), required: true },
      { name: '@copy_job_name', type: NVARCHAR_128, required: true },
      { name: '@restore_job_name', type: NVARCHAR_128, required: true },
      { name: '@file_retention_period', type: INT, default: DEFAULT_MINUTES },
      ...ignoredMonitor,
      { name: '@copy_job_id', type: GUID, output: true },
      { name: '@restore_job_id', type: GUID, output: true },
      { name: '@secondary_id', type: GUID, output: true },
      overwrite,
    ],
    run(call) {
      const instance = call.execution.instance;
      const server = call.requiredText('@primary_server');
      const database = call.requiredText('@primary_database');
      const existing = instance.msdb.find(
        'log_shipping_secondary',
        (row) => sameText(row.primary_server, server) && sameText(row.primary_database, database),
      );
      if (existing) {
        if (!call.flag('@overwrite')) throw errors.lsSecondaryPrimaryExists(server, database);
        removeSecondaryPrimary(instance, existing);
      }
      const secondaryId = randomUUID().toUpperCase();
      const copyJobId = instance.agent.createJob({
        name: call.requiredText('@copy_job_name'),
        description: `Log shipping copy job for ${server}:${database}.`,
        stepName: 'Log shipping copy job step.',
        command: `${SQLLOGSHIP} -Copy ${secondaryId} -server ${instance.serverName}`,
      });
      const restoreJobId = instance.agent.createJob({
        name: call.requiredText('@restore_job_name'),
        description: `Log shipping restore log job for ${server}:${database}.`,
        stepName: 'Log shipping restore log job step.',
        command: `${SQLLOGSHIP} -Restore ${secondaryId} -server ${instance.serverName}`,
      });
      instance.msdb.insert('log_shipping_secondary', {
        secondary_id: secondaryId,
        primary_server: server,
        primary_database: database,
        backup_source_directory: call.requiredText('@backup_source_directory'),
        backup_destination_directory: call.requiredText('@backup_destination_directory'),
        file_retention_period: call.number('@file_retention_period'),
        copy_job_id: copyJobId,
        restore_job_id: restoreJobId,
        monitor_server: instance.serverName,
        monitor_server_security_mode: 1,
        user_specified_monitor: call.given('@monitor_server'),
      });
      call.setOutput('@copy_job_id', copyJobId);
      call.setOutput('@restore_job_id', restoreJobId);
      call.setOutput('@secondary_id', secondaryId);
      instance.changed();
    },
  },
  {
    name: 'sp_add_log_shipping_secondary_database',
    home: 'master',
    parameters: [
      { name: '@secondary_database', type: NVARCHAR_128, required: true },
      { name: '@primary_server', type: NVARCHAR_128, required: true },
      { name: '@primary_database', type: NVARCHAR_128, required: true },
      { name: '@restore_delay', type: INT, default: 0 },
      { name: '@restore_all', type: BIT, default: 1 },
      { name: '@restore_mode', type: BIT, default: 0 },
      { name: '@disconnect_users', type: BIT, default: 0 },
      { name: '@block_size', type: INT, default: -1 },
      { name: '@buffer_count', type: INT, default: -1 },
      { name: '@max_transfer_size', type: INT },
      { name: '@restore_threshold', type: INT, default: 45 },
      { name: '@threshold_alert', type: INT, default: DEFAULT_MINUTES },
      { name: '@threshold_alert_enabled', type: BIT, default: 1 },
      { name: '@history_retention_period', type: INT, default: DEFAULT_MINUTES },
      overwrite,
    ],
    run(call) {
      const instance = call.execution.instance;
      const secondaryDatabase = call.requiredText('@secondary_database');
      const server = call.requiredText('@primary_server');
      const database = call.requiredText('@primary_database');
      const secondary = instance.msdb.find(
        'log_shipping_secondary',
        (row) => sameText(row.primary_server, server) && sameText(row.primary_database, database),
      );
      if (!secondary) throw errors.lsPrimaryNotRegistered(server, database);
      const existing = (row: Row) => sameText(row.secondary_database, secondaryDatabase);
      if (instance.msdb.find('log_shipping_secondary_databases', existing)) {
        if (!call.flag('@overwrite')) throw errors.lsSecondaryExists(secondaryDatabase);
        instance.msdb.delete('log_shipping_secondary_databases', existing);
        instance.msdb.delete('log_shipping_monitor_secondary', existing);
      }
      instance.msdb.insert('log_shipping_secondary_databases', {
        secondary_database: secondaryDatabase,
        secondary_id: secondary.secondary_id,
        restore_delay: call.number('@restore_delay'),
        restore_all: call.flag('@restore_all'),
        restore_mode: call.flag('@restore_mode'),
        disconnect_users: call.flag('@disconnect_users'),
        block_size: call.number('@block_size'),
        buffer_count: call.number('@buffer_count'),
        max_transfer_size: call.number('@max_transfer_size'),
      });
      instance.msdb.insert('log_shipping_monitor_secondary', {
        secondary_server: instance.serverName,
        secondary_database: secondaryDatabase,
        secondary_id: secondary.secondary_id,
        primary_server: server,
        primary_database: database,
        restore_threshold: call.number('@restore_threshold'),
        threshold_alert: call.number('@threshold_alert'),
        threshold_alert_enabled: call.flag('@threshold_alert_enabled'),
        history_retention_period: call.number('@history_retention_period'),
      });
      instance.changed();
    },
  },
  {
    name: 'sp_change_log_shipping_secondary_database',
    home: 'master',
    parameters: [
      { name: '@secondary_database', type: NVARCHAR_128, required: true },
      { name: '@restore_delay', type: INT },
      { name: '@restore_all', type: BIT },
      { name: '@restore_mode', type: BIT },
      { name: '@disconnect_users', type: BIT },
      { name: '@block_size', type: INT },
      { name: '@buffer_count', type: INT },
      { name: '@max_transfer_size', type: INT },
      { name: '@restore_threshold', type: INT },
      { name: '@threshold_alert', type: INT },
      { name: '@threshold_alert_enabled', type: BIT },
      { name: '@history_retention_period', type: INT },
    ],
    run(call) {
      const instance = call.execution.instance;
      const name = call.requiredText('@secondary_database');
      const entry = instance.msdb.find('log_shipping_secondary_databases', (row) =>
        sameText(row.secondary_database, name),
      );
      if (!entry) throw errors.lsNotSecondary(name);
      const monitor = instance.msdb.find('log_shipping_monitor_secondary', (row) =>
        sameText(row.secondary_database, name),
      );
      for (const field of [
        'restore_delay',
        'restore_all',
        'restore_mode',
        'disconnect_users',
        'block_size',
        'buffer_count',
        'max_transfer_size',
      ]) {
        if (call.given(`@${field}`)) entry[field] = call.value(`@${field}`);
      }
      for (const field of [
        'restore_threshold',
        'threshold_alert',
        'threshold_alert_enabled',
        'history_retention_period',
      ]) {
        if (call.given(`@${field}`) && monitor) monitor[field] = call.value(`@${field}`);
      }
      instance.changed();
    },
  },
  {
    name: 'sp_delete_log_shipping_secondary_database',
    home: 'master',
    parameters: [{ name: '@secondary_database', type: NVARCHAR_128, required: true }],
    run(call) {
      const instance = call.execution.instance;
      const name = call.requiredText('@secondary_database');
      const entry = instance.msdb.find('log_shipping_secondary_databases', (row) =>
        sameText(row.secondary_database, name),
      );
      if (!entry) throw errors.lsNotSecondary(name);
      instance.msdb.delete('log_shipping_secondary_databases', (row) => row === entry);
      instance.msdb.delete('log_shipping_monitor_secondary', (row) => sameText(row.secondary_database, name));
      instance.msdb.delete(
        'log_shipping_monitor_history_detail',
        (row) => sameText(row.database_name, name) && row.agent_type === AGENT_TYPE.restore,
      );
      // The last secondary database of this primary takes the copy and restore jobs with it.
      if (!instance.msdb.find('log_shipping_secondary_databases', (row) => row.secondary_id === entry.secondary_id)) {
        const secondary = instance.msdb.find(
          'log_shipping_secondary',
          (row) => row.secondary_id === entry.secondary_id,
        );
        if (secondary) removeSecondaryPrimary(instance, secondary);
      }
      instance.changed();
    },
  },
  {
    name: 'sp_delete_log_shipping_secondary_primary',
    home: 'master',
    parameters: [
      { name: '@primary_server', type: NVARCHAR_128, required: true },
      { name: '@primary_database', type: NVARCHAR_128, required: true },
    ],
    run(call) {
      const instance = call.execution.instance;
      const server = call.requiredText('@primary_server');
      const database = call.requiredText('@primary_database');
      const secondary = instance.msdb.find(
        'log_shipping_secondary',
        (row) => sameText(row.primary_server, server) && sameText(row.primary_database, database),
      );
      if (!secondary) return;
      if (instance.msdb.find('log_shipping_secondary_databases', (row) => row.secondary_id === secondary.secondary_id))
        throw errors.lsSecondaryPrimaryInUse(server, database);
      removeSecondaryPrimary(instance, secondary);
    },
  },
];

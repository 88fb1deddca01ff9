/**
 * The primary side of log shipping, as SQL Server's master procedures configure it: add, change and remove a primary
 * database (with its backup job) and the secondaries it ships to.
 */
import { randomUUID } from 'node:crypto';
import { errors } from './errors';
import {
  DEFAULT_MINUTES,
  ignoredMonitor,
  overwrite,
  primaryRow,
  removePrimary,
  SQLLOGSHIP,
} from './log-shipping-tables';
import { sameText, type Row } from './msdb';
import type { ProcedureDefinition } from './procedures';
import { BIT, GUID, INT, nvarchar, NVARCHAR_128 } from './values';

export const PRIMARY_PROCEDURES: ProcedureDefinition[] = [
  {
    name: 'sp_add_log_shipping_primary_database',
    home: 'master',
    parameters: [
      { name: '@database', type: NVARCHAR_128, required: true },
      { name: '@backup_directory', type: nvarchar(500), required: true },
      { name: '@backup_share', type: nvarchar(500), required: true },
      { name: '@backup_job_name', type: NVARCHAR_128, required: true },
      { name: '@backup_retention_period', type: INT, default: DEFAULT_MINUTES },
      ...ignoredMonitor,
      { name: '@backup_threshold', type: INT, default: 60 },
      { name: '@threshold_alert', type: INT, default: DEFAULT_MINUTES },
      { name: '@threshold_alert_enabled', type: BIT, default: 0 },
      { name: '@history_retention_period', type: INT, default: DEFAULT_MINUTES },
      { name: '@backup_job_id', type: GUID, output: true },
      { name: '@primary_id', type: GUID, output: true },
      { name: '@backup_compression', type: { kind: 'tinyint' }, default: 2 },
      overwrite,
    ],
    run(call) {
      const instance = call.execution.instance;
      const name = call.requiredText('@database');
      const database = instance.requireDatabase(name);
      if (database.recoveryModel === 'SIMPLE') throw errors.lsSimpleRecovery(database.name);
      const existing = primaryRow(instance, database.name);
      if (existing) {
        if (!call.flag('@overwrite')) throw errors.lsPrimaryExists(database.name);
        removePrimary(instance, existing);
      }
      const primaryId = randomUUID().toUpperCase();
      const jobId = instance.agent.createJob({
        name: call.requiredText('@backup_job_name'),
        description: `Log shipping backup log job for ${instance.serverName}.${database.name}.`,
        stepName: 'Log shipping backup log job step.',
        command: `${SQLLOGSHIP} -Backup ${primaryId} -server ${instance.serverName}`,
      });
      instance.msdb.insert('log_shipping_primary_databases', {
        primary_id: primaryId,
        primary_database: database.name,
        backup_directory: call.requiredText('@backup_directory'),
        backup_share: call.requiredText('@backup_share'),
        backup_retention_period: call.number('@backup_retention_period'),
        backup_job_id: jobId,
        monitor_server: instance.serverName,
        monitor_server_security_mode: 1,
        user_specified_monitor: call.given('@monitor_server'),
        backup_compression: call.number('@backup_compression'),
      });
      instance.msdb.insert('log_shipping_monitor_primary', {
        primary_id: primaryId,
        primary_server: instance.serverName,
        primary_database: database.name,
        backup_threshold: call.number('@backup_threshold'),
        threshold_alert: call.number('@threshold_alert'),
        threshold_alert_enabled: call.flag('@threshold_alert_enabled'),
        history_retention_period: call.number('@history_retention_period'),
      });
      call.setOutput('@backup_job_id', jobId);
      call.setOutput('@primary_id', primaryId);
      instance.changed();
    },
  },
  {
    name: 'sp_add_log_shipping_primary_secondary',
    home: 'master',
    parameters: [
      { name: '@primary_database', type: NVARCHAR_128, required: true },
      { name: '@secondary_server', type: NVARCHAR_128, required: true },
      { name: '@secondary_database', type: NVARCHAR_128, required: true },
      overwrite,
    ],
    run(call) {
      const instance = call.execution.instance;
      const database = call.requiredText('@primary_database');
      const primary = primaryRow(instance, database);
      if (!primary) throw errors.lsNotPrimary(database);
      const server = call.requiredText('@secondary_server');
      const secondary = call.requiredText('@secondary_database');
      const existing = (row: Row) =>
        row.primary_id === primary.primary_id &&
        sameText(row.secondary_server, server) &&
        sameText(row.secondary_database, secondary);
      if (instance.msdb.find('log_shipping_primary_secondaries', existing)) {
        if (!call.flag('@overwrite')) throw errors.lsSecondaryLinkExists(server, secondary, database);
        instance.msdb.delete('log_shipping_primary_secondaries', existing);
      }
      instance.msdb.insert('log_shipping_primary_secondaries', {
        primary_id: primary.primary_id,
        secondary_server: server,
        secondary_database: secondary,
      });
      instance.changed();
    },
  },
  {
    name: 'sp_change_log_shipping_primary_database',
    home: 'master',
    parameters: [
      { name: '@database', type: NVARCHAR_128, required: true },
      { name: '@backup_directory', type: nvarchar(500) },
      { name: '@backup_share', type: nvarchar(500) },
      { name: '@backup_retention_period', type: INT },
      { name: '@monitor_server_security_mode', type: BIT },
      { name: '@monitor_server_login', type: NVARCHAR_128 },
      { name: '@monitor_server_password', type: NVARCHAR_128 },
      { name: '@backup_threshold', type: INT },
      { name: '@threshold_alert', type: INT },
      { name: '@threshold_alert_enabled', type: BIT },
      { name: '@history_retention_period', type: INT },
      { name: '@backup_compression', type: { kind: 'tinyint' } },
    ],
    run(call) {
      const instance = call.execution.instance;
      const database = call.requiredText('@database');
      const primary = primaryRow(instance, database);
      if (!primary) throw errors.lsNotPrimary(database);
      const monitor = instance.msdb.find(
        'log_shipping_monitor_primary',
        (row) => row.primary_id === primary.primary_id,
      );
      for (const field of ['backup_directory', 'backup_share', 'backup_retention_period', 'backup_compression']) {
        if (call.given(`@${field}`)) primary[field] = call.value(`@${field}`);
      }
      for (const field of [
        'backup_threshold',
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
    name: 'sp_delete_log_shipping_primary_secondary',
    home: 'master',
    parameters: [
      { name: '@primary_database', type: NVARCHAR_128, required: true },
      { name: '@secondary_server', type: NVARCHAR_128, required: true },
      { name: '@secondary_database', type: NVARCHAR_128, required: true },
    ],
    run(call) {
      const instance = call.execution.instance;
      const database = call.requiredText('@primary_database');
      const primary = primaryRow(instance, database);
      if (!primary) throw errors.lsNotPrimary(database);
      instance.msdb.delete(
        'log_shipping_primary_secondaries',
        (row) =>
          row.primary_id === primary.primary_id &&
          sameText(row.secondary_server, call.text('@secondary_server')) &&
          sameText(row.secondary_database, call.text('@secondary_database')),
      );
      instance.changed();
    },
  },
  {
    name: 'sp_delete_log_shipping_primary_database',
    home: 'master',
    parameters: [{ name: '@database', type: NVARCHAR_128, required: true }],
    run(call) {
      const instance = call.execution.instance;
      const database = call.requiredText('@database');
      const primary = primaryRow(instance, database);
      if (!primary) throw errors.lsNotPrimary(database);
      if (instance.msdb.find('log_shipping_primary_secondaries', (row) => row.primary_id === primary.primary_id))
        throw errors.lsPrimaryHasSecondaries(database);
      removePrimary(instance, primary);
    },
  },
];

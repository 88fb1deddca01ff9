/**
 * The msdb history of backups and restores, as SQL Server keeps it: backupset and backupmediafamily for every backup
 * (and for the set a restore used), restorehistory for every restore.
 */
import { randomUUID } from 'node:crypto';
import type { BackupHeader } from './backup-file';
import type { SqlInstance } from './instance';

/** A backup set in msdb (backupset, backupmediafamily); returns its backup_set_id. */
export function recordBackup(instance: SqlInstance, header: BackupHeader, device: string): number {
  const msdb = instance.msdb;
  const mediaSetId = msdb.nextId('media_set_id');
  const backupSetId = msdb.nextId('backup_set_id');
  msdb.insert('backupmediafamily', {
    media_set_id: mediaSetId,
    family_sequence_number: 1,
    media_family_id: randomUUID().toUpperCase(),
    media_count: 1,
    physical_device_name: device,
    device_type: 2,
    physical_block_size: 512,
    mirror: 0,
  });
  msdb.insert('backupset', {
    backup_set_id: backupSetId,
    backup_set_uuid: header.BackupSetGUID,
    media_set_id: mediaSetId,
    position: header.Position,
    name: header.BackupName,
    description: header.BackupDescription,
    user_name: header.UserName,
    software_major_version: header.SoftwareVersionMajor,
    first_lsn: header.FirstLSN,
    last_lsn: header.LastLSN,
    checkpoint_lsn: header.CheckpointLSN,
    database_backup_lsn: header.DatabaseBackupLSN,
    database_creation_date: new Date(header.DatabaseCreationDate),
    backup_start_date: new Date(header.BackupStartDate),
    backup_finish_date: new Date(header.BackupFinishDate),
    type: header.BackupType === 1 ? 'D' : 'L',
    backup_size: header.BackupSize,
    database_name: header.DatabaseName,
    server_name: header.ServerName,
    machine_name: header.MachineName,
    recovery_model: header.RecoveryModel,
    has_backup_checksums: header.HasBackupChecksums,
    is_damaged: false,
    begins_log_chain: header.BeginsLogChain,
    is_force_offline: header.IsForceOffline,
    is_copy_only: header.IsCopyOnly,
    first_recovery_fork_guid: header.FirstRecoveryForkID,
    last_recovery_fork_guid: header.RecoveryForkID,
    fork_point_lsn: header.ForkPointLSN,
    family_guid: header.FamilyGUID,
    database_guid: header.FamilyGUID,
    compressed_backup_size: header.CompressedBackupSize,
  });
  return backupSetId;
}

/** A restore writes restorehistory and, as SQL Server does, a local copy of the backup set it used. */
export function recordRestore(
  instance: SqlInstance,
  header: BackupHeader,
  device: string,
  database: string,
  type: 'D' | 'L',
  request: { replace?: boolean; recovery: string },
  actor: { userName: string },
): void {
  const backupSetId = recordBackup(instance, header, device);
  instance.msdb.insert('restorehistory', {
    restore_history_id: instance.msdb.nextId('restore_history_id'),
    restore_date: new Date(),
    destination_database_name: database,
    user_name: actor.userName,
    backup_set_id: backupSetId,
    restore_type: type,
    replace: request.replace ?? false,
    recovery: request.recovery === 'RECOVERY',
    restart: false,
    device_count: 1,
    stop_before: false,
  });
}

/**
 * The statements the acting steps send, built in one place (activities/statements.ts), and describeStep
 * (activities/dry-run.ts), which a dry run prints: the same text the activity runs, with every parameter; nothing for reads; no secret ever.
 */
import { describe, expect, it } from 'vitest';
import { describeStep, renderValue } from '../../activities/dry-run';
import {
  killSession,
  recoverDatabase,
  restoreDatabase,
  setPersistentChatActiveServer,
  startJob,
  later,
} from '../../activities/statements';
import { ACTIVITY_KINDS, isReadOnly, type ActivityName } from '../../workflows/activity-kinds';
import type { Instance } from '../../topology/schema';

const instance = (name: string): Instance => ({
  name,
  host: `${name}.contoso.com`,
  login: 'pchatdr',
  password: 'env:PCHAT_SQL_PASSWORD',
  encrypt: true,
  trustServerCertificate: false,
});
const pool = {
  poolControl: { command: ['pwsh', '-NoProfile', '-Command'], timeout: '5m' },
  fqdn: 'pchat.contoso.com',
  identity: 'service:pchat.contoso.com',
};
const folder = { sqlPath: '\\\\fs1\\pchat', workerPath: '/mnt/pchat' };
const primarySettings = {
  backupDirectory: '\\\\fs1\\pchat',
  backupShare: '\\\\fs1\\pchat',
  retentionMinutes: 4320,
  backupThresholdMinutes: 60,
  compression: 'default' as const,
  jobName: 'LSBackup_mgc',
  scheduleSeconds: 900,
};
const secondarySettings = {
  primaryServer: 'SQL-A',
  primaryDatabase: 'mgc',
  sourceDirectory: '\\\\fs1\\pchat',
  destinationDirectory: 'D:\\copy',
  retentionMinutes: 4320,
  copyJobName: 'LSCopy_SQL-A_mgc',
  restoreJobName: 'LSRestore_SQL-A_mgc',
  copyScheduleSeconds: 900,
  restoreScheduleSeconds: 900,
  restoreDelayMinutes: 0,
  restoreThresholdMinutes: 45,
};

/** An input for every activity that changes something. */
const INPUTS: Record<string, unknown> = {
  setMirroringSafety: { database: 'mgc', principal: instance('sql-a'), safety: 'FULL' },
  plannedMirrorFailover: { database: 'mgc', target: instance('sql-b'), partner: instance('sql-a') },
  forceMirrorService: { database: 'mgc', mirror: instance('sql-b'), principal: instance('sql-a') },
  removeMirroring: { database: 'mgc', instance: instance('sql-a') },
  waitUntilSynchronized: { database: 'mgc', principal: instance('sql-a'), timeoutSeconds: 300 },
  addLogShippingPrimary: { instance: instance('sql-a'), database: 'mgc', settings: primarySettings },
  addLogShippingPrimarySecondary: {
    instance: instance('sql-a'),
    database: 'mgc',
    secondaryServer: 'SQL-C',
    secondaryDatabase: 'mgc',
  },
  addLogShippingSecondary: { instance: instance('sql-c'), database: 'mgc', settings: secondarySettings, replace: true },
  removeLogShippingSecondary: { instance: instance('sql-c'), database: 'mgc', waitSeconds: 600 },
  removeLogShippingPrimary: { instance: instance('sql-b'), database: 'mgc' },
  copyLogShippingPrimarySettings: {
    from: instance('sql-a'),
    to: instance('sql-b'),
    database: 'mgc',
    secondaryServer: 'SQL-C',
    secondaryDatabase: 'mgc',
  },
  runAgentJob: { instance: instance('sql-a'), jobName: 'LSBackup_mgc', timeoutSeconds: 600 },
  backupFullDatabase: { instance: instance('sql-a'), database: 'mgc', folder, fileName: 'mgc_seed.bak' },
  backupTailLog: { instance: instance('sql-a'), database: 'mgc', folder, fileName: 'mgc_20260101000000_tail.trn' },
  restoreFullDatabase: {
    instance: instance('sql-c'),
    database: 'mgc',
    file: '\\\\fs1\\pchat\\mgc_seed.bak',
    move: [{ logicalName: 'mgc_data', to: "D:\\data\\it's.mdf" }],
    replace: true,
    recovery: 'NORECOVERY',
  },
  applyPendingLogs: {
    instance: instance('sql-c'),
    database: 'mgc',
    logs: [
      { file: 'D:\\copy\\mgc_1.trn', firstLsn: '1', lastLsn: '2', backupFinish: '' },
      { file: 'D:\\copy\\mgc_2.trn', firstLsn: '2', lastLsn: '3', backupFinish: '' },
    ],
  },
  recoverDatabase: { instance: instance('sql-c'), database: 'mgc' },
  endSessions: { instance: instance('sql-c'), database: 'mgc' },
  copyPendingBackups: { from: folder, to: { sqlPath: 'D:\\copy', workerPath: '/mnt/copy' }, database: 'mgc' },
  setPoolState: { pool, state: 'FailedOver' },
  setActiveServers: { pool, servers: [] },
  invokeDatabaseFailover: {
    pool,
    databaseType: 'PersistentChat',
    database: 'mgc',
    newPrincipal: 'Mirror',
    target: instance('sql-b'),
    force: false,
  },
  installMirrorDatabase: {
    pool,
    databaseType: 'PersistentChat',
    database: 'mgc',
    principal: { ...instance('sql-c'), instanceName: 'PCHAT' },
    mirror: instance('sql-d'),
    fileShare: '\\\\fs1\\pchat',
  },
  notify: { webhook: 'https://hooks.example.com/x', event: { kind: 'gate-opened' } },
  dropScratchDatabase: { instance: instance('sql-c'), database: 'mgc_drill_scratch' },
  writeDrillReport: { folder: '/var/lib/pchat-dr/drills' },
  pauseDrillSchedule: { scheduleId: 'pchat-dr-drill-pchat', note: 'drill failed' },
};

describe('describeStep', () => {
  // A new activity that changes something needs its statements here (and a describer): this test names it.
  it('describes every activity that changes something, and nothing for reads', () => {
    for (const activity of Object.keys(ACTIVITY_KINDS) as ActivityName[]) {
      const lines = describeStep(activity, INPUTS[activity] ?? { instance: instance('sql-a'), database: 'mgc' });
      if (isReadOnly(activity)) expect(lines, activity).toEqual([]);
      else expect(lines.length, activity).toBeGreaterThan(0);
      expect(lines.join('\n'), activity).not.toMatch(/undefined|\[object Object\]|PCHAT_SQL_PASSWORD/);
    }
  });

  it('prints the very text the activities send, with each parameter as T-SQL spells it', () => {
    expect(describeStep('recoverDatabase', INPUTS.recoverDatabase)).toContain(recoverDatabase('mgc').text);
    const restore = describeStep('restoreFullDatabase', INPUTS.restoreFullDatabase);
    expect(restore).toContain(
      'RESTORE DATABASE [mgc] FROM DISK = @file WITH MOVE @move0_name TO @move0_to, REPLACE, NORECOVERY',
    );
    expect(restore).toContain("-- @move0_to = N'D:\\data\\it''s.mdf'");
    expect(restoreDatabase('mgc', 'x.bak', [], false, 'RECOVERY')).toMatchObject({
      text: 'RESTORE DATABASE [mgc] FROM DISK = @file WITH RECOVERY',
      label: 'RECOVERY',
    });
    expect(describeStep('backupTailLog', INPUTS.backupTailLog)).toContain(
      "-- @file = N'\\\\fs1\\pchat\\mgc_20260101000000_tail.trn'",
    );
    expect(
      describeStep('applyPendingLogs', INPUTS.applyPendingLogs).filter(
        (line) => line === 'RESTORE LOG [mgc] FROM DISK = @file WITH NORECOVERY',
      ),
    ).toHaveLength(2);
    const secondary = describeStep('addLogShippingSecondary', INPUTS.addLogShippingSecondary).join('\n');
    for (const procedure of [
      'sp_delete_log_shipping_secondary_database',
      'sp_add_log_shipping_secondary_primary',
      'sp_add_log_shipping_secondary_database',
      'sp_add_schedule',
      'sp_attach_schedule',
      'sp_update_job',
    ])
      expect(secondary).toContain(procedure);
    expect(secondary).toContain('-- @type = 4');
    expect(secondary).toContain('-- @interval = 15');
    expect(describeStep('runAgentJob', INPUTS.runAgentJob)).toContain(
      '-- @id = <job_id of LSBackup_mgc (msdb.dbo.sysjobs), read when the step runs>',
    );
    expect(describeStep('installMirrorDatabase', INPUTS.installMirrorDatabase)).toContain(
      "Install-CsMirrorDatabase -DatabaseType PersistentChat -SqlServerFqdn 'sql-c.contoso.com' -SqlInstanceName 'PCHAT' -FileShare '\\\\fs1\\pchat' -DropExistingDatabasesOnMirror -Confirm:$false",
    );
    expect(describeStep('setActiveServers', INPUTS.setActiveServers)).toEqual([
      '# Management Shell: pwsh -NoProfile -Command',
      // The change and its read-back, in one shell.
      "Set-CsPersistentChatActiveServer -Identity 'service:pchat.contoso.com' -ActiveServers $Null -Confirm:$false; " +
        "Get-CsPersistentChatState -Identity 'service:pchat.contoso.com' | ConvertTo-Json -Compress; " +
        "Get-CsService -PersistentChatServer -PoolFqdn 'pchat.contoso.com' | ConvertTo-Json -Compress",
    ]);
    expect(setPersistentChatActiveServer('service:p', ["fe'1"]).text).toBe(
      "Set-CsPersistentChatActiveServer -Identity 'service:p' -ActiveServers @{Replace='fe''1'} -Confirm:$false",
    );
  });

  it('never writes anything but a checked session id into KILL, and marks values known only later', () => {
    expect(killSession(57).text).toBe('KILL 57');
    expect(() => killSession(0)).toThrow(/is not a session id/);
    expect(killSession(later('a session id')).text).toBe('KILL <a session id>');
    expect(renderValue(startJob('0F9A').parameters.id)).toBe("'0F9A'");
    expect(renderValue(null)).toBe('NULL');
    expect(renderValue(true)).toBe('1');
    expect(() =>
      describeStep('removeMirroring', { database: 'mgc]; DROP DATABASE x; --', instance: instance('sql-a') }),
    ).toThrow(/not a plain SQL Server identifier/);
  });
});

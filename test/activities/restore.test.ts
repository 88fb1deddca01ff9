/**
 * Restore activities against the simulator: applying any number of pending logs in one activity (in LSN order,
 * resuming after cancellation, stopping at a gap with the LSNs), the tail-log fence, recovery, ending sessions.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApplyProgress } from '../../activities/restore';
import { readPoolState, writePoolState } from '../../simulator/pool/pool-state';
import { activityHarness, simulatedPassword, type ActivityHarness } from '../helpers/activities';
import { eventually, startTestEstate, type TestEstate } from '../helpers/estate';
import { seedLogChain } from '../helpers/log-chain';

let env: TestEstate;
let harness: ActivityHarness;

afterEach(async () => {
  if (harness) expect(harness.recorded()).not.toContain(simulatedPassword(env));
  await harness?.close();
  await env?.close();
});

async function start() {
  env = await startTestEstate();
  harness = activityHarness(env);
}

const backupDatabase = () =>
  env.estate
    .snapshot()
    .instances.find((instance) => instance.name === 'dc2-sql-a')!
    .databases.find((database) => database.name === 'mgc')!;

async function logRestores(): Promise<string[]> {
  const rows = (
    await env.query<{ file: string }>(
      'dc2-sql-a',
      `SELECT f.physical_device_name AS file FROM msdb.dbo.restorehistory r JOIN msdb.dbo.backupset b ON b.backup_set_id = r.backup_set_id JOIN msdb.dbo.backupmediafamily f ON f.media_set_id = b.media_set_id WHERE r.restore_type = 'L'`,
    )
  ).recordset;
  return rows.map((row) => row.file);
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = (index * 7919 + 13) % (index + 1);
    [copy[index], copy[other]] = [copy[other], copy[index]];
  }
  return copy;
}

describe('applyPendingLogs', () => {
  it('applies 200 logs in LSN order even when they arrive out of order, then skips them all', async () => {
    await start();
    const { logs } = await seedLogChain(env, 200);
    const input = { instance: harness.instance('dc2-sql-a'), database: 'mgc', logs: shuffled(logs) };
    expect(input.logs.map((log) => log.file)).not.toEqual(logs.map((log) => log.file));
    const heartbeats: ApplyProgress[] = [];
    const result = await harness.run('applyPendingLogs', input, {
      onHeartbeat: (details) => heartbeats.push(details as ApplyProgress),
    });
    expect(result.outcome).toBe('acted');
    expect(result.figures.applied).toEqual(logs.map((log) => log.file));
    expect(result.figures.redoLsnAfter).toBe(logs[199].lastLsn);
    expect(result.figures.lastAppliedBackupFinish).toBe(logs[199].backupFinish);
    expect(heartbeats).toHaveLength(200);
    expect(heartbeats[199]).toEqual({ applied: 200, lastFile: logs[199].file, redoLsn: logs[199].lastLsn });
    expect(await logRestores()).toEqual(logs.map((log) => log.file));

    const again = await harness.run('applyPendingLogs', input);
    expect(again).toMatchObject({ outcome: 'skipped', figures: { applied: [], alreadyApplied: 200 } });
    expect(await logRestores()).toHaveLength(200);

    // Recovered, the database holds exactly the messages those logs carried.
    await harness.run('recoverDatabase', { instance: harness.instance('dc2-sql-a'), database: 'mgc' });
    expect(env.estate.lostMessages('dc2-sql-a')).toEqual([]);
    expect(backupDatabase()).toMatchObject({ state: 'ONLINE', messages: 200 });
  });

  it('cancelled half way, it stops the running RESTORE; run again, it resumes from its heartbeat without re-applying', async () => {
    await start();
    const { logs } = await seedLogChain(env, 200);
    const input = { instance: harness.instance('dc2-sql-a'), database: 'mgc', logs };
    let last: ApplyProgress | undefined;
    const cancelled = await harness
      .run('applyPendingLogs', input, {
        environment: (environment) =>
          environment.on('heartbeat', (details: ApplyProgress) => {
            last = details;
            if (details.applied !== 100) return;
            // The next RESTORE now takes 2 s on the server; the cancel arrives while it runs.
            env.estate.setLatency('dc2-sql-a', 2_000);
            setTimeout(() => environment.cancel(), 100);
          }),
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    env.estate.setLatency('dc2-sql-a', 0);
    expect(cancelled).toBeInstanceOf(CancelledFailure);
    expect(last).toEqual({ applied: 100, lastFile: logs[99].file, redoLsn: logs[99].lastLsn });
    expect(await logRestores()).toHaveLength(100);

    const resumed = await harness.run('applyPendingLogs', input, { heartbeatDetails: last });
    expect(resumed.figures).toMatchObject({
      resumedAfter: logs[99].file,
      alreadyApplied: 100,
      redoLsnAfter: logs[199].lastLsn,
    });
    expect(resumed.figures.applied).toEqual(logs.slice(100).map((log) => log.file));
    expect(resumed.summary).toContain(`(resumed after ${logs[99].file})`);
    // Each file restored exactly once.
    expect(await logRestores()).toEqual(logs.map((log) => log.file));
  });

  it('stops at a missing file with LogChainBroken carrying the LSN needed and the LSN found', async () => {
    await start();
    const { logs } = await seedLogChain(env, 20);
    const withoutOne = logs.filter((_, index) => index !== 10);
    const failure = await harness
      .run('applyPendingLogs', { instance: harness.instance('dc2-sql-a'), database: 'mgc', logs: withoutOne })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'LogChainBroken', nonRetryable: true });
    expect((failure as ApplicationFailure).details?.[0]).toMatchObject({
      expectedLsn: logs[9].lastLsn,
      foundLsn: logs[11].firstLsn,
      file: logs[11].file,
      applied: 10,
      lastAppliedBackupFinish: logs[9].backupFinish,
    });
    expect(logs[9].lastLsn).toBe(logs[10].firstLsn);
    expect(backupDatabase().state).toBe('RESTORING');
    expect(await logRestores()).toHaveLength(10);
  });

  it('reports a listed file that is gone from disk as BackupFileUnavailable, with the SQL Server errors', async () => {
    await start();
    const { logs } = await seedLogChain(env, 5);
    env.estate.deleteBackupFile(logs[2].file);
    const failure = await harness
      .run('applyPendingLogs', { instance: harness.instance('dc2-sql-a'), database: 'mgc', logs })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toMatchObject({ type: 'BackupFileUnavailable' });
    expect((failure as ApplicationFailure).details?.[0]).toMatchObject({
      instance: 'dc2-sql-a',
      sqlErrors: [3201, 3013],
    });
  });
});

describe('other restore steps', () => {
  it('fences the old principal with a tail-log backup once, and the backup database then loses nothing', async () => {
    await start();
    const { logs } = await seedLogChain(env, 3);
    const primary = harness.instance('dc1-sql-a');
    await harness.run('removeMirroring', { database: 'mgc', instance: primary });
    await env.estate.chat.postOne();
    // Microsoft: clear the active servers first, so nothing holds mgc.
    writePoolState(env.estate.poolStateFile, { ...readPoolState(env.estate.poolStateFile), activeServers: [] });
    await env.estate.chat.postOne();
    const ended = await harness.run('endSessions', { instance: primary, database: 'mgc' });
    expect(['acted', 'skipped']).toContain(ended.outcome);

    const input = {
      instance: primary,
      database: 'mgc',
      folder: env.topology.backupShare,
      fileName: 'mgc_20260102000000.trn',
    };
    const tail = await harness.run('backupTailLog', input);
    expect(tail.outcome).toBe('acted');
    expect(tail.figures).toMatchObject({ type: 'Log', isForceOffline: true, firstLsn: logs[2].lastLsn });
    expect((await harness.run('backupTailLog', input)).outcome).toBe('skipped');

    const all = [
      ...logs,
      {
        file: tail.figures.file,
        firstLsn: tail.figures.firstLsn,
        lastLsn: tail.figures.lastLsn,
        backupFinish: tail.figures.backupFinish,
      },
    ];
    await harness.run('applyPendingLogs', { instance: harness.instance('dc2-sql-a'), database: 'mgc', logs: all });
    const recovered = await harness.run('recoverDatabase', {
      instance: harness.instance('dc2-sql-a'),
      database: 'mgc',
    });
    expect(recovered.outcome).toBe('acted');
    expect(
      (await harness.run('recoverDatabase', { instance: harness.instance('dc2-sql-a'), database: 'mgc' })).outcome,
    ).toBe('skipped');
    expect(env.estate.lostMessages('dc2-sql-a')).toEqual([]);
  });

  it('ends the sessions using a database once (the chat servers), listing who they were', async () => {
    await start();
    env.estate.chat.start(20);
    // Posts alternate between the two front ends: two acknowledged is a session from each (a fixed wait was too
    // short on a busy machine).
    await eventually(() => env.estate.chat.snapshot().acknowledged >= 2, 15_000, 'a message through each chat server');
    env.estate.chat.stop();
    const primary = harness.instance('dc1-sql-a');
    const ended = await harness.run('endSessions', { instance: primary, database: 'mgc' });
    expect(ended.outcome).toBe('acted');
    expect(ended.found.sessions.map((session) => session.host).sort()).toEqual([
      'pchat-fe1.sim.local',
      'pchat-fe2.sim.local',
    ]);
    expect(ended.found.sessions.every((session) => session.program === 'Persistent Chat Server')).toBe(true);
    expect((await harness.run('endSessions', { instance: primary, database: 'mgc' })).outcome).toBe('skipped');
  });
});

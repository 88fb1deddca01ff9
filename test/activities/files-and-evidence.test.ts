/**
 * The share, the copy folder and the evidence snapshot: copying acts once with size checks; the snapshot reports
 * roles, pending logs with exact LSNs, the chain from the redo point (and where it breaks), and the pool — with
 * unreachable instances as facts.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { activityHarness, simulatedPassword, type ActivityHarness } from '../helpers/activities';
import { startTestEstate, type TestEstate } from '../helpers/estate';
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

const copyFolderFiles = () =>
  readdirSync(env.topology.copyFolder.workerPath)
    .filter((name) => name.endsWith('.trn'))
    .sort();

describe('files and evidence', () => {
  it('copies the log backups the copy folder lacks, once, and replaces a partial copy', async () => {
    await start();
    const { logs } = await seedLogChain(env, 5);
    const input = { from: env.topology.backupShare, to: env.topology.copyFolder, database: 'mgc' };
    const first = await harness.run('copyPendingBackups', input);
    expect(first.outcome).toBe('acted');
    expect(first.figures.copied).toEqual(logs.map((log) => path.basename(log.file)));
    expect(copyFolderFiles()).toEqual(first.figures.copied);
    expect((await harness.run('copyPendingBackups', input)).outcome).toBe('skipped');

    // A truncated copy (a crash mid-copy) is found by its size and copied again.
    writeFileSync(path.join(env.topology.copyFolder.workerPath, path.basename(logs[3].file)), 'partial');
    const repaired = await harness.run('copyPendingBackups', input);
    expect(repaired).toMatchObject({
      outcome: 'acted',
      figures: { copied: [path.basename(logs[3].file)], alreadyThere: 4 },
    });
  });

  it('gathers evidence: partners, pending logs with exact LSNs, a complete chain, the pool', async () => {
    await start();
    const { logs } = await seedLogChain(env, 4);
    const result = await harness.run('gatherEvidence', { topology: env.topology, database: 'mgc' });
    const evidence = result.found;
    expect(result.outcome).toBe('observed');
    expect(evidence.partners.primary).toMatchObject({ reachable: true, state: 'ONLINE', role: 'PRINCIPAL' });
    expect(evidence.partners.backup).toMatchObject({ reachable: true, state: 'RESTORING', role: null });
    expect(evidence.partners.backupMirror).toMatchObject({ reachable: true, exists: false });
    expect(evidence.pending.map((log) => [log.firstLsn, log.lastLsn])).toEqual(
      logs.map((log) => [log.firstLsn, log.lastLsn]),
    );
    expect(evidence.chain).toMatchObject({
      complete: true,
      appliable: 4,
      gap: null,
      lastAppliableLsn: logs[3].lastLsn,
      lastAppliableBackupFinish: logs[3].backupFinish,
    });
    expect(evidence.files.notCopied).toHaveLength(4);
    expect(evidence.pool).toEqual({
      poolState: 'Normal',
      activeServers: ['pchat-fe1.sim.local', 'pchat-fe2.sim.local'],
    });
    expect(evidence.lastLogBackup).toMatchObject({ file: logs[3].file });
    expect(evidence.problems).toEqual([]);
  });

  it('verifies each backup file once per worker, and again when the file is replaced', async () => {
    await start();
    const { logs } = await seedLogChain(env, 3);
    const verifications = () =>
      env.estate
        .instance('dc2-sql-a')
        .msdb.rows('backupset')
        .filter((row) => row.type === 'L').length;
    const before = verifications();
    await harness.run('gatherEvidence', { topology: env.topology, database: 'mgc' });
    expect(verifications()).toBe(before + 3);
    await harness.run('gatherEvidence', { topology: env.topology, database: 'mgc' });
    expect(verifications()).toBe(before + 3);
    // The same name with other content (a newer backup WITH INIT): read again, with its own LSNs.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await env.query('dc1-sql-a', 'BACKUP LOG [mgc] TO DISK = @file WITH INIT', { file: logs[2].file });
    const again = (await harness.run('gatherEvidence', { topology: env.topology, database: 'mgc' })).found;
    expect(verifications()).toBe(before + 4);
    expect(again.pending.find((log) => log.file === logs[2].file)!.firstLsn).toBe(logs[2].lastLsn);
  });

  it('a log an earlier evidence listed that neither folder holds now is missing: a break in the chain', async () => {
    await start();
    const { logs } = await seedLogChain(env, 3);
    await env.estate.stopInstance('dc1-sql-a');
    await env.estate.stopInstance('dc1-sql-b');
    // The newest log is deleted: with DC1 down, only what the run listed before says it existed.
    const newest = path.basename(logs[2].file);
    env.estate.deleteBackupFile(path.join(env.topology.backupShare.workerPath, newest));
    const input = { topology: env.topology, database: 'mgc' as const };
    expect((await harness.run('gatherEvidence', input)).found.chain).toMatchObject({ complete: true, appliable: 2 });
    const evidence = (await harness.run('gatherEvidence', { ...input, knownLogs: [logs[2].file] })).found;
    expect(evidence.chain).toMatchObject({ complete: false, appliable: 2, gap: { reason: 'missing', file: newest } });
  });

  it('evidence a run acts on fails when the backup cannot be read, instead of saying there is no log to apply', async () => {
    await start();
    await seedLogChain(env, 3);
    await env.estate.stopInstance('dc1-sql-a');
    await env.estate.stopInstance('dc1-sql-b');
    env.estate.failNext(
      'dc2-sql-a',
      'sys\\.database_mirroring',
      { number: 50000, message: 'injected: a read fails' },
      2,
    );
    // For a gate, a backup that fails a read is a fact; to apply logs from, "no logs" would be a lie: the step fails.
    const shown = (await harness.run('gatherEvidence', { topology: env.topology, database: 'mgc' })).found;
    expect(shown.partners.backup).toMatchObject({ reachable: false });
    expect(shown.pending).toEqual([]);
    await expect(
      harness.run('gatherEvidence', { topology: env.topology, database: 'mgc', complete: true }),
    ).rejects.toThrow(/dc2-sql-a cannot be read, so the logs to apply are not known/);
  });

  it('with DC1 down and a log missing: the unreachable partners and the gap are facts in the evidence', async () => {
    await start();
    const { logs } = await seedLogChain(env, 6);
    env.estate.deleteBackupFile(logs[2].file);
    await env.estate.stopInstance('dc1-sql-a');
    await env.estate.stopInstance('dc1-sql-b');
    const evidence = (await harness.run('gatherEvidence', { topology: env.topology, database: 'mgc' })).found;
    expect(evidence.partners.primary).toMatchObject({ reachable: false });
    expect(evidence.partners.mirror).toMatchObject({ reachable: false });
    expect(evidence.problems).toContain('dc1-sql-a (primary) cannot be reached');
    expect(evidence.chain).toMatchObject({
      complete: false,
      appliable: 2,
      gap: { expectedLsn: logs[1].lastLsn, foundLsn: logs[3].firstLsn, file: logs[3].file },
      lastAppliableBackupFinish: logs[1].backupFinish,
    });
    expect(evidence.lastLogBackup).toMatchObject({ file: logs[5].file });
  });
});

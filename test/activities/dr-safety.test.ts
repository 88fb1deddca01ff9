/**
 * Step-level safety against a bad night (docs/runbooks.md rules 1, 9 and 10), on the simulator: a full backup only
 * ever appears under its name whole and verified (a partial file of a killed attempt is cleared), a planned mirror
 * failover goes only to the partner asked for, an address answered by another server is not that instance, and a
 * half-dead instance is "not serving", not an error.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { activityHarness, simulatedPassword, type ActivityHarness } from '../helpers/activities';
import { startTestEstate, type TestEstate } from '../helpers/estate';

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

const failureOf = async (attempt: Promise<unknown>) => {
  try {
    await attempt;
  } catch (error) {
    return error as Error & { type?: string };
  }
  throw new Error('the step did not fail');
};

describe('a full backup', () => {
  it('appears under its name only whole and verified: a failed verification leaves no file there, a partial file of a killed attempt is cleared', async () => {
    await start();
    const folder = env.topology.backupShare;
    const fileName = 'mgc_failback_20260101000000.bak';
    const final = path.join(folder.workerPath, fileName);
    // What a worker killed in the middle of BACKUP leaves behind.
    writeFileSync(path.join(folder.workerPath, `${fileName}.partial`), 'half a backup');
    env.estate.failNext('dc1-sql-a', 'RESTORE VERIFYONLY', {
      number: 3241,
      message: 'The media family on device is incorrectly formed (injected).',
    });
    const input = { instance: harness.instance('dc1-sql-a'), database: 'mgc', folder, fileName };
    const failed = await failureOf(harness.run('backupFullDatabase', input));
    expect(failed.type).toBe('BackupFileUnavailable');
    expect(existsSync(final), 'an unverified backup never carries the final name').toBe(false);

    const done = await harness.run('backupFullDatabase', input);
    expect(done.outcome).toBe('acted');
    expect(done.figures).toMatchObject({
      type: 'Database',
      database: 'mgc',
      file: path.join(folder.sqlPath, fileName),
    });
    expect(existsSync(final)).toBe(true);
    expect(existsSync(`${final}.partial`)).toBe(false);
    // Run again: the verified file is there, nothing is backed up twice.
    expect((await harness.run('backupFullDatabase', input)).outcome).toBe('skipped');
  });

  it('COPY_ONLY leaves the log-shipping chain as it was', async () => {
    await start();
    const folder = env.topology.backupShare;
    const input = {
      instance: harness.instance('dc1-sql-a'),
      database: 'mgc',
      folder,
      fileName: 'mgc_diverged_20260101000000.bak',
      copyOnly: true,
    };
    const done = await harness.run('backupFullDatabase', input);
    expect(done.figures).toMatchObject({ type: 'Database', isCopyOnly: true });
  });
});

describe('a planned mirror failover', () => {
  it('goes only to the partner asked for: a target that is not the principal’s partner is refused, nothing changes', async () => {
    await start();
    const failed = await failureOf(
      harness.run('plannedMirrorFailover', {
        database: 'mgc',
        target: harness.instance('dc2-sql-a'),
        partner: harness.instance('dc1-sql-a'),
      }),
    );
    expect(failed.type).toBe('WrongRole');
    expect(failed.message).toMatch(/dc1-sql-a mirrors mgc with SQLDC1B, not with dc2-sql-a \(SQLDC2A\)/);
    const principal = env.estate.instance('dc1-sql-a').database('mgc')!;
    expect(principal.mirroring?.role).toBe('PRINCIPAL');
  });
});

describe('reading an instance', () => {
  it('is not that instance when another server answers at its address (topology serverName)', async () => {
    await start();
    const impostor = { ...harness.instance('dc1-sql-a'), serverName: 'SQLDC9Z' };
    const read = await harness.run('readMirroringState', { instance: impostor, database: 'mgc' });
    expect(read.found).toMatchObject({ reachable: false, unreachableType: 'WrongInstance' });
    expect(read.found.unreachableReason).toMatch(/answers as SQLDC1A, not SQLDC9Z as the topology says/);
  });

  it('says an instance that refuses logins does not serve, and why, instead of failing the read', async () => {
    await start();
    env.estate.refuseLogins('dc1-sql-a');
    const read = await harness.run('readMirroringState', { instance: harness.instance('dc1-sql-a'), database: 'mgc' });
    expect(read.found).toMatchObject({ reachable: false, unreachableType: 'LoginFailed' });
    expect(read.found.unreachableReason).toMatch(
      /does not serve \(LoginFailed\).*18456|does not serve \(LoginFailed\)/,
    );
    // Acting on it still fails as what it is (not retried as a network blip).
    const failed = await failureOf(
      harness.run('removeMirroring', { instance: harness.instance('dc1-sql-a'), database: 'mgc' }),
    );
    expect(failed.type).toBe('LoginFailed');
  });

  it('fails a verification read of an instance that does not answer (retried, then put to people), never reads it as absent', async () => {
    await start();
    await env.estate.stopInstance('dc2-sql-a');
    const instance = harness.instance('dc2-sql-a');
    const evidence = await harness.run('readMirroringState', { instance, database: 'mgc' });
    expect(evidence.found).toMatchObject({ reachable: false, unreachableType: 'NotReachable' });
    const failed = await failureOf(harness.run('readMirroringState', { instance, database: 'mgc', mustAnswer: true }));
    expect(failed.type).toBe('NotReachable');
    expect(failed.message).toMatch(/dc2-sql-a cannot be reached/);
  });
});

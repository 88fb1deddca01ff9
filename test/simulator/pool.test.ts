/**
 * The stand-in Management Shell's SQL cmdlets against a running simulated estate: the same command lines a
 * PowerShell adapter sends, changing mirroring on the simulated SQL Server instances through the driver.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { readPoolState, writePoolState } from '../../simulator/pool/pool-state';
import { eventually, startTestEstate, type TestEstate } from '../helpers/estate';

const run = promisify(execFile);
let env: TestEstate;
afterEach(async () => env?.close());

/** Runs one cmdlet line through the topology's pool-control command, as the pool-control activity will. */
async function shell(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [program, ...args] = env.topology.poolControl.command;
  return run(program, [...args, line]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({
      code: err.code,
      stdout: err.stdout,
      stderr: err.stderr,
    }),
  );
}

function mirroring(instance: string, database = 'mgc') {
  return env.estate
    .snapshot()
    .instances.find((candidate) => candidate.name === instance)!
    .databases.find((candidate) => candidate.name === database);
}

describe('stand-in Management Shell against the simulated estate', () => {
  it('Invoke-CsDatabaseFailover -NewPrincipal Mirror fails mgc over to the mirror, and back with -NewPrincipal Primary', async () => {
    env = await startTestEstate();
    const toMirror = await shell(
      'Invoke-CsDatabaseFailover -PoolFqdn pchat.sim.local -DatabaseType PersistentChat -NewPrincipal Mirror -Confirm:$false',
    );
    expect(toMirror.stderr).toBe('');
    expect(toMirror.code).toBe(0);
    expect(mirroring('dc1-sql-b')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
    expect(mirroring('dc1-sql-a')).toMatchObject({ state: 'RESTORING', mirroring: { role: 'MIRROR' } });
    expect(mirroring('dc1-sql-a', 'mgccomp')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });

    // Right after a failover the session is SYNCHRONIZING: the cmdlet reports SQL Server's refusal.
    const tooSoon = await shell(
      'Invoke-CsDatabaseFailover -PoolFqdn pchat.sim.local -DatabaseType PersistentChat -NewPrincipal Primary -Confirm:$false',
    );
    if (tooSoon.code !== 0) expect(tooSoon.stderr).toMatch(/1422|not caught up/);
    await eventually(() => mirroring('dc1-sql-b')?.mirroring?.state === 'SYNCHRONIZED', 5_000, 'SYNCHRONIZED');
    const back = await shell(
      'Invoke-CsDatabaseFailover -PoolFqdn pchat.sim.local -DatabaseType PersistentChat -NewPrincipal Primary -Confirm:$false',
    );
    expect(back.code).toBe(0);
    expect(mirroring('dc1-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
  });

  it('Install-CsMirrorDatabase mirrors the recovered backup database onto backupMirror after a failover to DC2', async () => {
    env = await startTestEstate();
    // The backup instance holds a recovered mgc, as after runbook 4 step 8, and the pool is FailedOver.
    const seed = path.join(env.topology.backupShare.sqlPath, 'mgc_seed.bak');
    await env.query('dc1-sql-a', 'BACKUP DATABASE [mgc] TO DISK = @seed WITH INIT', { seed });
    await env.query('dc2-sql-a', 'RESTORE DATABASE [mgc] FROM DISK = @seed WITH RECOVERY', { seed });
    writePoolState(env.estate.poolStateFile, { ...readPoolState(env.estate.poolStateFile), poolState: 'FailedOver' });

    const installed = await shell(
      `Install-CsMirrorDatabase -DatabaseType PersistentChat -SqlServerFqdn 'sqldc2a.sim.local' -FileShare '${env.topology.backupShare.sqlPath}' -DropExistingDatabasesOnMirror -Confirm:$false`,
    );
    expect(installed.stderr).toBe('');
    expect(installed.code).toBe(0);
    expect(mirroring('dc2-sql-a')).toMatchObject({
      state: 'ONLINE',
      mirroring: { role: 'PRINCIPAL', partner: 'SQLDC2B' },
    });
    expect(mirroring('dc2-sql-b')).toMatchObject({
      state: 'RESTORING',
      mirroring: { role: 'MIRROR', partner: 'SQLDC2A' },
    });
  });

  it('a failing SQL step surfaces its SQL Server error and exits non-zero', async () => {
    env = await startTestEstate();
    await env.estate.stopInstance('dc1-sql-a');
    const result = await shell(
      'Invoke-CsDatabaseFailover -PoolFqdn pchat.sim.local -DatabaseType PersistentChat -NewPrincipal Mirror -Confirm:$false',
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Invoke-CsDatabaseFailover/);
  });
});

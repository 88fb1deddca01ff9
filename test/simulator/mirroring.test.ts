/**
 * Database mirroring in the simulator, driven through the real mssql driver as an operator's T-SQL would drive it:
 * who may fail over, when, and what each side looks like afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errorNumbers, eventually, startTestEstate, type TestEstate } from '../helpers/estate';

let env: TestEstate;
afterEach(async () => env?.close());

async function mirroringOf(instance: string, database = 'mgc') {
  const result = await env.query(
    instance,
    `SELECT d.state_desc, m.mirroring_role_desc, m.mirroring_state_desc, m.mirroring_safety_level_desc, m.mirroring_role_sequence
       FROM sys.databases d JOIN sys.database_mirroring m ON m.database_id = d.database_id WHERE d.name = @name`,
    { name: database },
  );
  return result.recordset[0] as {
    state_desc: string;
    mirroring_role_desc: string | null;
    mirroring_state_desc: string | null;
    mirroring_safety_level_desc: string | null;
    mirroring_role_sequence: number | null;
  };
}

async function failure(promise: Promise<unknown>): Promise<number[]> {
  try {
    await promise;
  } catch (err) {
    return errorNumbers(err);
  }
  throw new Error('the statement succeeded but should have failed');
}

describe('simulated database mirroring', () => {
  it('starts as a deployed pool: principal on primary, SYNCHRONIZED high-safety mirror', async () => {
    env = await startTestEstate();
    expect(await mirroringOf('dc1-sql-a')).toMatchObject({
      state_desc: 'ONLINE',
      mirroring_role_desc: 'PRINCIPAL',
      mirroring_state_desc: 'SYNCHRONIZED',
      mirroring_safety_level_desc: 'FULL',
    });
    expect(await mirroringOf('dc1-sql-b')).toMatchObject({
      state_desc: 'RESTORING',
      mirroring_role_desc: 'MIRROR',
      mirroring_state_desc: 'SYNCHRONIZED',
    });
  });

  it('planned FAILOVER on the principal swaps the roles on both sides and disconnects users of the database', async () => {
    env = await startTestEstate();
    const user = await env.connect('dc1-sql-a', { database: 'mgc' });
    await user.request().query('SELECT COUNT(*) AS n FROM dbo.messages');

    await env.query('dc1-sql-a', 'ALTER DATABASE [mgc] SET PARTNER FAILOVER');

    expect(await mirroringOf('dc1-sql-a')).toMatchObject({
      state_desc: 'RESTORING',
      mirroring_role_desc: 'MIRROR',
      mirroring_role_sequence: 2,
    });
    expect(await mirroringOf('dc1-sql-b')).toMatchObject({
      state_desc: 'ONLINE',
      mirroring_role_desc: 'PRINCIPAL',
      mirroring_role_sequence: 2,
    });
    // The session that used mgc on the old principal is gone: its next request fails.
    await expect(user.request().query('SELECT 1 AS one')).rejects.toThrow();
    // The new mirror catches up and the session is SYNCHRONIZED again.
    await eventually(
      async () => (await mirroringOf('dc1-sql-b')).mirroring_state_desc === 'SYNCHRONIZED',
      5_000,
      'SYNCHRONIZED',
    );
    // mgccomp was not touched.
    expect(await mirroringOf('dc1-sql-a', 'mgccomp')).toMatchObject({ mirroring_role_desc: 'PRINCIPAL' });
  });

  it('refuses FAILOVER on the mirror (1470), while SYNCHRONIZING (1422), with SAFETY OFF (1477), outside master (5001)', async () => {
    env = await startTestEstate({ synchronizeAfterMs: 60_000 });
    expect(await failure(env.query('dc1-sql-b', 'ALTER DATABASE mgc SET PARTNER FAILOVER'))).toEqual([1470, 5069]);

    await env.query('dc1-sql-a', 'ALTER DATABASE mgc SET PARTNER SAFETY OFF');
    expect(await mirroringOf('dc1-sql-a')).toMatchObject({
      mirroring_safety_level_desc: 'OFF',
      mirroring_state_desc: 'SYNCHRONIZING',
    });
    expect(await failure(env.query('dc1-sql-a', 'ALTER DATABASE mgc SET PARTNER FAILOVER'))).toEqual([1477, 5069]);

    // Back to FULL: the mirror must catch up first (synchronizeAfterMs is long here), so the session is SYNCHRONIZING.
    await env.query('dc1-sql-a', 'ALTER DATABASE mgc SET PARTNER SAFETY FULL');
    expect(await mirroringOf('dc1-sql-a')).toMatchObject({
      mirroring_safety_level_desc: 'FULL',
      mirroring_state_desc: 'SYNCHRONIZING',
    });
    expect(await failure(env.query('dc1-sql-a', 'ALTER DATABASE mgc SET PARTNER FAILOVER'))).toEqual([1422, 5069]);

    expect(await failure(env.query('dc1-sql-a', 'USE mgc; ALTER DATABASE mgc SET PARTNER FAILOVER'))).toEqual([
      5001, 5069,
    ]);
  });

  it('allows forced service only on the mirror and only with the principal unreachable; the old principal comes back as a suspended mirror', async () => {
    env = await startTestEstate();
    env.estate.chat.start(50);
    await eventually(() => env.estate.chat.snapshot().acknowledged >= 10, 10_000, 'chat messages');
    env.estate.chat.stop();

    expect(
      await failure(env.query('dc1-sql-a', 'ALTER DATABASE mgc SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS')),
    ).toEqual([1455, 5069]);
    expect(
      await failure(env.query('dc1-sql-b', 'ALTER DATABASE mgc SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS')),
    ).toEqual([1455, 5069]);

    await env.estate.stopInstance('dc1-sql-a');
    await eventually(
      async () => (await mirroringOf('dc1-sql-b')).mirroring_state_desc === 'DISCONNECTED',
      5_000,
      'DISCONNECTED',
    );
    await env.query('dc1-sql-b', 'ALTER DATABASE mgc SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS');
    expect(await mirroringOf('dc1-sql-b')).toMatchObject({
      state_desc: 'ONLINE',
      mirroring_role_desc: 'PRINCIPAL',
      mirroring_state_desc: 'SUSPENDED',
    });
    // Synchronous mirroring: every acknowledged message is on the new principal.
    expect(env.estate.lostMessages('dc1-sql-b')).toEqual([]);

    await env.estate.startInstance('dc1-sql-a');
    await eventually(
      async () => (await mirroringOf('dc1-sql-a')).mirroring_role_desc === 'MIRROR',
      5_000,
      'old principal demoted',
    );
    expect(await mirroringOf('dc1-sql-a')).toMatchObject({
      state_desc: 'RESTORING',
      mirroring_state_desc: 'SUSPENDED',
    });

    await env.query('dc1-sql-b', 'ALTER DATABASE mgc SET PARTNER RESUME');
    await eventually(
      async () => (await mirroringOf('dc1-sql-a')).mirroring_state_desc === 'SYNCHRONIZED',
      5_000,
      'resumed',
    );
  });

  it('loses unshipped log on forced service after asynchronous mirroring (SAFETY OFF)', async () => {
    env = await startTestEstate();
    await env.query('dc1-sql-a', 'ALTER DATABASE mgc SET PARTNER SAFETY OFF');
    // Partition first: the principal keeps accepting writes that can no longer reach the mirror.
    env.estate.partition('dc1-sql-a', 'dc1-sql-b');
    for (let index = 0; index < 5; index++) await env.estate.chat.postOne();
    await env.estate.stopInstance('dc1-sql-a');
    await env.query('dc1-sql-b', 'ALTER DATABASE mgc SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS');
    expect(env.estate.lostMessages('dc1-sql-b')).toHaveLength(5);
  });

  it('SET PARTNER OFF removes mirroring on both sides and leaves the former mirror RESTORING', async () => {
    env = await startTestEstate();
    expect(await failure(env.query('dc2-sql-a', 'ALTER DATABASE mgc SET PARTNER OFF'))).toEqual([911, 5069]);
    await env.query('dc1-sql-b', 'ALTER DATABASE mgc SET PARTNER OFF');
    expect(await mirroringOf('dc1-sql-a')).toMatchObject({
      state_desc: 'ONLINE',
      mirroring_role_desc: null,
      mirroring_state_desc: null,
    });
    expect(await mirroringOf('dc1-sql-b')).toMatchObject({ state_desc: 'RESTORING', mirroring_role_desc: null });
    expect(await failure(env.query('dc1-sql-a', 'ALTER DATABASE mgc SET PARTNER FAILOVER'))).toEqual([1416, 5069]);
    // The former mirror can be recovered: a new recovery fork, and an independent database.
    await env.query('dc1-sql-b', 'RESTORE DATABASE mgc WITH RECOVERY');
    expect(await mirroringOf('dc1-sql-b')).toMatchObject({ state_desc: 'ONLINE' });
  });

  it('SUSPEND stops shipping (mirror falls behind) and RESUME catches up', async () => {
    env = await startTestEstate();
    await env.query('dc1-sql-b', 'ALTER DATABASE mgc SET PARTNER SUSPEND');
    expect(await mirroringOf('dc1-sql-a')).toMatchObject({ mirroring_state_desc: 'SUSPENDED' });
    await env.estate.chat.postOne();
    const mirror = () =>
      env.estate
        .snapshot()
        .instances.find((instance) => instance.name === 'dc1-sql-b')!
        .databases.find((database) => database.name === 'mgc')!;
    expect(mirror().messages).toBe(0);
    expect(await failure(env.query('dc1-sql-b', 'ALTER DATABASE mgc SET PARTNER RESUME'))).toEqual([1470, 5069]);
    await env.query('dc1-sql-a', 'ALTER DATABASE mgc SET PARTNER RESUME');
    await eventually(() => mirror().messages === 1, 5_000, 'mirror caught up');
  });
});

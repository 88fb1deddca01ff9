/**
 * Client-level behaviour of the simulated instances (not the protocol fixture: the real engine behind TDS):
 * logins, sessions and KILL, cancel and timeout of a running statement, many connections, a second client (FreeTDS).
 */
import sql from 'mssql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSecret } from '../../topology/secrets';
import { eventually, startTestEstate, type TestEstate } from '../helpers/estate';
import { runTsql, tsqlRows } from './fixtures/freetds';

let env: TestEstate;
beforeAll(async () => {
  env = await startTestEstate();
});
afterAll(async () => env?.close());

describe('simulated instances and their clients', () => {
  it('refuses a wrong password with 18456 and an unusable initial database with the login error', async () => {
    await expect(env.connect('dc1-sql-a', { password: 'wrong' })).rejects.toMatchObject({
      code: 'ELOGIN',
      message: "Login failed for user 'sa'.",
    });
    // mgc on the mirror is RESTORING: a login asking for it fails.
    await expect(env.connect('dc1-sql-b', { database: 'mgc' })).rejects.toMatchObject({ code: 'ELOGIN' });
    const ok = await env.connect('dc1-sql-a', { database: 'mgc' });
    expect((await ok.request().query('SELECT DB_NAME() AS db')).recordset[0].db).toBe('mgc');
    await ok.close();
  });

  it('lists sessions in sp_who2 and sys.dm_exec_sessions, and KILL ends one', async () => {
    const chat = await env.connect('dc1-sql-a', {
      database: 'mgc',
      options: { appName: 'Persistent Chat Server', workstationId: 'pchat-fe1.sim.local' },
    });
    await chat.request().query('SELECT 1 AS one');
    const admin = await env.connect('dc1-sql-a');
    // mssql's connect() opens and drops a probe connection; wait until the server has seen it go.
    const onMgc: Record<string, unknown>[] = await eventually(
      async () => {
        const rows: Record<string, unknown>[] = (await admin.request().query('EXEC sp_who2')).recordset.filter(
          (row) => row.DBName === 'mgc',
        );
        return rows.length === 1 ? rows : undefined;
      },
      5_000,
      'one session on mgc',
    );
    expect(onMgc[0]).toMatchObject({
      HostName: 'pchat-fe1.sim.local',
      ProgramName: 'Persistent Chat Server',
      Login: 'sa',
    });
    const spid = Number((onMgc[0].SPID as string[])[0]);
    const sessions = await admin
      .request()
      .query(
        `SELECT s.session_id FROM sys.dm_exec_sessions s WHERE s.database_id = DB_ID(N'mgc') AND s.is_user_process = 1`,
      );
    expect(sessions.recordset.map((row) => row.session_id)).toEqual([spid]);

    await admin.request().query(`KILL ${spid}`);
    const after = await admin
      .request()
      .query(`SELECT COUNT(*) AS n FROM sys.dm_exec_sessions WHERE database_id = DB_ID(N'mgc')`);
    expect(after.recordset[0].n).toBe(0);
    // The client's pool notices the dead connection and opens a new session.
    const reconnected = await chat.request().query('SELECT @@SPID AS spid');
    expect(reconnected.recordset[0].spid).not.toBe(spid);
    await expect(admin.request().query(`KILL ${spid}`)).rejects.toMatchObject({ number: 6106 });
    await expect(
      admin
        .request()
        .query(
          'KILL @@SPID'.replace(
            '@@SPID',
            String((await admin.request().query('SELECT @@SPID AS spid')).recordset[0].spid),
          ),
        ),
    ).rejects.toMatchObject({ number: 6104 });
  });

  it('cancels a long statement (ECANCEL) and times one out (ETIMEOUT), and the connections stay usable', async () => {
    const pool = await env.connect('dc1-sql-a', { requestTimeout: 60_000 });
    const request = pool.request();
    const running = request.query("WAITFOR DELAY '00:00:30'");
    setTimeout(() => request.cancel(), 200);
    await expect(running).rejects.toMatchObject({ code: 'ECANCEL' });
    expect((await pool.request().query('SELECT 1 AS one')).recordset[0].one).toBe(1);

    const short = await env.connect('dc1-sql-a', { requestTimeout: 300 });
    await expect(short.request().query("WAITFOR DELAY '00:00:30'")).rejects.toMatchObject({ code: 'ETIMEOUT' });
    expect((await short.request().query('SELECT 2 AS two')).recordset[0].two).toBe(2);
  });

  it('answers a batch with nothing to run (a comment only) with a bare DONE, as SQL Server does', async () => {
    const pool = await env.connect('dc1-sql-a');
    expect(await pool.request().batch('-- nothing to run')).toMatchObject({ recordsets: [], rowsAffected: [] });
  });

  it('serves 50 concurrent connections', async () => {
    const pools = await Promise.all(
      Array.from({ length: 50 }, () => env.connect('dc2-sql-a', { pool: { max: 1, min: 1 } })),
    );
    const results = await Promise.all(
      pools.map((pool, index) => pool.request().input('n', sql.Int, index).query('SELECT @n AS n, @@SPID AS spid')),
    );
    expect(results.map((result) => result.recordset[0].n)).toEqual(Array.from({ length: 50 }, (_, index) => index));
    expect(new Set(results.map((result) => result.recordset[0].spid)).size).toBe(50);
    await Promise.all(pools.map((pool) => pool.close()));
  });

  it('answers a second, independent client: FreeTDS tsql', async () => {
    const instance = env.topology.instances.find((candidate) => candidate.name === 'dc1-sql-a')!;
    const { stdout } = await runTsql({
      host: instance.host,
      port: instance.port!,
      user: instance.login,
      password: resolveSecret(instance.password),
      batches: ["SELECT name, state_desc FROM sys.databases WHERE name = N'mgc'"],
    });
    expect(tsqlRows(stdout)).toEqual([{ name: 'mgc', state_desc: 'ONLINE' }]);
  });
});

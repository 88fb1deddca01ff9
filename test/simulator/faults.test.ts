/**
 * The faults of a bad night on an instance that is still up, applied through the control API's code path and seen
 * by the mssql driver with SQL Server's error numbers: logins refused while the port answers, a database SUSPECT,
 * in EMERGENCY or OFFLINE.
 */
import { Connection } from 'tedious';
import { afterEach, describe, expect, it } from 'vitest';
import { driverEncryption } from '../../topology/encryption';
import { resolveSecret } from '../../topology/secrets';
import { applyFault } from '../../simulator/control';
import { errorNumbers, startTestEstate, type TestEstate } from '../helpers/estate';

let env: TestEstate | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/**
 * A login to an instance with tedious (mssql's driver) itself, which reports every ERROR token of the login
 * response: 'connected', or the errors SQL Server sent, in order (mssql keeps only the last one's text).
 */
function loginErrors(env: TestEstate, name: string, database = 'master'): Promise<'connected' | LoginError[]> {
  const instance = env.topology.instances.find((candidate) => candidate.name === name)!;
  const connection = new Connection({
    server: instance.host,
    authentication: {
      type: 'default',
      options: { userName: instance.login, password: resolveSecret(instance.password) },
    },
    options: { port: instance.port, database, ...driverEncryption(instance) },
  });
  const errors: LoginError[] = [];
  connection.on('errorMessage', (token) =>
    errors.push({ number: token.number, class: token.class, message: token.message }),
  );
  return new Promise((resolve) => {
    connection.on('connect', (err) => {
      connection.close();
      resolve(err ? errors : 'connected');
    });
    connection.connect();
  });
}

interface LoginError {
  number: number;
  class: number;
  message: string;
}

describe('refused logins', () => {
  it('fail with 18456 (or the error asked for) while the port answers and open sessions go on', async () => {
    env = await startTestEstate();
    const open = await env.connect('dc1-sql-a', { pool: { min: 1, max: 1 } });
    await open.request().query('SELECT 1 AS one');
    await applyFault(env.estate, { kind: 'refuse-logins', instance: 'dc1-sql-a' });
    expect(await loginErrors(env, 'dc1-sql-a')).toEqual([
      { number: 18456, class: 14, message: "Login failed for user 'sa'." },
    ]);
    expect((await open.request().query('SELECT 1 AS one')).recordset).toEqual([{ one: 1 }]);

    await applyFault(env.estate, { kind: 'refuse-logins', instance: 'dc1-sql-a', error: 18451 });
    expect(await loginErrors(env, 'dc1-sql-a')).toEqual([
      {
        number: 18451,
        class: 14,
        message: "Login failed for user 'sa'. Only administrators may connect at this time.",
      },
    ]);
    // mssql shows the text of the last error.
    await expect(env.connect('dc1-sql-a')).rejects.toMatchObject({
      code: 'ELOGIN',
      message: expect.stringMatching(/^Login failed for user 'sa'\. Only administrators/),
    });
    await expect(applyFault(env.estate, { kind: 'refuse-logins', instance: 'dc1-sql-a', error: 1205 })).rejects.toThrow(
      /error 1205 is not a login error the simulator knows; it refuses logins with .*18456/,
    );

    await applyFault(env.estate, { kind: 'accept-logins', instance: 'dc1-sql-a' });
    expect(await loginErrors(env, 'dc1-sql-a')).toBe('connected');
  });
});

describe('database states', () => {
  it('SUSPECT: 926 to users, 4060 at login, mirroring suspended, and recovery fails again', async () => {
    env = await startTestEstate();
    const user = await env.connect('dc1-sql-a', { database: 'mgc', pool: { min: 1, max: 1 } });
    await user.request().query('SELECT 1 AS one');
    await applyFault(env.estate, { kind: 'db-state', instance: 'dc1-sql-a', database: 'mgc', state: 'SUSPECT' });

    // The database's users were disconnected, and logging in to it fails (4060, then 18456 which the client shows).
    const sessions = await env.query(
      'dc1-sql-a',
      `SELECT COUNT(*) AS n FROM sys.dm_exec_sessions WHERE database_id = DB_ID(N'mgc')`,
    );
    expect(sessions.recordset).toEqual([{ n: 0 }]);
    await expect(user.request().query('SELECT 1 AS one')).rejects.toMatchObject({ code: 'ELOGIN' });
    expect(await loginErrors(env, 'dc1-sql-a', 'mgc')).toEqual([
      { number: 4060, class: 11, message: 'Cannot open database "mgc" requested by the login. The login failed.' },
      { number: 18456, class: 14, message: "Login failed for user 'sa'." },
    ]);
    const read = await env.query('dc1-sql-a', 'SELECT COUNT(*) AS n FROM mgc.dbo.messages').catch((err) => err);
    expect(errorNumbers(read)).toEqual([926]);
    const states = await env.query(
      'dc1-sql-a',
      `SELECT d.state_desc, m.mirroring_state_desc FROM sys.databases d
         JOIN sys.database_mirroring m ON m.database_id = d.database_id WHERE d.name = N'mgc'`,
    );
    expect(states.recordset).toEqual([{ state_desc: 'SUSPECT', mirroring_state_desc: 'SUSPENDED' }]);
    expect(env.estate.snapshot().instances[1].databases[0].mirroring?.state).toBe('SUSPENDED');

    const online = await env.query('dc1-sql-a', 'ALTER DATABASE mgc SET ONLINE').catch((err) => err);
    expect(errorNumbers(online)).toEqual([926, 5069]);
  });

  it('EMERGENCY: readable by sysadmin, not writable (3906); OFFLINE: 942; ONLINE again ends the fault', async () => {
    env = await startTestEstate();
    await env.estate.chat.postOne();
    await applyFault(env.estate, { kind: 'db-state', instance: 'dc1-sql-a', database: 'mgc', state: 'EMERGENCY' });
    expect((await env.query('dc1-sql-a', 'SELECT COUNT(*) AS n FROM mgc.dbo.messages')).recordset).toEqual([{ n: 1 }]);
    const write = await env
      .query('dc1-sql-a', `EXEC mgc.dbo.post_chat_message @client_id = N'x', @author = N'erin', @body = N'hello'`)
      .catch((err) => err);
    expect(errorNumbers(write)).toEqual([3906]);

    await applyFault(env.estate, { kind: 'db-state', instance: 'dc1-sql-a', database: 'mgc', state: 'OFFLINE' });
    const offline = await env.query('dc1-sql-a', 'USE mgc').catch((err) => err);
    expect(errorNumbers(offline)).toEqual([942]);

    await applyFault(env.estate, { kind: 'db-state', instance: 'dc1-sql-a', database: 'mgc', state: 'ONLINE' });
    expect((await env.query('dc1-sql-a', 'SELECT COUNT(*) AS n FROM mgc.dbo.messages')).recordset).toEqual([{ n: 1 }]);
    // Not on a mirror: its copy is RESTORING, nothing a user could reach.
    await expect(
      applyFault(env.estate, { kind: 'db-state', instance: 'dc1-sql-b', database: 'mgc', state: 'SUSPECT' }),
    ).rejects.toThrow(/mgc on dc1-sql-b is RESTORING \(a mirror\)/);
  });
});

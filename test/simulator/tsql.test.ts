/**
 * The T-SQL subset, through the real driver: what Microsoft's procedures and pchat-dr's activities send is
 * understood; everything else is refused with error 102 naming the statement, never silently accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sql from 'mssql';
import { startTestEstate, type TestEstate } from '../helpers/estate';

let env: TestEstate;
let pool: sql.ConnectionPool;

beforeAll(async () => {
  env = await startTestEstate();
  pool = await env.connect('dc1-sql-a');
});
afterAll(async () => env?.close());

describe('the simulator T-SQL subset', () => {
  it('reads case-insensitive keywords, bracketed and quoted identifiers, N strings with doubled quotes, comments', async () => {
    const result = await pool.request().batch(`
      -- a comment
      select [name] AS [it's]]name], "state_desc" /* a /* nested */ comment */ FROM SYS.DATABASES where NAME = N'mgc';
      SELECT N'O''Brien' AS quoted, 'x' + 'y' AS joined, 40 + 2 AS answer, QUOTENAME(N'a]b') AS bracketed`);
    const [databases, values] = result.recordsets as sql.IRecordSet<Record<string, unknown>>[];
    expect(databases).toEqual([{ "it's]name": 'mgc', state_desc: 'ONLINE' }]);
    expect(values).toEqual([{ quoted: "O'Brien", joined: 'xy', answer: 42, bracketed: '[a]]b]' }]);
  });

  it('binds variables from parameters, DECLARE/SET/SELECT @x, and several statements per batch', async () => {
    const request = pool.request();
    request.input('database', sql.NVarChar(128), 'mgc');
    request.input('minimum', sql.Int, 4);
    const result = await request.query(`
      DECLARE @count int = 0, @label nvarchar(20);
      SELECT @count = COUNT(*) FROM sys.databases WHERE database_id > @minimum OR name = @database;
      SET @label = N'user databases';
      SELECT @label AS label, @count AS count`);
    expect(result.recordset).toEqual([{ label: 'user databases', count: 2 }]);
  });

  it('calls procedures with positional and named arguments, OUTPUT parameters and return status', async () => {
    const request = pool.request();
    request.input('share', sql.NVarChar(500), env.topology.backupShare.sqlPath);
    const result = await request.query(`
      DECLARE @job uniqueidentifier, @primary uniqueidentifier, @status int;
      EXEC @status = master.dbo.sp_add_log_shipping_primary_database N'mgc', @share, @share, N'LSBackup_mgc',
        @backup_job_id = @job OUTPUT, @primary_id = @primary OUTPUT, @overwrite = 1;
      SELECT @status AS status, j.name FROM msdb.dbo.sysjobs j WHERE j.job_id = @job`);
    expect(result.recordset).toEqual([{ status: 0, name: 'LSBackup_mgc' }]);

    const rpc = pool.request();
    rpc.input('database', sql.NVarChar(128), 'mgc');
    rpc.input('backup_directory', sql.NVarChar(500), env.topology.backupShare.sqlPath);
    rpc.input('backup_share', sql.NVarChar(500), env.topology.backupShare.sqlPath);
    rpc.input('backup_job_name', sql.NVarChar(128), 'LSBackup_mgc_2');
    rpc.input('overwrite', sql.Bit, true);
    rpc.output('backup_job_id', sql.UniqueIdentifier);
    rpc.output('primary_id', sql.UniqueIdentifier);
    const executed = await rpc.execute('master.dbo.sp_add_log_shipping_primary_database');
    expect(executed.returnValue).toBe(0);
    expect(executed.output.backup_job_id).toMatch(/^[0-9A-F-]{36}$/i);
  });

  it('switches database with USE and knows which database it is in', async () => {
    const result = await pool
      .request()
      .batch('USE msdb; SELECT DB_NAME() AS db, COUNT(*) AS jobs FROM dbo.sysjobs; USE master; SELECT DB_NAME() AS db');
    const [inMsdb, inMaster] = result.recordsets as sql.IRecordSet<Record<string, unknown>>[];
    // The second configuration replaced the first (@overwrite = 1): one backup job.
    expect(inMsdb).toEqual([{ db: 'msdb', jobs: 1 }]);
    expect(inMaster).toEqual([{ db: 'master' }]);
  });

  it('joins by key with every condition of the ON, NULL never matching, unmatched LEFT rows kept', async () => {
    const files = await pool
      .request()
      .query(
        `SELECT d.name, f.file_id FROM sys.databases d JOIN sys.master_files f ON f.database_id = d.database_id AND f.file_id = 1 WHERE d.name = N'mgc'`,
      );
    expect(files.recordset).toEqual([{ name: 'mgc', file_id: 1 }]);
    const roles = await pool.request().query(`
      SELECT d.name, m.mirroring_role_desc AS role FROM sys.databases d
        LEFT JOIN sys.database_mirroring m ON m.database_id = d.database_id AND m.mirroring_role_desc = N'principal'
       WHERE d.name IN (N'master', N'mgc') ORDER BY d.name`);
    expect(roles.recordset).toEqual([
      { name: 'master', role: null },
      { name: 'mgc', role: 'PRINCIPAL' },
    ]);
    // A key that is NULL on both sides is unknown, not equal: the LEFT row stays unmatched.
    const unmatched = await pool.request().query(`
      SELECT d.name, m.mirroring_partner_instance AS partner FROM sys.databases d
        LEFT JOIN sys.database_mirroring m ON m.mirroring_partner_instance = d.name WHERE d.name = N'master'`);
    expect(unmatched.recordset).toEqual([{ name: 'master', partner: null }]);
  });

  const refused = [
    'MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE',
    'UPDATE msdb.dbo.sysjobs SET enabled = 0',
    'DELETE FROM msdb.dbo.backupset',
    "INSERT INTO msdb.dbo.sysjobs (name) VALUES ('x')",
    'CREATE TABLE t (id int)',
    "CREATE LOGIN x WITH PASSWORD = N'p'",
    'DROP TABLE t',
    'TRUNCATE TABLE msdb.dbo.backupset',
    'SELECT state_desc, COUNT(*) FROM sys.databases GROUP BY state_desc',
    'SELECT name FROM sys.databases UNION SELECT name FROM sys.databases',
    'SELECT name FROM (SELECT name FROM sys.databases) AS d',
    'SELECT name FROM sys.databases WHERE database_id IN (SELECT database_id FROM sys.database_mirroring)',
    "EXEC ('SELECT 1')",
    'BEGIN TRANSACTION',
    'IF 1 = 1 SELECT 1',
    'WHILE 1 = 0 SELECT 1',
    'ALTER AVAILABILITY GROUP ag FAILOVER',
    "ALTER DATABASE mgc SET WITNESS = 'TCP://w:7022'",
    'ALTER DATABASE mgc SET AUTO_CLOSE OFF',
    "BACKUP DATABASE mgc TO DISK = N'/tmp/x.bak' WITH DIFFERENTIAL",
    "RESTORE LOG mgc FROM DISK = N'/tmp/x.trn' WITH STOPAT = '2026-01-01'",
    "BACKUP DATABASE mgc TO URL = N'https://x/y.bak'",
  ];
  it.each(refused)('refuses %s with error 102 naming the unsupported text', async (statement) => {
    const error = await pool
      .request()
      .batch(statement)
      .then(
        () => undefined,
        (err: { number: number; message: string; class: number }) => err,
      );
    expect(error).toMatchObject({ number: 102, class: 15 });
    expect(error!.message).toMatch(/^Incorrect syntax near '.+'\. The pchat-dr simulator does not support /);
  });

  it('parses the whole batch first: a syntax error anywhere means nothing runs', async () => {
    const error = await pool
      .request()
      .batch('CREATE DATABASE never_created; SELECT FROM;')
      .then(
        () => undefined,
        (err: { number: number }) => err,
      );
    expect(error).toMatchObject({ number: 156 });
    const exists = await pool.request().query("SELECT COUNT(*) AS n FROM sys.databases WHERE name = N'never_created'");
    expect(exists.recordset[0].n).toBe(0);
  });

  it('names unknown objects and procedures as SQL Server does (208, 2812)', async () => {
    await expect(pool.request().query('SELECT * FROM sys.nothing_here')).rejects.toMatchObject({
      number: 208,
      message: "Invalid object name 'sys.nothing_here'.",
    });
    await expect(pool.request().query("EXEC xp_cmdshell N'dir'")).rejects.toMatchObject({
      number: 2812,
      message: "Could not find stored procedure 'xp_cmdshell'.",
    });
  });
});

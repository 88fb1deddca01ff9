/**
 * The simulator's TDS layer against the mssql driver (tedious underneath), talking to startTdsServer over TCP with a
 * fixture model (test/simulator/fixtures/fake-sql-model.ts) behind it. Connections and other tedious options are in
 * tds-connections.test.ts, FreeTDS in tds-freetds.test.ts, framing and value encodings in tds-encoding.test.ts.
 */
import sql from 'mssql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TdsServer } from '../../simulator/tds/server';
import { CHECK_INSTANCE_PROCEDURE, FakeSqlModel, Statements } from './fixtures/fake-sql-model';
import { connectPool, SETTLING, startFixtureServer } from './fixtures/tds-server';

describe('TDS server with the mssql driver', () => {
  let model: FakeSqlModel;
  let server: TdsServer;
  let pool: sql.ConnectionPool;

  beforeAll(async () => {
    ({ model, server } = await startFixtureServer());
    pool = await connectPool(server.port);
  });

  afterAll(async () => {
    await pool?.close();
    await server?.close();
  });

  it('logs in and answers SELECT 1', async () => {
    const result = await pool.request().query(Statements.selectOne);
    expect(result.recordset).toEqual([{ one: 1 }]);
    expect(result.rowsAffected).toEqual([1]);
    expect(model.lastRpc?.procedure).toBe('sp_executesql');
  });

  it('decodes typed sp_executesql parameters and returns them unchanged', async () => {
    const at = new Date('2024-05-06T07:08:09.123Z');
    const when = new Date('2023-12-31T23:59:59.997Z');
    const request = pool.request();
    request.input('text', sql.NVarChar(100), 'Persistent Chat – ünïcode');
    request.input('long', sql.NVarChar(sql.MAX), 'y'.repeat(6000));
    request.input('ascii', sql.VarChar(20), 'café €5');
    request.input('count', sql.Int, -42);
    request.input('big', sql.BigInt, '9007199254740993');
    request.input('flag', sql.Bit, true);
    request.input('ratio', sql.Float, 0.125);
    request.input('at', sql.DateTime2(7), at);
    request.input('when', sql.DateTime, when);
    request.input('id', sql.UniqueIdentifier, '6f9619ff-8b86-d011-b42d-00c04fc964ff');
    request.input('amount', sql.Decimal(25, 4), 1234.5678);
    request.input('missing', sql.Int, null);
    const result = await request.query(Statements.echoParameters);

    // What the model received: parameter names, SQL types and exact values.
    const received = model.lastRpc?.parameters ?? [];
    expect(received.map((parameter) => parameter.name)).toEqual([
      '@statement',
      '@params',
      '@text',
      '@long',
      '@ascii',
      '@count',
      '@big',
      '@flag',
      '@ratio',
      '@at',
      '@when',
      '@id',
      '@amount',
      '@missing',
    ]);
    expect(received[0]).toMatchObject({
      type: { kind: 'nvarchar', length: Statements.echoParameters.length },
      value: Statements.echoParameters,
    });
    expect(received.slice(2).map(({ type, value }) => ({ type, value }))).toEqual([
      { type: { kind: 'nvarchar', length: 100 }, value: 'Persistent Chat – ünïcode' },
      { type: { kind: 'nvarchar', length: 'max' }, value: 'y'.repeat(6000) },
      { type: { kind: 'varchar', length: 20 }, value: 'café €5' },
      { type: { kind: 'int' }, value: -42 },
      { type: { kind: 'bigint' }, value: 9007199254740993n },
      { type: { kind: 'bit' }, value: true },
      { type: { kind: 'float' }, value: 0.125 },
      { type: { kind: 'datetime2', scale: 7 }, value: at },
      { type: { kind: 'datetime' }, value: when },
      { type: { kind: 'uniqueidentifier' }, value: '6F9619FF-8B86-D011-B42D-00C04FC964FF' },
      { type: { kind: 'numeric', precision: 25, scale: 4 }, value: '1234.5678' },
      { type: { kind: 'int' }, value: null },
    ]);

    // And back through the driver, encoded as result columns of the same types.
    expect(result.recordset).toEqual([
      {
        text: 'Persistent Chat – ünïcode',
        long: 'y'.repeat(6000),
        ascii: 'café €5',
        count: -42,
        big: '9007199254740993',
        flag: true,
        ratio: 0.125,
        at,
        when,
        id: '6F9619FF-8B86-D011-B42D-00C04FC964FF',
        amount: 1234.5678,
        missing: null,
      },
    ]);
  });

  it('encodes every column type faithfully, including NULLs and numeric(25,0) LSNs', async () => {
    const result = await pool.request().query(Statements.typedColumns);
    const [row, nulls] = result.recordset;
    expect(row).toMatchObject({
      int_col: 2147483647,
      bigint_col: '9007199254740993',
      bit_col: true,
      nvarchar_col: 'Persistent Chat – pool',
      datetime_col: new Date('2024-05-06T07:08:09.123Z'),
      datetime2_col: new Date('2024-05-06T07:08:09.123Z'),
      guid_col: '6F9619FF-8B86-D011-B42D-00C04FC964FF',
      varchar_col: 'café €5',
      float_col: 0.25,
      varbinary_col: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
    });
    expect(row.nvarchar_max_col).toBe('x'.repeat(5000));
    // tedious turns numeric into a JS number: 34000000016700001 becomes the nearest double, as with SQL Server.
    expect(row.lsn_col).toBe(34000000016700000);
    expect(String(row.lsn_col)).not.toBe('34000000016700001');
    expect(Object.values(nulls)).toEqual(Object.keys(nulls).map(() => null));

    const columns = result.recordset.columns;
    expect(columns.lsn_col).toMatchObject({ type: sql.Numeric, precision: 25, scale: 0, nullable: true });
    expect(columns.nvarchar_max_col).toMatchObject({ type: sql.NVarChar, length: 0xffff }); // the (max) marker
    expect(columns.bigint_col.type).toBe(sql.BigInt);
    expect(columns.datetime2_col).toMatchObject({ type: sql.DateTime2, scale: 7 });
  });

  it('runs a procedure with input and OUTPUT parameters, a result set and a return status', async () => {
    const request = pool.request();
    request.input('instance', sql.NVarChar(128), 'SQLA');
    request.input('attempts', sql.Int, 2);
    request.output('next_attempt', sql.Int);
    request.output('status', sql.NVarChar(40));
    const result = await request.execute(CHECK_INSTANCE_PROCEDURE);

    expect(model.lastRpc?.procedure).toBe(CHECK_INSTANCE_PROCEDURE);
    expect(model.lastRpc?.parameters.map(({ name, output }) => ({ name, output }))).toEqual([
      { name: '@instance', output: false },
      { name: '@attempts', output: false },
      { name: '@next_attempt', output: true },
      { name: '@status', output: true },
    ]);
    expect(result.recordsets).toEqual([[{ instance: 'SQLA' }, { instance: 'SQLA\\MIRROR' }]]);
    expect(result.returnValue).toBe(7);
    expect(result.output).toEqual({ next_attempt: 3, status: 'ready:SQLA' });
    expect(result.rowsAffected).toEqual([2]);
  });

  it('returns every result set and row count of a multi-statement batch', async () => {
    const result = await pool.request().batch(Statements.instancesBatch);
    expect(result.recordsets).toEqual([[{ name: 'SQLA' }, { name: 'SQLB' }], [{ total: 2 }]]);
    expect(result.rowsAffected).toEqual([2, 2, 1]);
  });

  it('reports the last ERROR as the error and the earlier ones as precedingErrors, and delivers INFO messages', async () => {
    const infos: unknown[] = [];
    const failing = pool.request();
    failing.on('info', (info) => infos.push(info));
    const error = await failing.batch(Statements.failingRestore).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(sql.RequestError);
    expect(error).toMatchObject({
      number: 3013,
      class: 16,
      state: 1,
      lineNumber: 1,
      serverName: 'FIXTURE01',
      message: 'RESTORE LOG is terminating abnormally.',
    });
    const preceding = (error as sql.RequestError & { precedingErrors: sql.RequestError[] }).precedingErrors;
    expect(preceding.map((previous) => previous.number)).toEqual([4305]);
    expect(infos).toMatchObject([
      { number: 0, class: 0, message: 'Processed 0 pages for database pchat.', serverName: 'FIXTURE01' },
    ]);

    const printed: unknown[] = [];
    const printing = pool.request();
    printing.on('info', (info) => printed.push(info));
    await printing.batch(Statements.print);
    expect(printed).toMatchObject([
      { number: 0, state: 1, class: 0, message: 'fixture says hello', serverName: 'FIXTURE01' },
    ]);
  });

  it("refuses a wrong password with the model's 18456 message", async () => {
    const error = await connectPool(server.port, { password: 'not-the-password' }).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(sql.ConnectionError);
    expect(error).toMatchObject({ code: 'ELOGIN', message: "Login failed for user 'sa'." });
  });

  it('cancels a long statement through ATTENTION and keeps the connection usable', async () => {
    const single = await connectPool(server.port, { pool: { max: 1 } });
    try {
      await single.request().query(Statements.selectOne); // the pool's one connection is open from here on
      const logins = model.logins;
      const aborted = model.abortedStatements;
      const request = single.request();
      const started = Date.now();
      const outcome = request.query(Statements.longWait).then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      await vi.waitFor(() => expect(model.waitingStatements).toBe(1), SETTLING);
      request.cancel();
      expect(await outcome).toMatchObject({ name: 'RequestError', code: 'ECANCEL' });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(model.abortedStatements).toBe(aborted + 1);

      const next = await single.request().query(Statements.selectOne);
      expect(next.recordset).toEqual([{ one: 1 }]);
      expect(model.logins).toBe(logins); // the same connection answered
    } finally {
      await single.close();
    }
  });

  it('times out a long statement (ETIMEOUT) and keeps the pool working', async () => {
    const impatient = await connectPool(server.port, { requestTimeout: 500, pool: { max: 1 } });
    try {
      await impatient.request().query(Statements.selectOne); // the pool's one connection is open from here on
      const logins = model.logins;
      const aborted = model.abortedStatements;
      const started = Date.now();
      const error = await impatient
        .request()
        .query(Statements.longWait)
        .then(
          () => undefined,
          (rejection: unknown) => rejection,
        );
      expect(error).toMatchObject({ name: 'RequestError', code: 'ETIMEOUT' });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(model.abortedStatements).toBe(aborted + 1);

      const next = await impatient.request().query(Statements.selectOne);
      expect(next.recordset).toEqual([{ one: 1 }]);
      expect(model.logins).toBe(logins);
    } finally {
      await impatient.close();
    }
  });

  it('reports a rejected execute as internal error 50000, logs its stack, and keeps the connection', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const logins = model.logins;
      const error = await pool
        .request()
        .query(Statements.simulatorBug)
        .then(
          () => undefined,
          (rejection: unknown) => rejection,
        );
      expect(error).toMatchObject({
        number: 50000,
        class: 16,
        message: 'pchat-dr simulator internal error: fixture.crash() failed on purpose',
      });
      expect(stderr.mock.calls.map(([text]) => String(text)).join('')).toMatch(
        /fixture\.crash\(\) failed on purpose\n\s+at /,
      );
      expect((await pool.request().query(Statements.selectOne)).recordset).toEqual([{ one: 1 }]);
      expect(model.logins).toBe(logins);
    } finally {
      stderr.mockRestore();
    }
  });
});

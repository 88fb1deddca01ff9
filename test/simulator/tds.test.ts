/**
 * The simulator's TDS layer against real clients: the mssql driver (tedious underneath) and FreeTDS' tsql, talking
 * to startTdsServer over TCP with a fixture model (test/simulator/fixtures/fake-sql-model.ts) behind it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import sql from 'mssql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeValue, TdsVersion, typeInfo } from '../../simulator/tds/data-types';
import { readTypedValue } from '../../simulator/tds/parameters';
import { PayloadReader } from '../../simulator/tds/payload';
import { frameMessage, MessageAssembler } from '../../simulator/tds/packets';
import { startTdsServer, type TdsServer } from '../../simulator/tds/server';
import type { SqlType, SqlValue } from '../../simulator/tds/session';
import { CHECK_INSTANCE_PROCEDURE, FakeSqlModel, FIXTURE_PASSWORD, Statements } from './fixtures/fake-sql-model';

const HOST = '127.0.0.1';
/** How long server-side effects of client actions (a socket closing, a statement starting) may take to show. */
const SETTLING = { timeout: 5_000 };

async function connectPool(port: number, config: Partial<sql.config> = {}): Promise<sql.ConnectionPool> {
  const pool = new sql.ConnectionPool({
    server: HOST,
    port,
    user: 'sa',
    password: FIXTURE_PASSWORD,
    database: 'master',
    options: { encrypt: false, trustServerCertificate: true },
    ...config,
  });
  await pool.connect();
  return pool;
}

/**
 * When the server drops a connection during a request, tedious 19.2.2 also emits a code-less 'error' ("No event
 * 'socketError' in state 'Final'") that mssql re-emits on the pool; without a listener it becomes an uncaught error.
 * The request itself still fails with its own error, which is what the tests assert.
 */
function tolerateDroppedConnections(pool: sql.ConnectionPool): void {
  pool.on('error', () => undefined);
}

/** A fresh fixture model behind its own server, for tests that count connections or stop the server. */
async function startFixtureServer(): Promise<{ model: FakeSqlModel; server: TdsServer }> {
  const model = new FakeSqlModel();
  return { model, server: await startTdsServer(model, { host: HOST, port: 0 }) };
}

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

describe('TDS server connections', () => {
  it('serves 50 concurrent connections each running a query at once', async () => {
    const { model, server } = await startFixtureServer();
    const pools = await Promise.all(Array.from({ length: 50 }, () => connectPool(server.port, { pool: { max: 1 } })));
    try {
      // mssql closes the connection it logged in with at connect(); the first query opens the pool's own.
      await Promise.all(pools.map((each) => each.request().query(Statements.selectOne)));
      await vi.waitFor(() => expect(server.connectionCount()).toBe(50), SETTLING);

      const started = Date.now();
      const results = await Promise.all(pools.map((each) => each.request().query(Statements.spidAfterPause)));
      const spids = results.map((result) => result.recordset[0].spid as number);
      expect(new Set(spids).size).toBe(50);
      // Each statement pauses 300 ms: one after another they would take 15 s.
      expect(Date.now() - started).toBeLessThan(6_000);
      expect(server.connectionCount()).toBe(50);
    } finally {
      await Promise.all(pools.map((each) => each.close()));
    }
    await vi.waitFor(() => expect(server.connectionCount()).toBe(0), SETTLING);
    expect(model.closedSessions).toBe(model.logins);
    await server.close();
  });

  it('close() drops open connections and refuses new ones', async () => {
    const { model, server } = await startFixtureServer();
    const pool = await connectPool(server.port, { pool: { max: 1 } });
    tolerateDroppedConnections(pool);
    try {
      await pool.request().query(Statements.selectOne);
      await vi.waitFor(() => expect(server.connectionCount()).toBe(1), SETTLING);
      const closedSessions = model.closedSessions;
      const inFlight = pool
        .request()
        .query(Statements.longWait)
        .then(
          () => undefined,
          (rejection: unknown) => rejection,
        );
      await vi.waitFor(() => expect(model.waitingStatements).toBe(1), SETTLING);
      await server.close();

      expect(await inFlight).toMatchObject({ name: 'RequestError', code: 'ECONNRESET', message: 'socket hang up' });
      expect(model.closedSessions).toBe(closedSessions + 1);
      expect(model.abortedStatements).toBe(1); // the model's statement was told to stop
      expect(server.connectionCount()).toBe(0);

      const refused = await connectPool(server.port).then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      expect(refused).toBeInstanceOf(sql.ConnectionError);
      expect(refused).toMatchObject({ code: 'ESOCKET' });
      const rawConnect = await new Promise<unknown>((resolve) =>
        net.connect(server.port, HOST).once('error', resolve).once('connect', resolve),
      );
      expect(rawConnect).toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await pool.close();
    }
  });

  it('SessionControl.terminate() closes that client connection only', async () => {
    const { model, server } = await startFixtureServer();
    const victim = await connectPool(server.port, { pool: { max: 1 } });
    const bystander = await connectPool(server.port, { pool: { max: 1 } });
    tolerateDroppedConnections(victim);
    try {
      await Promise.all([victim, bystander].map((each) => each.request().query(Statements.selectOne)));
      await vi.waitFor(() => expect(server.connectionCount()).toBe(2), SETTLING);
      const logins = model.logins;
      const error = await victim
        .request()
        .query(Statements.killMe)
        .then(
          () => undefined,
          (rejection: unknown) => rejection,
        );
      expect(error).toMatchObject({ name: 'RequestError', code: 'ECONNRESET' });
      await vi.waitFor(() => expect(server.connectionCount()).toBe(1), SETTLING);
      expect(model.closedSessions).toBe(logins - 1);
      expect((await bystander.request().query(Statements.selectOne)).recordset).toEqual([{ one: 1 }]);
      // The victim's pool replaces the dead connection with a new login.
      expect((await victim.request().query(Statements.selectOne)).recordset).toEqual([{ one: 1 }]);
      expect(model.logins).toBe(logins + 1);
    } finally {
      await Promise.all([victim.close(), bystander.close()]);
      await server.close();
    }
  });
});

describe('TDS server with other tedious connection options', () => {
  let model: FakeSqlModel;
  let server: TdsServer;

  beforeAll(async () => {
    ({ model, server } = await startFixtureServer());
  });

  afterAll(async () => {
    await server?.close();
  });

  it("is refused by the driver when the client asks for encryption (mssql's default) and the server does not offer it", async () => {
    // tedious 20 no longer falls back to clear text when encrypt is true: the login never leaves the client unencrypted.
    await expect(
      connectPool(server.port, { options: { encrypt: true, trustServerCertificate: true } }),
    ).rejects.toThrow(/Server did not negotiate encryption/);
  });

  it.each([512, 32767])(
    'switches to the negotiated packet size %i after login and stamps the SPID in packet headers',
    async (packetSize) => {
      // With `debug` (which @types/mssql does not declare), mssql forwards tedious' log of every packet header it receives:
      // "type:0x04(...), ..., length:0x0200, spid:0x0033, ...".
      const withPacketLog: Partial<sql.config> & { debug: boolean } = {
        options: { encrypt: false, trustServerCertificate: true, packetSize },
        debug: true,
      };
      const pool = await connectPool(server.port, withPacketLog);
      const headers: { length: number; spid: number }[] = [];
      pool.on('debug', (_connection: unknown, line: string) => {
        const header = /type:0x04.*length:0x([0-9A-F]{4}), spid:0x([0-9A-F]{4})/.exec(line);
        if (header) headers.push({ length: parseInt(header[1], 16), spid: parseInt(header[2], 16) });
      });
      try {
        const request = pool.request();
        request.input('text', sql.NVarChar(sql.MAX), 'z'.repeat(40_000));
        request.input('count', sql.Int, 1);
        expect((await request.query(Statements.echoParameters)).recordset).toEqual([
          { text: 'z'.repeat(40_000), count: 1 },
        ]);
        const { spid } = (await pool.request().query(Statements.spidAfterPause)).recordset[0] as { spid: number };
        expect(Math.max(...headers.map((header) => header.length))).toBe(packetSize);
        // The connection's PRELOGIN is answered before a session exists, with SPID 0.
        expect(new Set(headers.map((header) => header.spid))).toEqual(new Set([0, spid]));
      } finally {
        await pool.close();
      }
    },
  );

  it.each(['7_1', '7_2', '7_3_B'] as const)('adapts encodings for TDS %s', async (tdsVersion) => {
    const pool = await connectPool(server.port, {
      options: { encrypt: false, trustServerCertificate: true, tdsVersion },
    });
    try {
      const request = pool.request();
      request.input('count', sql.Int, 7);
      request.input('text', sql.NVarChar(20), 'older client');
      const echoed = await request.query(Statements.echoParameters);
      expect(echoed.recordset).toEqual([{ count: 7, text: 'older client' }]);

      const [row] = (await pool.request().query(Statements.typedColumns)).recordset;
      // Before 7.2 (max) types travel as NTEXT/TEXT/IMAGE, before 7.3 datetime2 as text, as SQL Server sends them.
      expect(row.nvarchar_max_col).toBe('x'.repeat(5000));
      expect(row.datetime2_col).toEqual(
        tdsVersion === '7_3_B' ? new Date('2024-05-06T07:08:09.123Z') : '2024-05-06 07:08:09.1230000',
      );
      expect(row.lsn_col).toBe(34000000016700000);

      const error = await pool
        .request()
        .batch(Statements.failingRestore)
        .then(
          () => undefined,
          (rejection: unknown) => rejection,
        );
      expect(error).toMatchObject({ number: 3013, lineNumber: 1, serverName: 'FIXTURE01' });
      expect((await pool.request().batch(Statements.instancesBatch)).rowsAffected).toEqual([2, 2, 1]);
    } finally {
      await pool.close();
    }
    expect(model.logins).toBeGreaterThan(0);
  });
});

describe('TDS server with FreeTDS tsql', () => {
  const TSQL = '/usr/bin/tsql';
  let server: TdsServer;

  beforeAll(async () => {
    ({ server } = await startFixtureServer());
  });

  afterAll(async () => {
    await server?.close();
  });

  /** Runs tsql with a script on stdin; TDSVER picks the protocol version it asks for. tsql prints messages on stderr. */
  function runTsql(script: string, tdsVersion: string): Promise<{ stdout: string; stderr: string }> {
    if (!existsSync(TSQL)) {
      throw new Error(
        `FreeTDS tsql not found at ${TSQL}: install the Debian package freetds-bin (apt-get install freetds-bin)`,
      );
    }
    return new Promise((resolve, reject) => {
      const child = spawn(TSQL, ['-H', HOST, '-p', String(server.port), '-U', 'sa', '-P', FIXTURE_PASSWORD], {
        env: { ...process.env, TDSVER: tdsVersion },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('close', () => resolve({ stdout, stderr }));
      child.stdin.end(script);
    });
  }

  it.each(['7.4', '7.3', '7.2', '7.1'])('runs SELECTs and reports errors over TDS %s', async (tdsVersion) => {
    const script = [Statements.answer, Statements.typedColumns, Statements.failingRestore].map(
      (statement) => `${statement}\ngo\n`,
    );
    const { stdout, stderr } = await runTsql(`${script.join('')}exit\n`, tdsVersion);
    expect(stdout).toMatch(/answer\s+42\s/);
    // FreeTDS prints numeric exactly: the LSN survives the wire digit for digit.
    const typedRow = stdout.split('\n').find((line) => line.startsWith('2147483647\t'));
    expect(typedRow?.split('\t')).toEqual([
      '2147483647',
      '9007199254740993',
      '1',
      'Persistent Chat – pool',
      'x'.repeat(5000),
      '34000000016700001',
      'May  6 2024 07:08AM',
      tdsVersion >= '7.3' ? 'May  6 2024 07:08AM' : '2024-05-06 07:08:09.1230000', // datetime2 arrives as text before TDS 7.3
      '6F9619FF-8B86-D011-B42D-00C04FC964FF',
      'café €5',
      '0.25',
      'deadbeef',
    ]);
    expect(stderr).toContain('Msg 3013 (severity 16, state 1) from FIXTURE01');
    expect(stderr).toContain('RESTORE LOG is terminating abnormally.');
  });
});

describe('TDS packet framing', () => {
  /** A client packet: header + data. */
  function packet(type: number, status: number, data: Buffer): Buffer {
    const header = Buffer.from([type, status, 0, 0, 0, 0, 1, 0]);
    header.writeUInt16BE(8 + data.length, 2);
    return Buffer.concat([header, data]);
  }

  it('reassembles messages from packets however TCP splits or joins them', () => {
    const stream = Buffer.concat([
      packet(0x01, 0x00, Buffer.from('first ')),
      packet(0x01, 0x01, Buffer.from('batch')),
      packet(0x06, 0x01, Buffer.alloc(0)),
      packet(0x03, 0x00, Buffer.from('abandoned')),
      packet(0x03, 0x03, Buffer.alloc(0)),
    ]);
    const expected = [
      { type: 0x01, payload: Buffer.from('first batch'), ignored: false },
      { type: 0x06, payload: Buffer.alloc(0), ignored: false },
      { type: 0x03, payload: Buffer.from('abandoned'), ignored: true },
    ];
    expect(new MessageAssembler().push(stream)).toEqual(expected);

    const byteByByte = new MessageAssembler();
    const messages = [...stream].flatMap((byte) => byteByByte.push(Buffer.from([byte])));
    expect(messages).toEqual(expected);
  });

  it('splits a server message into packets of the negotiated size', () => {
    const payload = Buffer.alloc(10_000, 0x5a);
    const framed = frameMessage(payload, { packetSize: 4096, spid: 57 });
    const headers = [0, 4096, 8192].map((offset) => framed.subarray(offset, offset + 8));
    expect(
      headers.map((header) => [header[0], header[1], header.readUInt16BE(2), header.readUInt16BE(4), header[6]]),
    ).toEqual([
      [0x04, 0x00, 4096, 57, 1],
      [0x04, 0x00, 4096, 57, 2],
      [0x04, 0x01, 10_000 - 2 * 4088 + 8, 57, 3],
    ]);
    expect(framed.length).toBe(10_000 + 3 * 8);
  });

  it('answers a PRELOGIN that arrives one byte per TCP segment, without encryption', async () => {
    const { server } = await startFixtureServer();
    try {
      const socket = net.connect(server.port, HOST);
      socket.setNoDelay(true);
      await new Promise((resolve) => socket.once('connect', resolve));
      const options = Buffer.from([
        0x00, 0x00, 0x0b, 0x00, 0x06, 0x01, 0x00, 0x11, 0x00, 0x01, 0xff, 19, 0, 0, 0, 0, 0, 0x02,
      ]);
      const response = new Promise<Buffer>((resolve) => socket.once('data', resolve));
      for (const byte of packet(0x12, 0x01, options)) {
        socket.write(Buffer.from([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const [message] = new MessageAssembler().push(await response);
      socket.destroy();
      // Option table: VERSION, ENCRYPTION, ... ; ENCRYPTION's data is ENCRYPT_NOT_SUP.
      expect(message.payload[5]).toBe(0x01);
      expect(message.payload[message.payload.readUInt16BE(6)]).toBe(0x02);
      expect(message.payload.subarray(message.payload.readUInt16BE(1), message.payload.readUInt16BE(1) + 4)).toEqual(
        Buffer.from([16, 0, 0x10, 0x6d]),
      );
    } finally {
      await server.close();
    }
  });
});

describe('TDS value encodings', () => {
  // A column's TYPE_INFO + value has the layout of an RPC parameter's, so decoding what was encoded must give it back.
  const cases: [SqlType, SqlValue][] = [
    [{ kind: 'numeric', precision: 38, scale: 10 }, '-1234567890123456789012345678.0123456789'],
    [{ kind: 'numeric', precision: 25, scale: 0 }, '34000000016700001'],
    [{ kind: 'numeric', precision: 9, scale: 4 }, '0.0005'],
    [{ kind: 'numeric', precision: 19, scale: 2 }, null],
    [{ kind: 'bigint' }, -9223372036854775808n],
    [{ kind: 'smallint' }, -32768],
    [{ kind: 'tinyint' }, 255],
    [{ kind: 'datetime' }, new Date('1753-01-01T00:00:00.000Z')],
    [{ kind: 'datetime2', scale: 7 }, new Date('0001-01-01T00:00:00.000Z')],
    [{ kind: 'datetime2', scale: 3 }, new Date('9999-12-31T23:59:59.999Z')],
    [{ kind: 'nvarchar', length: 'max' }, ''],
    [{ kind: 'varbinary', length: 'max' }, Buffer.alloc(0)],
    [{ kind: 'varbinary', length: 'max' }, null],
    [{ kind: 'varchar', length: 10 }, 'ŠŽ€ ok'],
    [{ kind: 'uniqueidentifier' }, null],
  ];

  it.each(cases)('round-trips %o', (type, value) => {
    const encoded = Buffer.concat([typeInfo(type, TdsVersion.v7_4), encodeValue(type, value, TdsVersion.v7_4)]);
    const reader = new PayloadReader(encoded);
    expect(readTypedValue(reader)).toEqual({ type, value });
    expect(reader.remaining).toBe(0);
  });

  it('rounds numeric digits beyond the scale half away from zero, and refuses values wider than the precision', () => {
    const type: SqlType = { kind: 'numeric', precision: 5, scale: 2 };
    const decoded = (value: string): SqlValue =>
      readTypedValue(
        new PayloadReader(Buffer.concat([typeInfo(type, TdsVersion.v7_4), encodeValue(type, value, TdsVersion.v7_4)])),
      ).value;
    expect(decoded('-1.005')).toBe('-1.01');
    expect(decoded('1.004')).toBe('1.00');
    expect(() => encodeValue(type, '1000.00', TdsVersion.v7_4)).toThrow(RangeError);
    expect(() => encodeValue(type, 12, TdsVersion.v7_4)).not.toThrow();
    expect(() => encodeValue({ kind: 'int' }, '12', TdsVersion.v7_4)).toThrow(TypeError);
  });
});

/**
 * The simulator's TDS server and its connections: many at once, dropped and refused ones, and the tedious connection
 * options other clients use (packet sizes, TDS versions), against a fixture model (fixtures/fake-sql-model.ts).
 */
import net from 'node:net';
import sql from 'mssql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TdsServer } from '../../simulator/tds/server';
import { FakeSqlModel, Statements } from './fixtures/fake-sql-model';
import { connectPool, HOST, SETTLING, startFixtureServer, tolerateDroppedConnections } from './fixtures/tds-server';

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

/**
 * TLS as SQL Server does it, against the real clients: mssql (tedious) encrypts the whole connection and checks the
 * certificate against the estate's CA and the host name; TDS 8.0 (strict) too; FreeTDS encrypts its login only by
 * default, or everything when it must; a client that does not encrypt is served in clear text, as by a server whose
 * "Force Encryption" is off. A certificate that does not name the host, or comes from another CA, is refused by the
 * driver. The CA and certificates are kept in the state folder and reused on restart.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import sql from 'mssql';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTopology } from '../../topology/load';
import { resolveSecret } from '../../topology/secrets';
import { EstateNotStartable, SimulatedEstate } from '../../simulator/estate';
import { startTestEstate, writeSimulatedTopology, type TestEstate } from '../helpers/estate';
import { runTsql, tsqlRows } from './fixtures/freetds';

let env: TestEstate | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const ENCRYPTION_OF_THIS_CONNECTION =
  'SELECT encrypt_option, net_transport, auth_scheme FROM sys.dm_exec_connections WHERE session_id = @@SPID';

function instanceOf(env: TestEstate, name: string) {
  return env.topology.instances.find((candidate) => candidate.name === name)!;
}

describe('encryption with the mssql driver', () => {
  it('encrypts the whole connection and validates the certificate against the estate CA, as the topology says', async () => {
    env = await startTestEstate();
    const instance = instanceOf(env, 'dc1-sql-a');
    expect(instance).toMatchObject({ encrypt: true, trustServerCertificate: false });
    expect(instance.caFile).toBe(path.join(env.dir, '.sim', 'tls', 'ca.pem'));
    expect((await env.query('dc1-sql-a', ENCRYPTION_OF_THIS_CONNECTION)).recordset).toEqual([
      { encrypt_option: 'TRUE', net_transport: 'TCP', auth_scheme: 'SQL' },
    ]);
    // TDS 8.0: TLS before PRELOGIN, TLS 1.3 allowed.
    const strict = await env.connect('dc1-sql-a', { options: { encrypt: 'strict' as unknown as boolean } });
    expect((await strict.request().query(ENCRYPTION_OF_THIS_CONNECTION)).recordset[0].encrypt_option).toBe('TRUE');
    // A client that does not encrypt is served in clear text, as by SQL Server with Force Encryption off.
    const clear = await env.connect('dc1-sql-a', { options: { encrypt: false } });
    expect((await clear.request().query(ENCRYPTION_OF_THIS_CONNECTION)).recordset[0].encrypt_option).toBe('FALSE');
  });

  it("refuses a certificate that does not name the host connected to, or that the estate's CA did not sign", async () => {
    // On one address, so that "localhost" reaches the instance too: its certificate names 127.0.0.1, not localhost.
    env = await startTestEstate({ edit: (yaml) => yaml.replace(/host: 127\.0\.0\.\d+/g, 'host: 127.0.0.1') });
    await expect(env.connect('dc1-sql-a', { server: 'localhost' })).rejects.toMatchObject({
      code: 'ESOCKET',
      message: expect.stringMatching(
        /Hostname\/IP does not match certificate's altnames: Host: localhost\. is not in the cert's altnames: DNS:sqldc1a\.sim\.local, DNS:sqldc1a, IP Address:127\.0\.0\.1/,
      ),
    });
    // Without the CA (the default roots only), the chain cannot be verified.
    await expect(
      env.connect('dc1-sql-a', { options: { cryptoCredentialsDetails: {} } as sql.config['options'] }),
    ).rejects.toMatchObject({ code: 'ESOCKET', message: expect.stringMatching(/certificate/) });
    // By the address the certificate names, it connects.
    const pool = await env.connect('dc1-sql-a', { server: '127.0.0.1' });
    expect((await pool.request().query('SELECT @@SERVERNAME AS name')).recordset).toEqual([{ name: 'SQLDC1A' }]);
  });
});

describe('encryption with FreeTDS', () => {
  const tsql = (env: TestEstate, name: string, settings: { encryption: 'request' | 'require'; caFile?: string }) => {
    const instance = instanceOf(env, name);
    return runTsql({
      host: instance.host,
      port: instance.port!,
      user: instance.login,
      password: resolveSecret(instance.password),
      batches: [ENCRYPTION_OF_THIS_CONNECTION],
      ...settings,
    });
  };

  it('encrypts the login only by default, everything when required, and checks the certificate against the CA', async () => {
    env = await startTestEstate();
    const caFile = instanceOf(env, 'dc2-sql-a').caFile!;
    // FreeTDS' default (encryption = request) asks for ENCRYPT_OFF: SQL Server then encrypts the login packet only.
    const loginOnly = await tsql(env, 'dc2-sql-a', { encryption: 'request', caFile });
    expect(loginOnly.code).toBe(0);
    expect(tsqlRows(loginOnly.stdout)[0]).toMatchObject({ encrypt_option: 'FALSE' });
    const full = await tsql(env, 'dc2-sql-a', { encryption: 'require', caFile });
    expect(full.code).toBe(0);
    expect(tsqlRows(full.stdout)[0]).toMatchObject({ encrypt_option: 'TRUE' });

    // Another estate's CA did not sign this certificate: FreeTDS refuses the server (why, only its TDSDUMP log says).
    const other = await startTestEstate({ ownCertificates: true });
    try {
      const refused = await tsql(env, 'dc2-sql-a', {
        encryption: 'require',
        caFile: instanceOf(other, 'dc2-sql-a').caFile!,
      });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('Adaptive Server connection failed');
    } finally {
      await other.close();
    }
  });
});

describe('the estate CA and certificates', () => {
  it('are made on first start, kept in the state folder and reused on restart; names that change get a new certificate', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-tls-'));
    const file = await writeSimulatedTopology(dir);
    const stateDir = path.join(dir, '.sim');
    const tlsFile = (name: string) => readFileSync(path.join(stateDir, 'tls', name), 'utf8');
    const start = (topologyFile: string) =>
      SimulatedEstate.start({ topology: loadTopology(topologyFile).topology, topologyFile, stateDir });

    await (await start(file)).close();
    const first = { ca: tlsFile('ca.pem'), a: tlsFile('dc1-sql-a.pem'), b: tlsFile('dc1-sql-b.pem') };
    const certificate = new X509Certificate(first.a);
    expect(certificate.subject).toBe('CN=sqldc1a.sim.local');
    expect(certificate.checkIssued(new X509Certificate(first.ca))).toBe(true);
    expect(certificate.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth

    await (await start(file)).close();
    expect({ ca: tlsFile('ca.pem'), a: tlsFile('dc1-sql-a.pem'), b: tlsFile('dc1-sql-b.pem') }).toEqual(first);

    // dc1-sql-a renamed: a new certificate for it, from the same CA; the others stay.
    const renamed = path.join(dir, 'renamed.yaml');
    writeFileSync(renamed, readFileSync(file, 'utf8').replace('serverName: SQLDC1A', 'serverName: PCSQL01'));
    await (await start(renamed)).close();
    expect(tlsFile('ca.pem')).toBe(first.ca);
    expect(tlsFile('dc1-sql-b.pem')).toBe(first.b);
    expect(new X509Certificate(tlsFile('dc1-sql-a.pem')).subjectAltName).toBe(
      'DNS:pcsql01.sim.local, DNS:pcsql01, IP Address:' + loadTopology(file).topology.instances[0].host,
    );
  });

  it("refuses to start when an instance's caFile names another CA than the simulator's", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-tls-'));
    const file = await writeSimulatedTopology(dir, (yaml) =>
      yaml.replace('caFile: ./.sim/tls/ca.pem', 'caFile: ./corporate-ca.pem'),
    );
    await expect(
      SimulatedEstate.start({
        topology: loadTopology(file).topology,
        topologyFile: file,
        stateDir: path.join(dir, '.sim'),
      }),
    ).rejects.toThrow(EstateNotStartable);
  });
});

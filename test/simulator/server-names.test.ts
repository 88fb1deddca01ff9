/**
 * What simulated instances call themselves, as SQL Server names itself after its computer: @@SERVERNAME and
 * SERVERPROPERTY for a default instance (the topology's serverName) and for a named one derived from its host
 * (COMPUTER\INSTANCE), seen by the mssql driver and by FreeTDS; mirroring partners addressed by the computer's DNS
 * name; the marker only the simulator answers; instances on addresses of their own, or all on one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resolveSecret } from '../../topology/secrets';
import { loopbackAliasesWork } from '../../simulator/example-topology';
import { startTestEstate, type TestEstate } from '../helpers/estate';
import { runTsql, tsqlRows } from './fixtures/freetds';

let env: TestEstate | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const NAMES = `SELECT @@SERVERNAME AS server_name, SERVERPROPERTY('ServerName') AS property_server_name,
  SERVERPROPERTY('MachineName') AS machine_name, SERVERPROPERTY('InstanceName') AS instance_name,
  @@SERVICENAME AS service_name`;

/** FreeTDS' answer to NAMES on an instance, columns by name. */
async function namesSeenByFreeTds(env: TestEstate, name: string): Promise<Record<string, string>> {
  const instance = env.topology.instances.find((candidate) => candidate.name === name)!;
  const { stdout, code } = await runTsql({
    host: instance.host,
    port: instance.port!,
    user: instance.login,
    password: resolveSecret(instance.password),
    batches: [NAMES],
    encryption: 'require',
    caFile: instance.caFile,
  });
  expect(code).toBe(0);
  return tsqlRows(stdout)[0];
}

describe('server names as SQL Server makes them', () => {
  it('a default instance answers its serverName, not the topology label, to mssql and to FreeTDS', async () => {
    env = await startTestEstate();
    const expected = {
      server_name: 'SQLDC1A',
      property_server_name: 'SQLDC1A',
      machine_name: 'SQLDC1A',
      instance_name: null,
      service_name: 'MSSQLSERVER',
    };
    expect((await env.query('dc1-sql-a', NAMES)).recordset).toEqual([expected]);
    expect(await namesSeenByFreeTds(env, 'dc1-sql-a')).toEqual({ ...expected, instance_name: 'NULL' });
    // Errors name the server too, as SQL Server's do.
    await expect(env.query('dc1-sql-a', 'SELECT * FROM dbo.nowhere')).rejects.toMatchObject({
      number: 208,
      serverName: 'SQLDC1A',
    });
  });

  it('a named instance on a host name is COMPUTER\\INSTANCE, the computer named after the host', async () => {
    env = await startTestEstate({
      // dc2-sql-b: the named instance PCHAT on the computer "localhost" (a name every machine resolves).
      edit: (yaml) =>
        yaml.replace(
          /host: 127\.0\.0\.\d+(\n\s+port: \d+)\n(\s+)serverName: SQLDC2B/,
          'host: localhost$1\n$2instanceName: PCHAT',
        ),
    });
    const expected = {
      server_name: 'LOCALHOST\\PCHAT',
      property_server_name: 'LOCALHOST\\PCHAT',
      machine_name: 'LOCALHOST',
      instance_name: 'PCHAT',
      service_name: 'PCHAT',
    };
    expect((await env.query('dc2-sql-b', NAMES)).recordset).toEqual([expected]);
    expect(await namesSeenByFreeTds(env, 'dc2-sql-b')).toEqual(expected);
    const services = (await env.query('dc2-sql-b', 'SELECT servicename FROM sys.dm_server_services')).recordset;
    expect(services.map((row) => row.servicename)).toEqual(['SQL Server (PCHAT)', 'SQL Server Agent (PCHAT)']);
  });

  it('mirroring partners are addressed by their DNS names and named by @@SERVERNAME', async () => {
    env = await startTestEstate();
    const partners = async (instance: string) =>
      (
        await env!.query(
          instance,
          `SELECT m.mirroring_partner_name, m.mirroring_partner_instance FROM sys.database_mirroring m
             JOIN sys.databases d ON d.database_id = m.database_id WHERE d.name = N'mgc'`,
        )
      ).recordset[0];
    expect(await partners('dc1-sql-a')).toEqual({
      mirroring_partner_name: 'TCP://sqldc1b.sim.local:5022',
      mirroring_partner_instance: 'SQLDC1B',
    });
    expect(await partners('dc1-sql-b')).toEqual({
      mirroring_partner_name: 'TCP://sqldc1a.sim.local:5022',
      mirroring_partner_instance: 'SQLDC1A',
    });
    // A backup records the server and the computer it was taken on.
    await env.query('dc1-sql-a', `BACKUP LOG mgc TO DISK = @file WITH INIT`, {
      file: `${env.topology.backupShare.sqlPath}/names.trn`,
    });
    const backup = (
      await env.query(
        'dc1-sql-a',
        'SELECT TOP 1 server_name, machine_name FROM msdb.dbo.backupset ORDER BY backup_set_id DESC',
      )
    ).recordset[0];
    expect(backup).toEqual({ server_name: 'SQLDC1A', machine_name: 'SQLDC1A' });
  });

  it('answers the simulator marker, a property SQL Server does not know (NULL there)', async () => {
    env = await startTestEstate();
    const row = (
      await env.query(
        'dc2-sql-a',
        `SELECT SERVERPROPERTY('PchatDrSimulator') AS marker, SERVERPROPERTY('NoSuchProperty') AS unknown`,
      )
    ).recordset[0];
    expect(row.marker).toMatch(/^pchat-dr simulator \d+\.\d+\.\d+/);
    expect(row.unknown).toBeNull();
  });

  it('puts instances on loopback addresses of their own where the OS allows, and runs on one address as well', async () => {
    env = await startTestEstate();
    const hosts = env.topology.instances.map((instance) => instance.host);
    if (await loopbackAliasesWork()) expect(new Set(hosts).size).toBe(4);
    else expect(hosts).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']);
    await env.close();

    // Every instance on 127.0.0.1 (their ports differ): same names, same mirroring, certificates for that address.
    env = await startTestEstate({ edit: (yaml) => yaml.replace(/host: 127\.0\.0\.\d+/g, 'host: 127.0.0.1') });
    expect((await env.query('dc1-sql-b', 'SELECT @@SERVERNAME AS name')).recordset).toEqual([{ name: 'SQLDC1B' }]);
    expect(env.estate.snapshot().instances[1].databases[0].mirroring).toMatchObject({
      role: 'MIRROR',
      state: 'SYNCHRONIZED',
      partner: 'SQLDC1A',
    });
  });
});

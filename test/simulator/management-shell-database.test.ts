/**
 * The stand-in management shell's two SQL cmdlets, Invoke-CsDatabaseFailover and Install-CsMirrorDatabase. They need
 * the simulator's SQL engine, which is not part of this module: here they are exercised up to the point where they
 * would talk to SQL Server (validation, instance resolution, unreachable partners), and their decisions as pure
 * functions.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/package';
import { loadTopology } from '../../topology/load';
import type { Topology } from '../../topology/schema';
import { currentStore, databaseKind, planFailover, resolveMirrorPair } from '../../simulator/pool/database-mirroring';
import { mirroringEndpoint, mirrorSeedFiles } from '../../simulator/pool/install-mirror';
import type { PartnerState } from '../../simulator/pool/partner-connections';
import { EXAMPLE, newPool, requireBuiltShell, runShell, setPoolState } from '../helpers/management-shell';

beforeAll(requireBuiltShell);

describe('Invoke-CsDatabaseFailover and Install-CsMirrorDatabase up to SQL Server', () => {
  it.each([
    [
      'a pool that is not this one',
      'Invoke-CsDatabaseFailover -PoolFqdn other.sim.local -DatabaseType PersistentChat -NewPrincipal Mirror',
      /Pool "other\.sim\.local" is not in the topology/,
    ],
    [
      'a database type the pool does not host',
      'Invoke-CsDatabaseFailover -PoolFqdn pchat.sim.local -DatabaseType User -NewPrincipal Mirror',
      /has no User database/,
    ],
    [
      'an unknown database type',
      'Invoke-CsDatabaseFailover -PoolFqdn pchat.sim.local -DatabaseType Chat -NewPrincipal Mirror',
      /Cannot convert value "Chat" to type "DatabaseNameType".*PersistentChat, PersistentChatCompliance/,
    ],
    [
      'an unknown new principal',
      'Invoke-CsDatabaseFailover -PoolFqdn pchat.sim.local -DatabaseType PersistentChat -NewPrincipal Backup',
      /Specify one of the following enumerator names and try again: Primary, Mirror/,
    ],
    [
      'a missing FileShare',
      "Install-CsMirrorDatabase -DatabaseType PersistentChat -SqlServerFqdn '127.0.0.11'",
      /missing mandatory parameters: FileShare\./,
    ],
    [
      'a SQL Server not in the topology',
      "Install-CsMirrorDatabase -DatabaseType PersistentChat -SqlServerFqdn 'sql9.sim.local' -FileShare '/tmp/share'",
      /No SQL Server instance sql9\.sim\.local holds mgc in the topology \(primary dc1-sql-a \(127\.0\.0\.11:14331\)/,
    ],
  ])('refuses %s', async (_what, script, message) => {
    const stateFile = newPool();
    const result = await runShell(stateFile, script);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  it('refuses to fail over mgccomp while FailedOver: the topology gives its backup no mirror', async () => {
    const stateFile = newPool();
    setPoolState(stateFile, { poolState: 'FailedOver' });
    const result = await runShell(
      stateFile,
      'Invoke-CsDatabaseFailover -PoolFqdn pchat.sim.local -DatabaseType PersistentChatCompliance -NewPrincipal Mirror',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/configures no backupMirror for it: there is no mirror to fail over to/);
  });

  describe('with every SQL Server instance down', () => {
    let stateFile: string;

    beforeAll(async () => {
      const ports = await Promise.all([0, 1, 2, 3].map(() => closedPort()));
      const text = readFileSync(EXAMPLE, 'utf8')
        .replace(/port: 1433(\d)/g, (_match, digit: string) => `port: ${ports[Number(digit) - 1]}`)
        .replaceAll('file:./simulated.secret', `file:${path.join(PROJECT_ROOT, 'examples', 'simulated.secret')}`);
      const topologyFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-down-')), 'estate.yaml');
      writeFileSync(topologyFile, text);
      stateFile = newPool(topologyFile);
    });

    it('Invoke-CsDatabaseFailover reports the new principal unreachable and changes nothing', async () => {
      const result = await runShell(
        stateFile,
        'Invoke-CsDatabaseFailover -PoolFqdn pchat.sim.local -DatabaseType PersistentChat -NewPrincipal Mirror -Force -Confirm:$false',
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^Invoke-CsDatabaseFailover : Cannot make dc1-sql-b \(127\.0\.0\.12:\d+\) the principal of mgc: it cannot be reached/,
      );
      expect(result.stderr).toMatch(/CategoryInfo {10}: ConnectionError/);
    });

    it('Install-CsMirrorDatabase reports the principal unreachable', async () => {
      const result = await runShell(
        stateFile,
        "Install-CsMirrorDatabase -DatabaseType PersistentChat -SqlServerFqdn 'sqldc1a.sim.local' -FileShare '/tmp/share' -Confirm:$false",
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/Cannot reach the principal dc1-sql-a \(127\.0\.0\.11:\d+\)/);
    });
  });
});

/** A TCP port nothing listens on: bound, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('database cmdlet decisions (pure)', () => {
  const { topology } = loadTopology(EXAMPLE);
  const principal: PartnerState = { reachable: true, exists: true, role: 'PRINCIPAL', state: 'SYNCHRONIZED' };
  const mirror: PartnerState = { reachable: true, exists: true, role: 'MIRROR', state: 'SYNCHRONIZED' };
  const down: PartnerState = { reachable: false, reason: 'connect ECONNREFUSED' };
  const plan = (target: PartnerState, current: PartnerState, force = false) =>
    planFailover('mgc', { name: 'B', state: target }, { name: 'A', state: current }, force);

  it('uses primary + mirror when Normal and backup + backupMirror when FailedOver', () => {
    const normal = currentStore(topology, 'mgc', 'Normal');
    expect([
      normal.principal.role,
      normal.principal.instance.name,
      normal.mirror.role,
      normal.mirror.instance.name,
    ]).toEqual(['primary', 'dc1-sql-a', 'mirror', 'dc1-sql-b']);
    const failedOver = currentStore(topology, 'mgc', 'FailedOver');
    expect([failedOver.principal.instance.name, failedOver.mirror.instance.name]).toEqual(['dc2-sql-a', 'dc2-sql-b']);
    expect(() => currentStore(topology, 'mgccomp', 'FailedOver')).toThrow(/no backupMirror/);
    const withoutCompliance: Topology = { ...topology, databases: { mgc: topology.databases.mgc } };
    expect(() => currentStore(withoutCompliance, 'mgccomp', 'Normal')).toThrow(/configures no mgccomp database/);
  });

  it('maps the Persistent Chat database types to mgc and mgccomp only', () => {
    expect(databaseKind('PersistentChat')).toBe('mgc');
    expect(databaseKind('PersistentChatCompliance')).toBe('mgccomp');
    expect(() => databaseKind('User')).toThrow(/no User database/);
  });

  it('plans a failover on the current principal, nothing when already there, forced service only with -Force', () => {
    expect(plan(mirror, principal)).toEqual({ action: 'failover' });
    expect(plan(principal, mirror)).toEqual({
      action: 'none',
      reason: 'mgc is already principal on B; nothing to do.',
    });
    expect(() => plan(mirror, down)).toThrow(/current principal A cannot be reached .*Run again with -Force/);
    expect(plan(mirror, down, true)).toEqual({ action: 'force-service' });
    expect(() => plan(mirror, mirror)).toThrow(/A reports mgc as MIRROR, not principal/);
    expect(() => plan(down, principal, true)).toThrow(/Cannot make B the principal of mgc: it cannot be reached/);
    expect(() => plan({ reachable: true, exists: false, role: null, state: null }, principal)).toThrow(
      /does not exist on B/,
    );
    expect(() => plan({ reachable: true, exists: true, role: null, state: null }, principal)).toThrow(
      /not in a database mirroring session/,
    );
  });

  it('resolves the principal of Install-CsMirrorDatabase by DNS name or host, with its mirroring endpoints', () => {
    const byName = resolveMirrorPair(topology, 'mgc', 'Normal', 'SQLDC1A.sim.local', undefined);
    expect(byName.principal).toMatchObject({ role: 'primary', fqdn: 'sqldc1a.sim.local' });
    expect(byName.mirror).toMatchObject({ role: 'mirror', fqdn: 'sqldc1b.sim.local' });
    expect(resolveMirrorPair(topology, 'mgc', 'FailedOver', '127.0.0.13', undefined).principal.role).toBe('backup');
  });

  it('prefers the role the pool uses now when instances share one address', () => {
    const shared: Topology = {
      ...topology,
      instances: topology.instances.map((candidate) => ({ ...candidate, host: '127.0.0.1' })),
    };
    const normal = resolveMirrorPair(shared, 'mgc', 'Normal', '127.0.0.1', undefined);
    expect([normal.principal.instance.name, normal.mirror.instance.name]).toEqual(['dc1-sql-a', 'dc1-sql-b']);
    const failedOver = resolveMirrorPair(shared, 'mgc', 'FailedOver', '127.0.0.1', 'MSSQLSERVER');
    expect([
      failedOver.principal.role,
      failedOver.principal.instance.name,
      failedOver.mirror.role,
      failedOver.mirror.instance.name,
    ]).toEqual(['backup', 'dc2-sql-a', 'backupMirror', 'dc2-sql-b']);
    expect(() => resolveMirrorPair(shared, 'mgccomp', 'FailedOver', '127.0.0.1', undefined)).toThrow(
      /no backupMirror instance for mgccomp/,
    );
    expect(() => resolveMirrorPair(shared, 'mgc', 'Normal', '127.0.0.1', 'PCHAT')).toThrow(
      /No SQL Server instance 127\.0\.0\.1\\PCHAT holds mgc/,
    );
  });

  it('tells apart instances on separate hosts and named instances, and refuses a mirror-role host', () => {
    const hosts: Record<string, [string, string | undefined]> = {
      'dc1-sql-a': ['sql-a.dc1.example', 'PCHAT'],
      'dc1-sql-b': ['sql-b.dc1.example', undefined],
      'dc2-sql-a': ['sql-a.dc2.example', undefined],
      'dc2-sql-b': ['sql-b.dc2.example', undefined],
    };
    const spread: Topology = {
      ...topology,
      instances: topology.instances.map((candidate) => ({
        ...candidate,
        host: hosts[candidate.name][0],
        instanceName: hosts[candidate.name][1],
      })),
    };
    expect(resolveMirrorPair(spread, 'mgc', 'FailedOver', 'SQL-A.dc1.example', 'pchat').principal.role).toBe('primary');
    expect(() => resolveMirrorPair(spread, 'mgc', 'Normal', 'sql-a.dc1.example', undefined)).toThrow(
      /No SQL Server instance sql-a\.dc1\.example holds mgc/,
    );
    expect(() => resolveMirrorPair(spread, 'mgc', 'Normal', 'sql-b.dc1.example', undefined)).toThrow(
      /plays the mirror role for mgc/,
    );
  });

  it('names the seed files on the share, UNC or local', () => {
    const at = new Date('2025-03-04T05:06:07.890Z');
    expect(mirrorSeedFiles('\\\\fs01\\mirror$\\', 'mgc', at)).toEqual({
      full: '\\\\fs01\\mirror$\\mgc_mirror_20250304T050607Z.bak',
      log: '\\\\fs01\\mirror$\\mgc_mirror_20250304T050607Z.trn',
    });
    expect(mirrorSeedFiles('/srv/share', 'mgccomp', at).full).toBe('/srv/share/mgccomp_mirror_20250304T050607Z.bak');
  });

  it('builds a mirroring endpoint only from a plain DNS name', () => {
    expect(mirroringEndpoint('dc2-sql-a')).toBe('TCP://dc2-sql-a:5022');
    expect(mirroringEndpoint('sql.example.com')).toBe('TCP://sql.example.com:5022');
    for (const name of ["x'; DROP DATABASE mgc; --", 'HOST\\INSTANCE', '', 'a b'])
      expect(() => mirroringEndpoint(name), name).toThrow(/does not make a mirroring endpoint address/);
  });
});

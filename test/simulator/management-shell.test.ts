/**
 * The stand-in management shell, run as the pool-control adapter runs it: the built executable with the whole cmdlet
 * line as one last argument, against a pool-state file made from examples/simulated.yaml. Assertions are on what an
 * operator would care about: the pool state afterwards, the JSON a runbook reads back, PowerShell-style errors with
 * exit code 1 and no side effect, and — from the invocation log — that a hostile value arrived as one literal.
 *
 * The two SQL cmdlets need the simulator's SQL engine, which is not part of this module: here they are exercised up
 * to the point where they would talk to SQL Server (validation, instance resolution, unreachable partners).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { initialPoolState, readPoolState, writePoolState, type PoolState } from '../../simulator/pool/pool-state';

const SHELL = path.join(PROJECT_ROOT, 'dist', 'simulator', 'pool', 'management-shell.js');
const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'simulated.yaml');
const POOL = 'service:pchat.sim.local';

interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The adapter's way: program and leading arguments, then the whole cmdlet line as one argument. */
function runShell(stateFile: string, script: string): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [SHELL, '--pool-state', stateFile, '-NoProfile', '-NonInteractive', '-Command', script],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A fresh pool (Normal, DC1 servers active) from the example topology, or from another topology file. */
function newPool(topologyFile = EXAMPLE): string {
  const { file, topology } = loadTopology(topologyFile);
  const stateFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-pool-')), 'pool.json');
  writePoolState(stateFile, initialPoolState(file, topology));
  return stateFile;
}

function setPoolState(stateFile: string, change: Partial<PoolState>): void {
  writePoolState(stateFile, { ...readPoolState(stateFile), ...change });
}

interface Invocation {
  argv: string[];
  script: string;
  statements: {
    cmdlet: string;
    parameters: Record<string, unknown> | null;
    pipedInto?: { cmdlet: string; parameters: Record<string, unknown> | null }[];
  }[];
  exitCode: number;
  error?: string;
}

function invocations(stateFile: string): Invocation[] {
  return readFileSync(`${stateFile}.invocations.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Invocation);
}

function lastInvocation(stateFile: string): Invocation {
  return invocations(stateFile).at(-1) as Invocation;
}

/** How an adapter must quote a value for PowerShell: single quotes, every single-quote character doubled. */
function quoteForPowerShell(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (quote) => quote + quote)}'`;
}

beforeAll(() => {
  if (!existsSync(SHELL)) throw new Error(`${SHELL} is missing: build first (npm run build, or npx tsc -p .)`);
});

describe('pool state and active servers', () => {
  it('reports the pool state as JSON through | ConvertTo-Json', async () => {
    const stateFile = newPool();
    const result = await runShell(stateFile, 'Get-CsPersistentChatState | ConvertTo-Json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ Identity: POOL, PoolState: 'Normal' });
  });

  it('changes the pool state with Set-CsPersistentChatState, under either documented identity form', async () => {
    const stateFile = newPool();
    const failover = await runShell(stateFile, `Set-CsPersistentChatState -Identity "${POOL}" -PoolState FailedOver`);
    expect(failover.stderr).toBe('');
    expect(failover.code).toBe(0);
    expect(failover.stdout).toBe('');
    expect(readPoolState(stateFile).poolState).toBe('FailedOver');

    const reported = await runShell(
      stateFile,
      "Get-CsPersistentChatState -Identity 'service:pchat.sim.local' | ConvertTo-Json -Compress",
    );
    expect(reported.stdout.trim()).toBe(`{"Identity":"${POOL}","PoolState":"FailedOver"}`);

    const failback = await runShell(
      stateFile,
      "Set-CsPersistentChatState 'PersistentChatServer:PCHAT.sim.local' -poolstate normal -Force -Confirm:$false",
    );
    expect(failback.stderr).toBe('');
    expect(readPoolState(stateFile).poolState).toBe('Normal');
  });

  it('applies Add, Remove, Replace, a plain list and $Null to the active servers', async () => {
    const stateFile = newPool();
    const steps: [string, string[]][] = [
      [
        `-ActiveServers @{Add='pchat-fe3.sim.local'}`,
        ['pchat-fe1.sim.local', 'pchat-fe2.sim.local', 'pchat-fe3.sim.local'],
      ],
      [
        `-ActiveServers @{Remove='pchat-fe1.sim.local','pchat-fe2.sim.local'; Add='PCHAT-FE4.sim.local'}`,
        ['pchat-fe3.sim.local', 'pchat-fe4.sim.local'],
      ],
      [`-ActiveServers $Null`, []],
      [`-ActiveServers @{Replace='pchat-fe2.sim.local'}`, ['pchat-fe2.sim.local']],
      [`-ActiveServers 'pchat-fe3.sim.local','pchat-fe4.sim.local'`, ['pchat-fe3.sim.local', 'pchat-fe4.sim.local']],
    ];
    for (const [argument, expected] of steps) {
      const result = await runShell(
        stateFile,
        `Set-CsPersistentChatActiveServer -Identity '${POOL}' ${argument} -Force -Confirm:$false`,
      );
      expect(result.stderr, argument).toBe('');
      expect(result.code, argument).toBe(0);
      expect(readPoolState(stateFile).activeServers, argument).toEqual(expected);
    }
    const global = await runShell(
      stateFile,
      "Set-CsPersistentChatActiveServer -Identity global -ActiveServers @{Add='pchat-fe1.sim.local'}",
    );
    expect(global.code).toBe(0);
    expect(readPoolState(stateFile).activeServers).toEqual([
      'pchat-fe3.sim.local',
      'pchat-fe4.sim.local',
      'pchat-fe1.sim.local',
    ]);
  });

  it('reports the active servers through Get-CsService -PersistentChatServer, as one object or as an array', async () => {
    const stateFile = newPool();
    await runShell(
      stateFile,
      "Set-CsPersistentChatActiveServer -ActiveServers 'pchat-fe3.sim.local','pchat-fe4.sim.local'",
    );
    const service = await runShell(
      stateFile,
      'Get-CsService -PersistentChatServer -PoolFqdn pchat.sim.local | ConvertTo-Json -Depth 5',
    );
    expect(service.code).toBe(0);
    expect(JSON.parse(service.stdout)).toEqual({
      Identity: 'PersistentChatServer:pchat.sim.local',
      PoolFqdn: 'pchat.sim.local',
      ActiveServers: ['pchat-fe3.sim.local', 'pchat-fe4.sim.local'],
      InactiveServers: ['pchat-fe1.sim.local', 'pchat-fe2.sim.local'],
    });
    const asArray = await runShell(
      stateFile,
      'Get-CsService -PersistentChatServer | ConvertTo-Json -AsArray -Compress',
    );
    expect(JSON.parse(asArray.stdout)).toHaveLength(1);
    const otherPool = await runShell(
      stateFile,
      'Get-CsService -PersistentChatServer -PoolFqdn other.sim.local | ConvertTo-Json',
    );
    expect(otherPool).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('prints objects as a PowerShell list without ConvertTo-Json, and what it does with -Verbose', async () => {
    const stateFile = newPool();
    const list = await runShell(stateFile, 'Get-CsService -PersistentChatServer');
    expect(list.stdout).toContain('\nIdentity        : PersistentChatServer:pchat.sim.local\n');
    expect(list.stdout).toContain('ActiveServers   : {pchat-fe1.sim.local, pchat-fe2.sim.local}\n');
    const verbose = await runShell(
      stateFile,
      `Set-CsPersistentChatState -Identity '${POOL}' -PoolState FailedOver -Verbose`,
    );
    expect(verbose.stdout).toBe('VERBOSE: Pool pchat.sim.local: Normal -> FailedOver.\n');
  });

  it('records every invocation: the exact argv, the script and what each statement bound to', async () => {
    const stateFile = newPool();
    const script = `Set-CsPersistentChatState -Identity '${POOL}' -PoolState FailedOver; Get-CsService -PersistentChatServer | ConvertTo-Json -Depth 3`;
    await runShell(stateFile, script);
    expect(lastInvocation(stateFile)).toMatchObject({
      argv: ['--pool-state', stateFile, '-NoProfile', '-NonInteractive', '-Command', script],
      script,
      exitCode: 0,
      statements: [
        { cmdlet: 'Set-CsPersistentChatState', parameters: { Identity: POOL, PoolState: 'FailedOver' } },
        {
          cmdlet: 'Get-CsService',
          parameters: { PersistentChatServer: true },
          pipedInto: [{ cmdlet: 'ConvertTo-Json', parameters: { Depth: 3 } }],
        },
      ],
    });
    expect(lastInvocation(stateFile).error).toBeUndefined();
  });
});

describe('malformed commands fail like PowerShell and change nothing', () => {
  it.each([
    [
      'a bad PoolState value',
      `Set-CsPersistentChatState -Identity '${POOL}' -PoolState Bogus`,
      /Set-CsPersistentChatState : Cannot bind parameter 'PoolState'\. Cannot convert value "Bogus" to type "PoolState"\..*Specify one of the following enumerator names and try again: Normal, FailedOver/,
    ],
    [
      'an unknown parameter',
      `Set-CsPersistentChatState -Identity '${POOL}' -PoolState FailedOver -Bogus 1`,
      /A parameter cannot be found that matches parameter name 'Bogus'\./,
    ],
    [
      'an ambiguous parameter',
      "Install-CsMirrorDatabase -DatabaseType PersistentChat -Sql '127.0.0.11' -FileShare '/tmp/share'",
      /the parameter name 'Sql' is ambiguous\. Possible matches include: -SqlServerFqdn -SqlInstanceName\./,
    ],
    [
      'a missing mandatory parameter',
      `Set-CsPersistentChatState -Identity '${POOL}'`,
      /missing mandatory parameters: PoolState\./,
    ],
    [
      'a parameter given twice',
      `Set-CsPersistentChatState -Identity '${POOL}' -PoolState FailedOver -PoolState Normal`,
      /parameter 'PoolState' is specified more than once/,
    ],
    [
      'an unknown cmdlet',
      `Set-CsPersistentChatStat -Identity '${POOL}' -PoolState FailedOver`,
      /^Set-CsPersistentChatStat : The term 'Set-CsPersistentChatStat' is not recognized as a name of a cmdlet, function, script file, or executable program\./,
    ],
    [
      'an unbalanced quote',
      `Set-CsPersistentChatState -Identity '${POOL} -PoolState FailedOver`,
      /The string is missing the terminator: '\.\n.*ParserError/s,
    ],
    [
      'an unknown server',
      `Set-CsPersistentChatActiveServer -ActiveServers @{Add='pchat-fe9.sim.local'}`,
      /"pchat-fe9\.sim\.local" is not a Persistent Chat server of pool pchat\.sim\.local/,
    ],
    [
      'an unknown server in a Remove',
      `Set-CsPersistentChatActiveServer -ActiveServers @{Remove='pchat-fe1'}`,
      /"pchat-fe1" is not a Persistent Chat server/,
    ],
    [
      'an unknown pool identity',
      `Set-CsPersistentChatState -Identity 'service:other.sim.local' -PoolState FailedOver`,
      /Cannot find a Persistent Chat pool with identity "service:other\.sim\.local"/,
    ],
    [
      'Replace mixed with Add',
      `Set-CsPersistentChatActiveServer -ActiveServers @{Replace='pchat-fe3.sim.local'; Add='pchat-fe4.sim.local'}`,
      /Replace cannot be combined with Add or Remove/,
    ],
    [
      'an empty server list',
      `Set-CsPersistentChatActiveServer -ActiveServers @{Replace=$null}`,
      /use -ActiveServers \$Null to clear the list/,
    ],
    [
      'a subexpression in double quotes',
      `Set-CsPersistentChatState -Identity "service:$(hostname)" -PoolState FailedOver`,
      /does not evaluate subexpressions/,
    ],
    [
      'a confirmation prompt in a non-interactive shell',
      `Set-CsPersistentChatState -Identity '${POOL}' -PoolState FailedOver -Confirm`,
      /PowerShell is in NonInteractive mode\. Read and Prompt functionality is not available\./,
    ],
    ['an unsupported pipe', `Get-CsPersistentChatState | Format-List`, /takes one pipe only, into ConvertTo-Json/],
    [
      'a switch given text',
      `Set-CsPersistentChatState -Identity '${POOL}' -PoolState FailedOver -Force:'yes'`,
      /Boolean parameters accept only Boolean values and numbers/,
    ],
  ])('%s', async (_what, script, message) => {
    const stateFile = newPool();
    const before = readFileSync(stateFile, 'utf8');
    const result = await runShell(stateFile, script);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/\n {4}\+ CategoryInfo {10}: .*\n {4}\+ FullyQualifiedErrorId : /);
    expect(readFileSync(stateFile, 'utf8')).toBe(before);
    expect(lastInvocation(stateFile)).toMatchObject({ script, exitCode: 1, error: expect.stringMatching(/\S/) });
  });

  it('points at the offending token', async () => {
    const stateFile = newPool();
    const result = await runShell(stateFile, `Set-CsPersistentChatState -Identity '${POOL}' -PoolState Bogus`);
    const column = `Set-CsPersistentChatState -Identity '${POOL}' -PoolState `.length;
    expect(result.stderr).toContain(`At line:1 char:${column + 1}\n`);
    expect(result.stderr).toContain(`\n+ ${' '.repeat(column)}~~~~~\n`);
  });

  it('runs the next statement after a failing one and exits with the status of the last, as pwsh -Command does', async () => {
    const stateFile = newPool();
    const thenSucceeds = await runShell(
      stateFile,
      `Set-CsPersistentChatState -Identity '${POOL}' -PoolState Bogus; Get-CsPersistentChatState | ConvertTo-Json`,
    );
    expect(thenSucceeds.code).toBe(0);
    expect(thenSucceeds.stderr).toMatch(/Cannot bind parameter 'PoolState'/);
    expect(JSON.parse(thenSucceeds.stdout)).toEqual({ Identity: POOL, PoolState: 'Normal' });
    expect(lastInvocation(stateFile).error).toMatch(/Cannot bind parameter 'PoolState'/);

    const thenFails = await runShell(
      stateFile,
      `Get-CsPersistentChatState | ConvertTo-Json; Set-CsPersistentChatState -Identity '${POOL}' -PoolState Bogus`,
    );
    expect(thenFails.code).toBe(1);
  });

  it('runs nothing when any part of the script does not parse', async () => {
    const stateFile = newPool();
    const result = await runShell(
      stateFile,
      `Set-CsPersistentChatState -Identity '${POOL}' -PoolState FailedOver; Get-X @{Add=`,
    );
    expect(result.code).toBe(1);
    expect(readPoolState(stateFile).poolState).toBe('Normal');
    expect(lastInvocation(stateFile).statements).toEqual([]);
  });

  it('says so when the pool-state file is missing', async () => {
    const stateFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-pool-')), 'pool.json');
    const result = await runShell(stateFile, 'Get-CsPersistentChatState');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^Get-CsPersistentChatState : pool state file .*pool\.json does not exist \(the simulator creates it when it starts\)/,
    );
  });
});

describe('a hostile server name', () => {
  const hostile =
    "pchat-fe3.sim.local'; Set-CsPersistentChatState -Identity 'service:pchat.sim.local' -PoolState FailedOver; $(Remove-Item -Recurse /) #\u2019\nSet-CsPersistentChatActiveServer -ActiveServers $Null";

  it('reaches the cmdlet as one literal value when quoted for PowerShell, and is refused without side effect', async () => {
    const stateFile = newPool();
    const before = readFileSync(stateFile, 'utf8');
    const script = `Set-CsPersistentChatActiveServer -Identity '${POOL}' -ActiveServers @{Add=${quoteForPowerShell(hostile)}} -Confirm:$false`;
    const result = await runShell(stateFile, script);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${JSON.stringify(hostile)} is not a Persistent Chat server of pool pchat.sim.local`,
    );
    expect(readFileSync(stateFile, 'utf8')).toBe(before);
    const invocation = lastInvocation(stateFile);
    expect(invocation.argv.at(-1)).toBe(script);
    expect(invocation.statements).toEqual([
      {
        cmdlet: 'Set-CsPersistentChatActiveServer',
        parameters: { Identity: POOL, ActiveServers: { Add: hostile }, Confirm: false },
      },
    ]);
  });

  it('runs as a second statement when only the ASCII quote is doubled, as in pwsh: the stand-in catches that adapter bug', async () => {
    const stateFile = newPool();
    const typographic =
      'pchat-fe3.sim.local\u2019}; Set-CsPersistentChatState -Identity \u2019service:pchat.sim.local\u2019 -PoolState FailedOver; #';
    const naive = `'${typographic.replace(/'/g, "''")}'`;
    await runShell(stateFile, `Set-CsPersistentChatActiveServer -Identity '${POOL}' -ActiveServers @{Add=${naive}}`);
    expect(lastInvocation(stateFile).statements.map((statement) => statement.cmdlet)).toEqual([
      'Set-CsPersistentChatActiveServer',
      'Set-CsPersistentChatState',
    ]);
    expect(readPoolState(stateFile).poolState).toBe('FailedOver');
  });
});

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

describe('the pool-state file', () => {
  it('starts Normal with the DC1 servers active, and names the topology by absolute path', () => {
    const { file, topology } = loadTopology(EXAMPLE);
    expect(initialPoolState('examples/simulated.yaml', topology)).toEqual({
      fqdn: 'pchat.sim.local',
      identity: POOL,
      poolState: 'Normal',
      servers: {
        dc1: ['pchat-fe1.sim.local', 'pchat-fe2.sim.local'],
        dc2: ['pchat-fe3.sim.local', 'pchat-fe4.sim.local'],
      },
      activeServers: ['pchat-fe1.sim.local', 'pchat-fe2.sim.local'],
      topologyFile: file,
    });
  });

  it('is written whole (no temporary file left) and read back', () => {
    const stateFile = newPool();
    setPoolState(stateFile, { activeServers: [] });
    expect(readPoolState(stateFile).activeServers).toEqual([]);
    expect(readdirSync(path.dirname(stateFile))).toEqual(['pool.json']);
  });

  it('is refused with a clear message when missing, corrupt or of the wrong shape', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-pool-'));
    expect(() => readPoolState(path.join(dir, 'none.json'))).toThrow(/none\.json does not exist/);
    writeFileSync(path.join(dir, 'corrupt.json'), '{"fqdn": ');
    expect(() => readPoolState(path.join(dir, 'corrupt.json'))).toThrow(/corrupt\.json is not valid JSON/);
    writeFileSync(path.join(dir, 'shape.json'), JSON.stringify({ ...readPoolState(newPool()), poolState: 'Degraded' }));
    expect(() => readPoolState(path.join(dir, 'shape.json'))).toThrow(/shape\.json is not a pool state: poolState:/);
  });
});

/**
 * The stand-in management shell refuses what it must: malformed commands fail like PowerShell (errors with exit code
 * 1) and change nothing, and a hostile value arrives, per the invocation log, as one literal.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPoolState } from '../../simulator/pool/pool-state';
import {
  POOL,
  lastInvocation,
  newPool,
  quoteForPowerShell,
  requireBuiltShell,
  runShell,
} from '../helpers/management-shell';

beforeAll(requireBuiltShell);

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

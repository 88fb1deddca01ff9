/**
 * The stand-in management shell, run as the pool-control adapter runs it (test/helpers/management-shell.ts): the pool
 * state and active servers it keeps, the JSON a runbook reads back, and the pool-state file itself. Malformed and
 * hostile commands are in management-shell-errors.test.ts, the two SQL cmdlets in management-shell-database.test.ts.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTopology } from '../../topology/load';
import { initialPoolState, readPoolState } from '../../simulator/pool/pool-state';
import {
  EXAMPLE,
  POOL,
  lastInvocation,
  newPool,
  requireBuiltShell,
  runShell,
  setPoolState,
} from '../helpers/management-shell';

beforeAll(requireBuiltShell);

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

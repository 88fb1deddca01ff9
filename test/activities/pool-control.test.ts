/**
 * Pool control through the topology's command (the simulator's stand-in Management Shell): changes act once and are
 * verified, cmdlet errors surface, and hostile values reach the shell as one literal argument — no injection.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { powershellQuote } from '../../activities/pool-control';
import { type PoolTarget } from '../../contracts/estate';
import { readPoolState } from '../../simulator/pool/pool-state';
import { activityHarness, simulatedPassword, type ActivityHarness } from '../helpers/activities';
import { startTestEstate, type TestEstate } from '../helpers/estate';

let env: TestEstate;
let harness: ActivityHarness;

afterEach(async () => {
  if (harness) expect(harness.recorded()).not.toContain(simulatedPassword(env));
  await harness?.close();
  await env?.close();
});

async function start() {
  env = await startTestEstate();
  harness = activityHarness(env);
}

function pool(overrides: Partial<PoolTarget> = {}): PoolTarget {
  return {
    poolControl: env.topology.poolControl,
    fqdn: env.topology.pool.fqdn,
    identity: env.topology.pool.identity!,
    ...overrides,
  };
}

/** What the stand-in shell recorded, invocation by invocation. */
function invocations(): {
  argv: string[];
  statements: { cmdlet: string; parameters: Record<string, unknown> | null }[];
  exitCode: number;
}[] {
  return readFileSync(`${env.estate.poolStateFile}.invocations.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

describe('pool-control activities', () => {
  it('quotes for PowerShell: single quotes, every kind of single quote doubled', () => {
    expect(powershellQuote("it's")).toBe("'it''s'");
    expect(powershellQuote('a\u2019b')).toBe("'a\u2019\u2019b'");
    expect(powershellQuote('$(x); y`z')).toBe("'$(x); y`z'");
  });

  it('reads the pool, sets its state and active servers once each, verifying by reading back in the same shell', async () => {
    await start();
    expect((await harness.run('readPoolState', { pool: pool() })).found).toEqual({
      poolState: 'Normal',
      activeServers: ['pchat-fe1.sim.local', 'pchat-fe2.sim.local'],
    });

    const cleared = await harness.run('setActiveServers', { pool: pool(), servers: [] });
    expect(cleared).toMatchObject({
      outcome: 'acted',
      summary: 'active servers of pchat.sim.local: pchat-fe1.sim.local, pchat-fe2.sim.local → none',
    });
    expect(readPoolState(env.estate.poolStateFile).activeServers).toEqual([]);
    expect((await harness.run('setActiveServers', { pool: pool(), servers: [] })).outcome).toBe('skipped');

    expect((await harness.run('setPoolState', { pool: pool(), state: 'FailedOver' })).outcome).toBe('acted');
    expect((await harness.run('setPoolState', { pool: pool(), state: 'FailedOver' })).outcome).toBe('skipped');
    const dc2 = ['pchat-fe3.sim.local', 'pchat-fe4.sim.local'];
    expect((await harness.run('setActiveServers', { pool: pool(), servers: dc2 })).outcome).toBe('acted');
    expect((await harness.run('setActiveServers', { pool: pool(), servers: [...dc2].reverse() })).outcome).toBe(
      'skipped',
    );
    expect(readPoolState(env.estate.poolStateFile)).toMatchObject({ poolState: 'FailedOver', activeServers: dc2 });
    // One shell per read, and one per change with its read-back.
    expect(invocations().map((entry) => entry.statements.length)).toEqual([2, 2, 3, 2, 2, 3, 2, 2, 3, 2]);
  });

  it("passes a server name or identity with ', ;, $() and a newline as one literal argument, and surfaces the cmdlet's refusal", async () => {
    await start();
    const hostile = "pc'1; Set-CsPersistentChatState -PoolState FailedOver $(whoami)\nRemove-Item x";
    const server = await harness.run('setActiveServers', { pool: pool(), servers: [hostile] }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(server).toMatchObject({ type: 'PoolControlFailed', nonRetryable: true });
    expect((server as Error).message).toContain('Set-CsPersistentChatActiveServer failed');
    const identity = await harness.run('setPoolState', { pool: pool({ identity: hostile }), state: 'FailedOver' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(identity).toMatchObject({ type: 'PoolControlFailed' });

    const recorded = invocations();
    const setServers = recorded.find((entry) => entry.statements[0]?.cmdlet === 'Set-CsPersistentChatActiveServer')!;
    expect(setServers.statements[0].parameters).toMatchObject({ ActiveServers: { Replace: hostile } });
    const getState = recorded.filter((entry) => entry.statements[0]?.cmdlet === 'Get-CsPersistentChatState').pop()!;
    expect(getState.statements[0].parameters).toMatchObject({ Identity: hostile });
    // Nothing ran but the cmdlets of each script (a read; a change and its read-back): the pool is untouched.
    const read = ['Get-CsPersistentChatState', 'Get-CsService'];
    for (const entry of recorded)
      expect([read, [entry.statements[0].cmdlet, ...read]]).toContainEqual(
        entry.statements.map((statement) => statement.cmdlet),
      );
    expect(readPoolState(env.estate.poolStateFile)).toMatchObject({
      poolState: 'Normal',
      activeServers: ['pchat-fe1.sim.local', 'pchat-fe2.sim.local'],
    });
  });

  it('says how to fix a pool-control command that cannot run', async () => {
    await start();
    const missing = await harness
      .run('readPoolState', {
        pool: pool({ poolControl: { command: ['/nonexistent/pwsh', '-Command'], timeout: '5s' } }),
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(missing).toMatchObject({ type: 'PoolControlUnavailable', nonRetryable: true });
    expect((missing as Error).message).toBe(
      'cannot run the pool-control command /nonexistent/pwsh: not found; check poolControl.command in the topology',
    );
  });

  it('fails mgc over to the mirror through Invoke-CsDatabaseFailover once', async () => {
    await start();
    const input = {
      pool: pool(),
      databaseType: 'PersistentChat' as const,
      database: 'mgc',
      newPrincipal: 'Mirror' as const,
      target: harness.instance('dc1-sql-b'),
      force: false,
    };
    expect((await harness.run('invokeDatabaseFailover', input)).outcome).toBe('acted');
    expect(env.estate.snapshot().instances[1].databases[0]).toMatchObject({
      name: 'mgc',
      state: 'ONLINE',
      mirroring: { role: 'PRINCIPAL' },
    });
    expect((await harness.run('invokeDatabaseFailover', input)).outcome).toBe('skipped');
  });

  it('installs mirroring through Install-CsMirrorDatabase once (skipped when the pair is already mirrored)', async () => {
    await start();
    const primary = harness.instance('dc1-sql-a');
    const full = await harness.run('backupFullDatabase', {
      instance: primary,
      database: 'mgc',
      folder: env.topology.backupShare,
      fileName: 'mgc_seed.bak',
    });
    await harness.run('restoreFullDatabase', {
      instance: harness.instance('dc2-sql-a'),
      database: 'mgc',
      file: full.figures.file,
      move: [],
      replace: false,
      recovery: 'RECOVERY',
    });
    await harness.run('setPoolState', { pool: pool(), state: 'FailedOver' });
    const input = {
      pool: pool(),
      databaseType: 'PersistentChat' as const,
      database: 'mgc',
      principal: harness.instance('dc2-sql-a'),
      mirror: harness.instance('dc2-sql-b'),
      fileShare: env.topology.backupShare.sqlPath,
    };
    expect((await harness.run('installMirrorDatabase', input)).outcome).toBe('acted');
    expect((await harness.run('installMirrorDatabase', input)).outcome).toBe('skipped');
    const mirror = env.estate.snapshot().instances.find((instance) => instance.name === 'dc2-sql-b')!.databases[0];
    expect(mirror).toMatchObject({
      name: 'mgc',
      state: 'RESTORING',
      mirroring: { role: 'MIRROR', partner: 'SQLDC2A' },
    });
  });
});

/**
 * The Persistent Chat pool through the Lync / Skype for Business Management Shell (runbook 4 steps 9-11, runbook 5
 * steps 3, 8, 9): the topology's pool-control command runs a script of cmdlet lines, passed as a single argument
 * without a shell, every value single-quoted for PowerShell. Reads go through `| ConvertTo-Json`; a change is verified
 * by reading back, in the same shell.
 */
import { Context } from '@temporalio/activity';
import { sameServers, type PoolTarget, type PoolView } from '../contracts/estate';
import type { Instance } from '../topology/schema';
import { durationMs } from '../topology/durations';
import type { ActivityDependencies } from './dependencies';
import { stepFailure } from './failures';
import { heartbeatWhile } from './heartbeat';
import { readMirroring } from './mirroring';
import {
  installMirrorDatabase,
  invokeDatabaseFailover,
  readPoolScript,
  scriptOf,
  setPersistentChatActiveServer,
  setPersistentChatState,
  type CmdletLine,
} from './statements';
import { StepClock, type StepResult } from './step-result';

export { powershellQuote } from './statements';

/**
 * Runs cmdlet lines as one script in one shell (a Management Shell takes seconds to start), a shell of its own or
 * the pool's shell kept open (poolControl.keepOpen). pwsh runs every statement and exits with the last one's status,
 * so with several an error record on stderr fails the script too.
 */
async function runCmdlets(deps: ActivityDependencies, target: PoolTarget, cmdlets: CmdletLine[]): Promise<string> {
  const line = scriptOf(cmdlets);
  const [program] = target.poolControl.command;
  let result;
  try {
    // The Management Shell can take minutes to load: heartbeat so a dead worker, not a slow shell, is what times out.
    result = await heartbeatWhile(
      deps.poolControl.run(target.poolControl.command, line, {
        timeoutMs: durationMs(target.poolControl.timeout),
        keepOpenMs: target.poolControl.keepOpen ? durationMs(target.poolControl.keepOpen) : 0,
        pool: target.fqdn,
        // A cancelled step (its run aborted, its worker shutting down past the grace time) stops its shell.
        signal: Context.current().cancellationSignal,
      }),
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw stepFailure(
      'PoolControlUnavailable',
      `cannot run the pool-control command ${program}${code === 'ENOENT' ? ': not found' : `: ${(error as Error).message}`}; check poolControl.command in the topology`,
      { program },
    );
  }
  const names = cmdlets.map((cmdlet) => cmdlet.cmdlet);
  if (result.timedOut)
    throw stepFailure(
      'NotReachable',
      `the Management Shell did not answer within ${target.poolControl.timeout}: ${line}`,
      {
        cmdlet: names.join('; '),
      },
    );
  const stderr = result.stderr.trim();
  if (result.exitCode !== 0 || (cmdlets.length > 1 && stderr)) {
    // An error record starts with the name of the cmdlet that failed.
    const failed = names.find((name) => stderr.startsWith(name)) ?? names[names.length - 1];
    const message = stderr.split('\n').slice(0, 6).join('\n') || `exit code ${result.exitCode}`;
    throw stepFailure('PoolControlFailed', `${failed} failed: ${message}`, {
      cmdlet: failed,
      exitCode: result.exitCode,
    });
  }
  return result.stdout;
}

function parseJson<T>(text: string, cmdlet: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw stepFailure('PoolControlFailed', `${cmdlet} did not print JSON: ${text.slice(0, 200)}`, { cmdlet });
  }
}

/**
 * The pool's state and active servers, read in one shell; `change`, when given, runs first in the same shell, so a
 * change and its read-back cost one Management Shell start.
 */
export async function readPool(deps: ActivityDependencies, target: PoolTarget, change?: CmdletLine): Promise<PoolView> {
  const reads = readPoolScript(target.identity, target.fqdn);
  const output = await runCmdlets(deps, target, change ? [change, ...reads] : reads);
  // ConvertTo-Json -Compress prints each answer on one line; a change's own output is never a JSON line.
  const [stateLine, serviceLine] = output.split('\n').filter((text) => /^\s*[[{]/.test(text));
  const state = parseJson<{ PoolState?: string } | { PoolState?: string }[]>(
    stateLine ?? '',
    'Get-CsPersistentChatState',
  );
  const service = parseJson<
    { ActiveServers?: string[] | string | null } | { ActiveServers?: string[] | string | null }[]
  >(serviceLine ?? '', 'Get-CsService');
  const first = <T>(value: T | T[]) => (Array.isArray(value) ? value[0] : value);
  const poolState = first(state)?.PoolState;
  if (poolState !== 'Normal' && poolState !== 'FailedOver')
    throw stepFailure(
      'PoolControlFailed',
      `Get-CsPersistentChatState returned no PoolState for ${target.identity}`,
      {},
    );
  const servers = first(service)?.ActiveServers ?? [];
  return { poolState, activeServers: Array.isArray(servers) ? servers : [servers] };
}

export function poolControlActivities(deps: ActivityDependencies) {
  return {
    async readPoolState(input: { pool: PoolTarget }): Promise<StepResult<PoolView>> {
      const clock = new StepClock(deps.clock);
      const view = await readPool(deps, input.pool);
      return clock.observed(
        `pool ${input.pool.fqdn} is ${view.poolState}; active servers: ${view.activeServers.join(', ') || 'none'}`,
        view,
      );
    },

    /** Runbook 4 step 9 / runbook 5 step 8: Set-CsPersistentChatState -PoolState Normal|FailedOver. */
    async setPoolState(input: { pool: PoolTarget; state: PoolView['poolState'] }): Promise<StepResult<PoolView>> {
      const clock = new StepClock(deps.clock);
      const before = await readPool(deps, input.pool);
      if (before.poolState === input.state)
        return clock.skipped(`pool ${input.pool.fqdn} is already ${input.state}`, before);
      const after = await readPool(deps, input.pool, setPersistentChatState(input.pool.identity, input.state));
      if (after.poolState !== input.state)
        throw stepFailure(
          'PoolControlFailed',
          `pool ${input.pool.fqdn} is still ${after.poolState} after Set-CsPersistentChatState`,
          {},
        );
      return clock.acted(`pool ${input.pool.fqdn} set from ${before.poolState} to ${input.state}`, before);
    },

    /**
     * Runbook 4 step 11 / runbook 5 steps 3 and 8: the active servers become exactly `servers` (none: $Null). The
     * figures hold the pool as it is now (read back, or as found): a runbook's final check needs no other read.
     */
    async setActiveServers(input: {
      pool: PoolTarget;
      servers: string[];
    }): Promise<StepResult<PoolView, { pool: PoolView }>> {
      const clock = new StepClock(deps.clock);
      const before = await readPool(deps, input.pool);
      if (sameServers(before.activeServers, input.servers))
        return clock.skipped(
          `active servers of ${input.pool.fqdn} are already ${input.servers.join(', ') || 'none'}`,
          before,
          { pool: before },
        );
      const after = await readPool(deps, input.pool, setPersistentChatActiveServer(input.pool.identity, input.servers));
      if (!sameServers(after.activeServers, input.servers))
        throw stepFailure(
          'PoolControlFailed',
          `active servers are ${after.activeServers.join(', ') || 'none'} after Set-CsPersistentChatActiveServer`,
          {},
        );
      return clock.acted(
        `active servers of ${input.pool.fqdn}: ${before.activeServers.join(', ') || 'none'} → ${input.servers.join(', ') || 'none'}`,
        before,
        { pool: after },
      );
    },

    /** Invoke-CsDatabaseFailover: the pool's own way of switching mirroring partners (skipped when the target already leads). */
    async invokeDatabaseFailover(input: {
      pool: PoolTarget;
      databaseType: 'PersistentChat' | 'PersistentChatCompliance';
      database: string;
      newPrincipal: 'Primary' | 'Mirror';
      target: Instance;
      force: boolean;
    }): Promise<StepResult<{ target: Awaited<ReturnType<typeof readMirroring>> }>> {
      const clock = new StepClock(deps.clock);
      const target = await readMirroring(deps, input.target, input.database);
      if (target.role === 'PRINCIPAL' && target.state === 'ONLINE')
        return clock.skipped(`${input.target.name} is already the principal of ${input.database}`, { target });
      await runCmdlets(deps, input.pool, [
        invokeDatabaseFailover(input.pool.fqdn, input.databaseType, input.newPrincipal, input.force),
      ]);
      await deps.sql.evict(input.target);
      return clock.acted(
        `Invoke-CsDatabaseFailover made the ${input.newPrincipal.toLowerCase()} (${input.target.name}) principal of ${input.database}`,
        { target },
      );
    },

    /** Runbook 4 step 10 / runbook 5 step 9: Install-CsMirrorDatabase, skipped when the pair is already mirrored. */
    async installMirrorDatabase(input: {
      pool: PoolTarget;
      databaseType: 'PersistentChat' | 'PersistentChatCompliance';
      database: string;
      principal: Instance;
      mirror: Instance;
      fileShare: string;
    }): Promise<StepResult<{ principal: Awaited<ReturnType<typeof readMirroring>> }>> {
      const clock = new StepClock(deps.clock);
      const principal = await readMirroring(deps, input.principal, input.database);
      // The partner is named as SQL Server names itself (@@SERVERNAME), never by the topology's label.
      const mirrorServer = principal.partner && (await readMirroring(deps, input.mirror, input.database)).serverName;
      if (
        principal.role === 'PRINCIPAL' &&
        mirrorServer &&
        principal.partner?.toLowerCase() === mirrorServer.toLowerCase()
      ) {
        return clock.skipped(
          `${input.database} on ${input.principal.name} is already mirrored to ${input.mirror.name}`,
          { principal },
        );
      }
      await runCmdlets(deps, input.pool, [
        installMirrorDatabase(input.databaseType, input.principal.host, input.principal.instanceName, input.fileShare),
      ]);
      const after = await readMirroring(deps, input.principal, input.database);
      if (after.role !== 'PRINCIPAL')
        throw stepFailure(
          'NotMirrored',
          `${input.database} on ${input.principal.name} is not mirrored after Install-CsMirrorDatabase`,
          { instance: input.principal.name },
        );
      return clock.acted(
        `${input.database} mirrored from ${input.principal.name} to ${input.mirror.name} (Install-CsMirrorDatabase); SfB requires restarting the Front End servers after a mirroring change`,
        { principal },
      );
    },
  };
}

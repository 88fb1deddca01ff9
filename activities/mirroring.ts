/**
 * Database mirroring steps (runbook 1; runbook 5 step 4), in T-SQL against the partners. Each reads the partners
 * first and does nothing when the estate is already as asked.
 */
import { Context } from '@temporalio/activity';
import type { Instance } from '../topology/schema';
import type { ActivityDependencies } from './dependencies';
import { heartbeat } from './heartbeat';
import { stepFailure, type FailureDetails, type FailureType } from './failures';
import { forceServiceAllowDataLoss, partnerFailover, partnerOff, partnerSafety, type Statement } from './statements';
import { StepClock, type StepResult } from './step-result';

export interface MirroringState {
  instance: string;
  /** @@SERVERNAME: what log shipping and mirroring call this instance. */
  serverName: string | null;
  reachable: boolean;
  /** Why the instance could not be read, when it could not, and the failure type that says so. */
  unreachableReason?: string;
  unreachableType?: FailureType;
  database: string;
  exists: boolean;
  /** sys.databases.state_desc: ONLINE, RESTORING ... */
  state: string | null;
  recoveryModel: string | null;
  role: 'PRINCIPAL' | 'MIRROR' | null;
  mirroringState: string | null;
  safety: 'FULL' | 'OFF' | null;
  partner: string | null;
  roleSequence: number | null;
  failoverLsn: string | null;
}

/** Reads one partner; an instance that cannot be reached, or answers badly, is a fact to report, not an error. */
export async function readMirroring(
  deps: ActivityDependencies,
  instance: Instance,
  database: string,
): Promise<MirroringState> {
  /** What the database's row says; all null when the database does not exist there. */
  type DatabaseFacts = Omit<
    MirroringState,
    'instance' | 'serverName' | 'reachable' | 'unreachableReason' | 'database' | 'exists'
  >;
  const absent: DatabaseFacts = {
    state: null,
    recoveryModel: null,
    role: null,
    mirroringState: null,
    safety: null,
    partner: null,
    roleSequence: null,
    failoverLsn: null,
  };
  try {
    const serverName =
      (await deps.sql.firstRow<{ name: string }>(instance, 'SELECT @@SERVERNAME AS name'))?.name ?? null;
    // The topology may say which server answers at this address: another one there is not this instance.
    if (instance.serverName && serverName?.toUpperCase() !== instance.serverName.toUpperCase())
      throw stepFailure(
        'WrongInstance',
        `${instance.name} (${instance.host}) answers as ${serverName ?? 'an unnamed server'}, not ${instance.serverName} as the topology says`,
        { instance: instance.name, serverName },
      );
    const base = { instance: instance.name, serverName, database, reachable: true };
    const row = await deps.sql.firstRow<DatabaseFacts>(
      instance,
      `SELECT d.state_desc AS state, d.recovery_model_desc AS recoveryModel, m.mirroring_role_desc AS role,
              m.mirroring_state_desc AS mirroringState, m.mirroring_safety_level_desc AS safety,
              m.mirroring_partner_instance AS partner, m.mirroring_role_sequence AS roleSequence,
              CAST(m.mirroring_failover_lsn AS varchar(25)) AS failoverLsn
         FROM sys.databases d LEFT JOIN sys.database_mirroring m ON m.database_id = d.database_id
        WHERE d.name = @database`,
      { database },
    );
    return row ? { ...base, exists: true, ...row } : { ...base, exists: false, ...absent };
  } catch (error) {
    // An instance that refuses the login, fails the read or times out does not serve (docs/runbooks.md rule 2): a
    // fact for the evidence ("not serving, because ..."), so a disaster failover goes on through its gates.
    const unreachableType = ((error as { type?: FailureType }).type ?? 'SqlError') as FailureType;
    const message = (error as Error).message;
    const unreachableReason =
      unreachableType === 'NotReachable' ? message : `it answers but does not serve (${unreachableType}): ${message}`;
    return {
      instance: instance.name,
      serverName: null,
      database,
      reachable: false,
      unreachableReason,
      unreachableType,
      exists: false,
      ...absent,
    };
  }
}

const isPrincipal = (state: MirroringState) =>
  state.reachable && state.role === 'PRINCIPAL' && state.state === 'ONLINE';

/** After a role change the database's state settles within moments; waits (bounded) for the expected role. */
async function confirmRole(
  deps: ActivityDependencies,
  instance: Instance,
  database: string,
  role: 'PRINCIPAL' | 'MIRROR',
): Promise<MirroringState> {
  let state = await readMirroring(deps, instance, database);
  for (
    let attempt = 0;
    attempt < 40 && !(state.role === role && (role === 'MIRROR' || state.state === 'ONLINE'));
    attempt++
  ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    state = await readMirroring(deps, instance, database);
  }
  if (state.role !== role)
    throw stepFailure(
      'WrongRole',
      `${instance.name}: ${database} did not become ${role} (found ${state.role ?? 'no role'}, ${state.state ?? 'unknown state'})`,
      { instance: instance.name },
    );
  return state;
}

/** A partner the step must act on answers, or the step fails as it did (NotReachable, which Temporal retries, ...). */
function requireReachable(instance: Instance, state: MirroringState): void {
  if (!state.reachable)
    throw stepFailure(
      state.unreachableType ?? 'NotReachable',
      `${instance.name} cannot be reached: ${state.unreachableReason}`,
      details(state),
    );
}

function details(state: MirroringState): FailureDetails {
  return {
    instance: state.instance,
    state: state.state,
    role: state.role,
    mirroringState: state.mirroringState,
    safety: state.safety,
  };
}

export interface PartnersInput {
  database: string;
  /** The instance that should end up principal. */
  target: Instance;
  /** Its mirroring partner. */
  partner: Instance;
}

export function mirroringActivities(deps: ActivityDependencies) {
  const run = (instance: Instance, statement: Statement) => deps.sql.execute(instance, statement, 'change');
  return {
    /**
     * Runbook 1 step 1: one partner's view (an unreachable partner is evidence, not an error). With `mustAnswer` (a
     * verification after a change), an instance that does not answer fails the step instead, so it is retried and
     * then put to people, rather than read as a database that is not there.
     */
    async readMirroringState(input: {
      instance: Instance;
      database: string;
      mustAnswer?: boolean;
    }): Promise<StepResult<MirroringState>> {
      const clock = new StepClock(deps.clock);
      const state = await readMirroring(deps, input.instance, input.database);
      if (input.mustAnswer) requireReachable(input.instance, state);
      const summary = state.reachable
        ? `${input.instance.name}: ${input.database} is ${state.state ?? 'absent'}${state.role ? `, ${state.role} ${state.mirroringState} (safety ${state.safety})` : ', not mirrored'}`
        : `${input.instance.name} cannot be reached`;
      return clock.observed(summary, state);
    },

    /** Runbook 1 step 3: planned failover, issued on the current principal in master. */
    async plannedMirrorFailover(
      input: PartnersInput,
    ): Promise<
      StepResult<
        { target: MirroringState; partner: MirroringState },
        { roleSequence: number | null; failoverLsn: string | null }
      >
    > {
      const clock = new StepClock(deps.clock);
      const target = await readMirroring(deps, input.target, input.database);
      const partner = await readMirroring(deps, input.partner, input.database);
      const found = { target, partner };
      if (isPrincipal(target)) {
        return clock.skipped(`${input.target.name} is already the principal of ${input.database}`, found, {
          roleSequence: target.roleSequence,
          failoverLsn: target.failoverLsn,
        });
      }
      if (!partner.reachable)
        throw stepFailure(
          partner.unreachableType ?? 'NotReachable',
          `${input.partner.name}, the current principal, cannot be reached: a planned failover needs it (${partner.unreachableReason})`,
          details(partner),
        );
      if (partner.role !== 'PRINCIPAL')
        throw stepFailure(
          'WrongRole',
          `${input.partner.name} is not the principal of ${input.database} (role ${partner.role ?? 'none'}): cannot fail over from it`,
          details(partner),
        );
      if (partner.safety !== 'FULL')
        throw stepFailure(
          'SafetyNotFull',
          `mirroring safety of ${input.database} is ${partner.safety}: a planned failover needs SAFETY FULL`,
          details(partner),
        );
      if (partner.mirroringState !== 'SYNCHRONIZED')
        throw stepFailure(
          'NotSynchronized',
          `${input.database} is ${partner.mirroringState}: a planned failover needs SYNCHRONIZED`,
          details(partner),
        );
      // The principal fails over to whatever partner it has: it must be the one asked for (server names, as SQL
      // Server reports them, never topology labels).
      if (!target.serverName || (partner.partner ?? '').toUpperCase() !== target.serverName.toUpperCase())
        throw stepFailure(
          'WrongRole',
          `${input.partner.name} mirrors ${input.database} with ${partner.partner ?? 'no partner'}, not with ${input.target.name} (${target.serverName ?? 'unreachable'}): a failover would not go where asked`,
          details(partner),
        );
      await run(input.partner, partnerFailover(input.database));
      // Both partners' connections to the database were dropped by the role change.
      await Promise.all([deps.sql.evict(input.partner), deps.sql.evict(input.target)]);
      const after = await confirmRole(deps, input.target, input.database, 'PRINCIPAL');
      return clock.acted(`${input.database} failed over from ${input.partner.name} to ${input.target.name}`, found, {
        roleSequence: after.roleSequence,
        failoverLsn: after.failoverLsn,
      });
    },

    /** Runbook 1 step 4: forced service on the mirror, only when the principal cannot be reached. */
    async forceMirrorService(input: {
      database: string;
      mirror: Instance;
      principal: Instance;
    }): Promise<StepResult<{ mirror: MirroringState; principal: MirroringState }, { failoverLsn: string | null }>> {
      const clock = new StepClock(deps.clock);
      const mirror = await readMirroring(deps, input.mirror, input.database);
      const principal = await readMirroring(deps, input.principal, input.database);
      const found = { mirror, principal };
      if (isPrincipal(mirror))
        return clock.skipped(`${input.mirror.name} already serves ${input.database} as principal`, found, {
          failoverLsn: mirror.failoverLsn,
        });
      requireReachable(input.mirror, mirror);
      if (mirror.role !== 'MIRROR')
        throw stepFailure(
          'WrongRole',
          `${input.mirror.name} is not the mirror of ${input.database} (role ${mirror.role ?? 'none'})`,
          details(mirror),
        );
      if (isPrincipal(principal)) {
        throw stepFailure(
          'PrincipalReachable',
          `${input.principal.name} still answers as principal of ${input.database}: forcing service would split the brain; use a planned failover`,
          details(principal),
        );
      }
      await run(input.mirror, forceServiceAllowDataLoss(input.database));
      await deps.sql.evict(input.mirror);
      const after = await confirmRole(deps, input.mirror, input.database, 'PRINCIPAL');
      return clock.acted(
        `forced service of ${input.database} on ${input.mirror.name} (the mirror was ${mirror.mirroringState}; unsent log may be lost)`,
        found,
        { failoverLsn: after.failoverLsn },
      );
    },

    /** Runbook 1 step 3: SAFETY FULL before a planned failover (or OFF). */
    async setMirroringSafety(input: {
      database: string;
      principal: Instance;
      safety: 'FULL' | 'OFF';
    }): Promise<StepResult<MirroringState>> {
      const clock = new StepClock(deps.clock);
      const state = await readMirroring(deps, input.principal, input.database);
      requireReachable(input.principal, state);
      if (state.role !== 'PRINCIPAL')
        throw stepFailure(
          'WrongRole',
          `${input.principal.name} is not the principal of ${input.database}: safety is set on the principal`,
          details(state),
        );
      if (state.safety === input.safety)
        return clock.skipped(`mirroring safety of ${input.database} is already ${input.safety}`, state);
      await run(input.principal, partnerSafety(input.database, input.safety));
      return clock.acted(`mirroring safety of ${input.database} set from ${state.safety} to ${input.safety}`, state);
    },

    /** Runbook 1 step 3 [beyond]: waits (bounded, heartbeating) until the session is SYNCHRONIZED. */
    async waitUntilSynchronized(input: {
      database: string;
      principal: Instance;
      timeoutSeconds: number;
      pollMs?: number;
    }): Promise<StepResult<MirroringState, { waitedMs: number }>> {
      const clock = new StepClock(deps.clock);
      const context = Context.current();
      const started = Date.now();
      let state = await readMirroring(deps, input.principal, input.database);
      if (state.mirroringState === 'SYNCHRONIZED')
        return clock.skipped(`${input.database} is already SYNCHRONIZED`, state, { waitedMs: 0 });
      while (state.mirroringState !== 'SYNCHRONIZED') {
        if (Date.now() - started > input.timeoutSeconds * 1000) {
          throw stepFailure(
            'NotSynchronized',
            `${input.database} did not become SYNCHRONIZED within ${input.timeoutSeconds} s (last seen ${state.mirroringState ?? 'not mirrored'})`,
            details(state),
          );
        }
        heartbeat({ mirroringState: state.mirroringState });
        await context.sleep(input.pollMs ?? 500);
        state = await readMirroring(deps, input.principal, input.database);
        requireReachable(input.principal, state);
        if (!state.role)
          throw stepFailure(
            'NotMirrored',
            `${input.database} on ${input.principal.name} is not mirrored`,
            details(state),
          );
      }
      return clock.acted(`${input.database} became SYNCHRONIZED`, state, { waitedMs: Date.now() - started });
    },

    /** Runbook 5 step 4: remove mirroring (either partner may issue it; the former mirror stays RESTORING). */
    async removeMirroring(input: { database: string; instance: Instance }): Promise<StepResult<MirroringState>> {
      const clock = new StepClock(deps.clock);
      const state = await readMirroring(deps, input.instance, input.database);
      requireReachable(input.instance, state);
      if (!state.exists)
        throw stepFailure(
          'DatabaseMissing',
          `${input.database} does not exist on ${input.instance.name}`,
          details(state),
        );
      if (!state.role) return clock.skipped(`${input.database} on ${input.instance.name} is not mirrored`, state);
      await run(input.instance, partnerOff(input.database));
      return clock.acted(
        `mirroring of ${input.database} removed on ${input.instance.name} (was ${state.role}, partner ${state.partner})`,
        state,
      );
    },
  };
}

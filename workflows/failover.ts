/**
 * Runbook 4 — failover: Persistent Chat to the backup datacenter. `disaster` is Microsoft's procedure (DC1 is gone:
 * drop log shipping on the backup, copy and apply what was shipped, recover, switch the pool); `planned` first fences
 * DC1 with a tail-log backup, so nothing is lost. A split-brain guard stops a "disaster" while DC1 still serves (and
 * is asked again just before recovery), a break in the log chain — a gap, a file no copy of which can be read, a
 * file that is gone — is never recovered past without two people accepting the loss (rule 9), and a planned
 * switchover that stops after the fence offers its way back (rule 10, workflows/switchover-rollback.ts).
 */
import { patched } from '@temporalio/workflow';
import type { EstateEvidence } from '../activities/evidence';
import type { MirroringState } from '../activities/mirroring';
import { formatDuration } from '../topology/durations';
import type { Instance } from '../topology/schema';
import { databaseNameOf, databaseOf, poolTargetOf, requiredInstance, sameServers } from '../contracts/estate';
import { tailLogBackupName, tailLogBackupTime } from '../contracts/log-shipping';
import { dataLossEvidence, failoverEvidence, gapLine, onlinePrincipals } from './gate-evidence';
import { recoveryPoint, recoveryTime, serviceInterruption, type LossFacts } from './measures';
import type { RunbookReport } from '../contracts/run-record';
import * as step from './step-specs';
import { Runbook } from './runbook';
import type { StepOutcome } from './step-runner';
import type { ActivityResult } from './activity-kinds';
import type { RunbookInput, FailoverOptions } from '../contracts/runbooks';
import { offerSwitchoverRollBack, type SwitchoverProgress } from './switchover-rollback';

/** Workflow changes since the first recorded histories (docs/runbooks.md "Changing a runbook"). */
const UNREAD_LOG_IS_A_GAP = 'unread-log-is-a-gap';
const RECHECK_SPLIT_BRAIN = 'recheck-split-brain-before-recovery';
const ROLL_BACK_SWITCHOVER = 'roll-back-switchover';
const COUNT_LOST_MESSAGES = 'count-lost-messages';
const END_SESSIONS_BEFORE_FENCE = 'end-sessions-before-fence';
const DECLARATION_ON_LATEST_EVIDENCE = 'declaration-on-latest-evidence';
const VERIFY_POOL_FROM_ACTIVATION = 'verify-pool-from-activation';
const TAIL_AFTER_NEWEST_LOG = 'tail-named-after-newest-log';

interface ApplyDetails {
  applied?: number;
  lastAppliedBackupFinish?: string | null;
}

/** When DC1 was last seen serving, and first seen not serving: the bounds of what it may have written. */
class Dc1Sightings {
  lastServingAt: string | null = null;
  firstNotServingAt: string | null = null;

  record(evidence: EstateEvidence): void {
    if (onlinePrincipals(evidence).length > 0) this.lastServingAt = evidence.takenAt;
    else this.firstNotServingAt ??= evidence.takenAt;
  }
}

export async function failover(input: RunbookInput<FailoverOptions>): Promise<RunbookReport> {
  const rb = new Runbook<FailoverOptions>('failover', input);
  return rb.execute(async () => {
    const { topology } = rb;
    const mode = rb.options.mode ?? 'disaster';
    const { name: database, backup, backupMirror } = databaseOf(topology, 'mgc');
    const pool = poolTargetOf(topology);
    const declaredAt = rb.record.startedAt;
    const sightings = new Dc1Sightings();
    // The newest log backup any evidence of this run listed: should it go (deleted, a share lost), the next
    // evidence says so (missing, a break), instead of a shorter chain that looks complete.
    let newestLog: { file: string; finishedAt: string } | null = null;

    /** `act`: the run acts on this evidence (applies its logs), so what it cannot read fails the step. `pool`: read
     *  the pool too (not needed where the run only applies logs). */
    const gather = async (title: string, { act = false, pool: includePool = true } = {}): Promise<EstateEvidence> => {
      const found = (
        await rb.read({
          name: 'gather-evidence',
          title,
          target: backup.name,
          activity: 'gatherEvidence',
          input: {
            topology,
            database: 'mgc',
            ...(newestLog ? { knownLogs: [newestLog.file] } : {}),
            ...(act ? { complete: true } : {}),
            ...(includePool ? {} : { includePool }),
          },
        })
      ).found;
      sightings.record(found);
      if (
        found.lastLogBackup &&
        (!newestLog || Date.parse(found.lastLogBackup.finishedAt) > Date.parse(newestLog.finishedAt))
      )
        newestLog = found.lastLogBackup;
      return found;
    };

    // Step 1: preflight and evidence.
    let evidence = await gather('Gather evidence: roles, log shipping, pending log backups, LSN chain, pool');
    /** Every log backup of the chain the run has heard of, by name: a tail must sort after them all. */
    const chainFiles = () => [
      newestLog?.file,
      evidence.logShipping.primary?.lastBackupFile,
      evidence.logShipping.secondary?.lastCopiedFile,
      evidence.logShipping.secondary?.lastRestoredFile,
    ];
    let newestLogBackup = evidence.lastLogBackup?.finishedAt ?? null;
    rb.require(
      evidence.partners.backup?.reachable,
      `${backup.name} cannot be reached: there is nothing to fail over to (${evidence.partners.backup?.unreachableReason ?? 'no answer'})`,
    );
    rb.require(
      evidence.backupDatabase?.exists,
      `${database} does not exist on ${backup.name}: log shipping was never set up (run setup-log-shipping)`,
    );
    const alreadyOnline = evidence.backupDatabase!.state === 'ONLINE';
    if (
      alreadyOnline &&
      evidence.pool?.poolState === 'FailedOver' &&
      sameServers(evidence.pool.activeServers, topology.pool.servers.dc2)
    ) {
      return {
        outcome: 'no-change',
        reason: `the pool already runs on ${backup.name} (FailedOver, DC2 servers active)`,
      };
    }
    rb.require(
      alreadyOnline || evidence.backupDatabase!.state === 'RESTORING',
      `${database} on ${backup.name} is ${evidence.backupDatabase!.state}: expected RESTORING (log-shipping secondary)`,
    );
    if (alreadyOnline)
      rb.note(
        `${database} is already ONLINE on ${backup.name} (an earlier run recovered it): resuming at the pool switch`,
      );

    // Step 2: split-brain guard [beyond].
    const principals = onlinePrincipals(evidence);
    let overridden: string[] | null = null;
    const guard = async (found: string[], when: string) => {
      rb.note(`split-brain guard${when}: ${found.join(', ')} still serve ${database} as principal`);
      await rb.approval(
        'override-split-brain-guard',
        `${found.join(' and ')} still answer and serve ${database} as principal: this is not a disaster as declared (use --mode planned for a switchover). Override the guard and fail over anyway?`,
        async () =>
          failoverEvidence(rb.now(), (evidence = await gather('Gather evidence for the split-brain guard')), mode),
      );
      overridden = found;
    };
    if (mode === 'disaster' && principals.length > 0 && !alreadyOnline) await guard(principals, '');
    if (mode === 'planned' && !alreadyOnline)
      rb.require(
        principals.length === 1,
        `a planned switchover needs DC1 serving ${database} (principals found: ${principals.join(', ') || 'none'}); use --mode disaster`,
      );

    // Step 3: the declaration. It opens on the evidence just read (nothing was changed since; the approval is checked
    // against a fresh read all the same).
    let onLatestEvidence = patched(DECLARATION_ON_LATEST_EVIDENCE);
    const window =
      evidence.chain.lastAppliableBackupFinish && newestLogBackup
        ? Math.max(0, Date.parse(newestLogBackup) - Date.parse(evidence.chain.lastAppliableBackupFinish))
        : null;
    await rb.approval(
      mode === 'disaster' ? 'declare-disaster' : 'approve-switchover',
      mode === 'disaster'
        ? `Declare a disaster and fail Persistent Chat over to ${backup.name} (DC2)? Expected data loss: changes after ${evidence.chain.lastAppliableBackupFinish ?? evidence.backupDatabase?.restoredUpTo ?? 'the last restored log'}${window !== null ? ` (${formatDuration(window)} of shipped logs not appliable)` : ''}, plus whatever DC1 wrote after its last log backup.`
        : `Switch Persistent Chat over to ${backup.name} (DC2)? Chat stops from the fence to the switch; no data is lost.`,
      async () => {
        if (!onLatestEvidence) evidence = await gather('Gather evidence for the declaration');
        onLatestEvidence = false;
        return failoverEvidence(rb.now(), evidence, mode);
      },
    );
    newestLogBackup = latest(newestLogBackup, evidence.lastLogBackup?.finishedAt);

    let interruptedAt: string | null = null;
    let recoveredAt: string | null = evidence.backupDatabase?.restoredUpTo ?? null;
    let logsNotApplied = 0;
    let fencedBy: string | null = null;
    // What the way back of a planned switchover needs to know (workflows/switchover-rollback.ts).
    const progress: SwitchoverProgress = { stopped: false, principal: null, dc2Serving: false };
    let activated: StepOutcome<ActivityResult<'setActiveServers'>> | null = null;
    try {
      if (!alreadyOnline) {
        // Step 4 (planned): stop the service, fence DC1 with a tail-log backup (it stays RESTORING), ship it.
        if (mode === 'planned') {
          rb.setPhase('fencing-dc1');
          const principalRole = principals[0] === evidence.partners.primary?.instance ? 'primary' : 'mirror';
          const principal = requiredInstance(topology, 'mgc', principalRole);
          progress.principal = principal;
          await rb.act(
            step.setActiveServers('clear-active-servers', 'Stop Persistent Chat: clear the active servers', pool, []),
          );
          progress.stopped = true;
          interruptedAt = rb.now();
          const state = evidence.partners[principalRole] as MirroringState;
          if (state.role) {
            // A tail-log backup WITH NORECOVERY is refused on a mirrored database (1468).
            await rb.act(step.removeMirroring('remove-dc1-mirroring', principal, database));
          }
          // BACKUP LOG WITH NORECOVERY needs the database to itself (3101): sessions the stopped service did not
          // close, the compliance service's or an administrator's, are ended first.
          if (patched(END_SESSIONS_BEFORE_FENCE))
            await rb.act(step.endSessions('end-dc1-sessions', principal, database));
          const tail = await rb.act({
            name: 'tail-log-backup',
            title: `Back up the tail of the log of ${database} on ${principal.name} WITH NORECOVERY (fences DC1)`,
            target: principal.name,
            activity: 'backupTailLog',
            input: {
              instance: principal,
              database,
              folder: topology.backupShare,
              fileName: tailLogBackupName(
                database,
                patched(TAIL_AFTER_NEWEST_LOG) ? tailLogBackupTime(new Date(), chainFiles()) : new Date(),
              ),
            },
          });
          fencedBy = principal.name;
          // The run's own tail carries every last write: known from here, whatever becomes of the file (rule 9).
          if (tail.kind === 'done')
            newestLog = { file: tail.result.figures.file, finishedAt: tail.result.figures.backupFinish };
        }

        // Step 5: log shipping off on the backup (this deletes its copy and restore jobs).
        rb.setPhase('removing-log-shipping');
        await rb.act({
          name: 'remove-log-shipping',
          title: `Remove log shipping of ${database} on ${backup.name}`,
          activity: 'removeLogShippingSecondary',
          input: { instance: backup, database, waitSeconds: rb.options.jobWaitSeconds ?? 600 },
        });

        // Step 6: copy what the copy job had not copied, and again what was copied damaged.
        rb.setPhase('copying-logs');
        await rb.act({
          name: 'copy-logs',
          title: `Copy log backups not yet copied to ${topology.copyFolder.workerPath}`,
          target: topology.copyFolder.sqlPath,
          activity: 'copyPendingBackups',
          input: {
            from: topology.backupShare,
            to: topology.copyFolder,
            database,
            ...(evidence.recopy?.length ? { recopy: evidence.recopy } : {}),
          },
        });

        // Step 7: apply every log not yet applied, in LSN order, in one heartbeating activity.
        rb.setPhase('applying-logs');
        evidence = await gather('Read the headers of the log backups to apply', { act: true, pool: false });
        newestLogBackup = latest(newestLogBackup, evidence.lastLogBackup?.finishedAt);
        recoveredAt = evidence.backupDatabase?.restoredUpTo ?? recoveredAt;
        const applied = await rb.act({
          name: 'apply-logs',
          title: `Apply ${evidence.pending.length} log backup(s) to ${database} on ${backup.name} WITH NORECOVERY`,
          activity: 'applyPendingLogs',
          input: { instance: backup, database, logs: evidence.pending },
          expect: ['LogChainBroken'],
        });
        // A break: never recover past it without people accepting the loss (two approvals by default, rule 9). A
        // file no copy of which could be read breaks the chain even when every readable log applied.
        let broken: string | null = null;
        if (applied.kind === 'done') {
          recoveredAt = applied.result.figures.lastAppliedBackupFinish ?? recoveredAt;
          if (evidence.chain.gap && evidence.chain.gap.reason !== 'lsn' && patched(UNREAD_LOG_IS_A_GAP))
            broken = gapLine(evidence.chain.gap);
        } else if (applied.kind === 'failed') {
          const details = (applied.failure.details ?? {}) as ApplyDetails;
          recoveredAt = details.lastAppliedBackupFinish ?? recoveredAt;
          broken = applied.failure.message;
        }
        if (broken) {
          rb.note(`the log chain of ${database} is broken: ${broken}`);
          await rb.approval(
            'accept-data-loss',
            `The log chain of ${database} is broken. Recover ${backup.name} at the last log before the break, accepting the loss of every later change?`,
            async () => {
              evidence = await gather('Gather evidence of the break in the log chain');
              return dataLossEvidence(rb.now(), evidence);
            },
          );
          recoveredAt = evidence.backupDatabase?.restoredUpTo ?? recoveredAt;
          logsNotApplied = evidence.pending.length + (evidence.unreadable?.length ?? 0);
        }

        // Step 8: exclusive access, then recovery — after asking once more whether DC1 came back meanwhile.
        rb.setPhase('recovering');
        // A dry run fenced nothing: DC1 serving then is the plan, not a split brain.
        if (!rb.dryRun && patched(RECHECK_SPLIT_BRAIN)) await recheckSplitBrain();
        await rb.act(step.endSessions('end-sessions', backup, database));
        await rb.act({
          name: 'recover',
          title: `RESTORE DATABASE ${database} WITH RECOVERY on ${backup.name}`,
          activity: 'recoverDatabase',
          input: { instance: backup, database },
        });
      }

      // Steps 9-11: the pool uses the backup database, mirrored to backupMirror, served by DC2's servers.
      rb.setPhase('switching-pool');
      await rb.act(step.setPoolState('pool-failed-over', pool, 'FailedOver'));
      if (backupMirror) {
        await rb.act({
          name: 'install-mirror',
          title: `Install-CsMirrorDatabase: mirror ${database} from ${backup.name} to ${backupMirror.name}`,
          target: backup.name,
          activity: 'installMirrorDatabase',
          input: {
            pool,
            databaseType: 'PersistentChat',
            database,
            principal: backup,
            mirror: backupMirror,
            fileShare: topology.backupShare.sqlPath,
          },
          skippable: `the pool runs on ${backup.name} without a mirror until Install-CsMirrorDatabase is run again`,
        });
      }
      activated = await rb.act(
        step.setActiveServers('activate-dc2', 'Activate the DC2 servers', pool, topology.pool.servers.dc2),
      );
      progress.dc2Serving = true;
    } catch (error) {
      if (mode === 'planned' && !rb.dryRun && progress.stopped && !progress.dc2Serving && patched(ROLL_BACK_SWITCHOVER))
        await offerSwitchoverRollBack(rb, progress, error);
      throw error;
    }
    const restoredAt = rb.now();

    // Step 12: Microsoft does not fail mgccomp over.
    if (topology.databases.mgccomp) {
      rb.note(
        `${databaseNameOf(topology, 'mgccomp')} (compliance) is not failed over (Microsoft): its content is transient; whatever the compliance adapter had not processed is the Persistent Chat administrator's to reconcile.`,
      );
    }

    // Step 13: verify, measure.
    rb.setPhase('verifying');
    if (rb.dryRun) return;
    // The activation read the pool back in the same shell, just now: that read is the check.
    const poolNow =
      activated?.kind === 'done' && patched(VERIFY_POOL_FROM_ACTIVATION)
        ? activated.result.figures.pool
        : (await rb.read(step.readPool('verify-pool', pool))).found;
    rb.require(
      poolNow.poolState === 'FailedOver' && sameServers(poolNow.activeServers, topology.pool.servers.dc2),
      `the pool is ${poolNow.poolState} with ${poolNow.activeServers.join(', ') || 'no'} active servers after the failover`,
    );
    const served = (await rb.read(step.verifyDatabase('verify-database', backup, database))).found;
    rb.require(
      served.state === 'ONLINE',
      `${database} on ${backup.name} is ${served.state ?? 'absent'} after the failover`,
    );
    rb.record.measures.rto = recoveryTime(topology, declaredAt, restoredAt);
    rb.record.measures.rpo = recoveryPoint(topology, {
      point: recoveredAt,
      lastLogBackup: latest(newestLogBackup, recoveredAt),
      logsNotApplied,
      ...upperBound(),
      ...(await messagesLost()),
    });
    if (interruptedAt) rb.record.measures.serviceInterruption = serviceInterruption(interruptedAt, restoredAt);

    /** Rule 9's twin: DC1 may have come back while logs were applied; recovering DC2 then would split the brain. */
    async function recheckSplitBrain(): Promise<void> {
      const now: string[] = [];
      for (const role of ['primary', 'mirror'] as const) {
        const instance = requiredInstance(topology, 'mgc', role);
        const state = (await rb.read(step.readDatabase(`recheck-${role}`, instance, database))).found;
        if (state.reachable && state.role === 'PRINCIPAL' && state.state === 'ONLINE') now.push(instance.name);
      }
      if (now.length === 0) {
        sightings.firstNotServingAt ??= rb.now();
        return;
      }
      sightings.lastServingAt = rb.now();
      rb.require(
        mode === 'disaster',
        `${now.join(', ')} serve ${database} again although the switchover fenced ${fencedBy}: recovering ${backup.name} now would split the brain`,
      );
      const overriddenBefore = (overridden ?? []) as string[];
      if (!now.every((name) => overriddenBefore.includes(name))) await guard(now, ' (before recovery)');
    }

    /** Where DC1 can last have accepted writes the recovered copy lacks, from what this run saw of it. */
    function upperBound(): Pick<LossFacts, 'upperBoundAt' | 'upperBoundBasis'> {
      if (fencedBy)
        return {
          upperBoundAt: recoveredAt,
          upperBoundBasis: `the tail-log backup fenced ${fencedBy}: every write before it is in the recovered copy`,
        };
      if (overridden)
        return {
          upperBoundAt: restoredAt,
          upperBoundBasis: `DC1 still served when the guard was overridden: it may have accepted writes until the pool switched at ${restoredAt}`,
        };
      if (sightings.firstNotServingAt)
        return {
          upperBoundAt: sightings.firstNotServingAt,
          upperBoundBasis: `DC1 was first seen not serving at ${sightings.firstNotServingAt}${sightings.lastServingAt ? ` (last seen serving at ${sightings.lastServingAt})` : ''}: it may have accepted writes until then`,
        };
      return { upperBoundAt: null, upperBoundBasis: 'DC1 was never seen not serving: no upper bound' };
    }

    /** Messages the recovered copy lacks: none past a fence; counted on a DC1 that can still be read; else unknown. */
    async function messagesLost(): Promise<Pick<LossFacts, 'messagesLost' | 'messagesLostNote'>> {
      if (fencedBy) return { messagesLost: 0, messagesLostNote: 'none: the tail-log backup carried every write' };
      const store = topology.chatStore;
      const servingDc1 = [...(overridden ?? [])] as string[];
      if (!store || !recoveredAt || servingDc1.length === 0 || !patched(COUNT_LOST_MESSAGES))
        return {
          messagesLost: null,
          messagesLostNote: store
            ? 'unknown: DC1 cannot be read; the failback keeps DC1’s database and counts what it holds beyond the recovery point'
            : 'unknown: the topology names no chatStore to count messages in',
        };
      const instance = topology.instances.find((candidate) => candidate.name === servingDc1[0]) as Instance;
      const counted = (
        await rb.read({
          name: 'count-lost-messages',
          title: `Count the messages ${instance.name} holds after the recovery point`,
          activity: 'readMessagesSince',
          input: { instance, database, table: store.table, timeColumn: store.timeColumn, since: recoveredAt },
        })
      ).found;
      return {
        messagesLost: counted.count,
        messagesLostNote:
          counted.count === null
            ? `unknown: ${counted.reason}`
            : `${instance.name} holds ${counted.count} message(s) posted after the recovery point${counted.first ? ` (${counted.first} to ${counted.last})` : ''}`,
      };
    }
  });
}

function latest(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

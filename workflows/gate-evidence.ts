/**
 * What people see at a gate, and what their approval is bound to (docs/runbooks.md rules 2 and 3): the facts an activity
 * read, turned into lines to read and a `material` object whose version an approval names. Only facts that should
 * void an approval when they change go into the material (a log backup landing every few minutes must not).
 */
import type { ChainGap, EstateEvidence } from '../activities/evidence';
import type { MirroringState } from '../activities/mirroring';
import { formatDuration } from '../topology/durations';
import { makeEvidence } from './gate-rules';
import type { EvidenceRecord } from '../contracts/run-record';

const basename = (file: string) => file.replace(/\\/g, '/').split('/').pop() ?? file;

export function describePartner(state: MirroringState): string {
  if (!state.reachable) return `${state.instance}: unreachable (${state.unreachableReason ?? 'no answer'})`;
  if (!state.exists) return `${state.instance}: ${state.database} does not exist`;
  const mirroring = state.role ? `${state.role}, ${state.mirroringState}, safety ${state.safety}` : 'not mirrored';
  return `${state.instance}: ${state.database} ${state.state} (${mirroring})`;
}

const partnerFacts = (state: MirroringState) => ({
  instance: state.instance,
  reachable: state.reachable,
  state: state.state,
  role: state.role,
  mirroringState: state.mirroringState,
  safety: state.safety,
});

/** Runbook 1: the two partners as they are now. */
export function mirroringEvidence(takenAt: string, target: MirroringState, partner: MirroringState): EvidenceRecord {
  return makeEvidence(takenAt, [describePartner(partner), describePartner(target)], {
    target: partnerFacts(target),
    partner: partnerFacts(partner),
  });
}

/** Seconds from `from` to `to` (ISO times), or null when either is unknown. */
export function secondsBetween(from: string | null | undefined, to: string | null | undefined): number | null {
  if (!from || !to) return null;
  return Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
}

/** Lines about the backup database, the chain and the data-loss window, shared by the failover gates. */
function chainLines(evidence: EstateEvidence): string[] {
  const { chain, backupDatabase } = evidence;
  const lines = [
    `backup copy of ${evidence.database}: ${backupDatabase?.exists ? `${backupDatabase.state}${backupDatabase.redoLsn ? `, redo point LSN ${backupDatabase.redoLsn}` : ''}` : 'unknown'}`,
    `${evidence.pending.length} log backup(s) not yet applied (${evidence.files.notCopied.length} not yet copied to the copy folder)`,
    chain.gap ? gapLine(chain.gap) : 'the log chain is complete: every pending log can be applied',
  ];
  const reachable = chain.lastAppliableBackupFinish ?? backupDatabase?.restoredUpTo ?? null;
  const window = secondsBetween(reachable, evidence.lastLogBackup?.finishedAt);
  lines.push(
    `recovery point reachable: ${reachable ?? 'unknown'}; newest log backup known: ${evidence.lastLogBackup ? `${basename(evidence.lastLogBackup.file)} at ${evidence.lastLogBackup.finishedAt}` : 'none'}` +
      (window !== null ? `; data-loss window from the backups: ${formatDuration(window * 1000)}` : ''),
  );
  return lines;
}

/** A break in the log chain, in words (gates, drill checks). */
export function gapLine(gap: ChainGap): string {
  if (gap.reason === 'lsn')
    return `the log chain BREAKS before ${basename(gap.file)}: the database needs LSN ${gap.expectedLsn}, the file starts at ${gap.foundLsn}`;
  return `the log chain BREAKS at ${basename(gap.file)}: ${gap.detail}; the database needs LSN ${gap.expectedLsn} next`;
}

/** Logs that recovering at the reachable point leaves out: the break and every log after it (rule 9). */
function lostLogsLine(evidence: EstateEvidence): string | null {
  const { gap } = evidence.chain;
  if (!gap) return null;
  const after = evidence.pending.filter((log) => basename(log.file) > basename(gap.file)).length;
  return `approving loses what ${basename(gap.file)} holds${after > 0 ? ` and what the ${after} log backup(s) after it hold` : ''}, and every change after the newest log backup`;
}

function partnersOf(evidence: EstateEvidence): MirroringState[] {
  return (['primary', 'mirror'] as const)
    .map((role) => evidence.partners[role])
    .filter((state): state is MirroringState => state !== null);
}

/** DC1 instances that answer and serve the database as principal: the reason a disaster may not be one. */
export function onlinePrincipals(evidence: EstateEvidence): string[] {
  return partnersOf(evidence)
    .filter((state) => state.reachable && state.role === 'PRINCIPAL' && state.state === 'ONLINE')
    .map((state) => state.instance);
}

/**
 * Runbook 4 (declare-disaster, approve-switchover, override-split-brain-guard): bound to who serves on DC1, whether
 * the chain is complete or where it breaks, and — in a disaster, where nothing new arrives — the recovery point
 * that can be reached. A switchover's recovery point moves with every backup, so it is not part of its material.
 */
export function failoverEvidence(
  takenAt: string,
  evidence: EstateEvidence,
  mode: 'disaster' | 'planned',
): EvidenceRecord {
  const lines = [...partnersOf(evidence).map(describePartner), ...chainLines(evidence)];
  if (evidence.pool)
    lines.push(`pool ${evidence.pool.poolState}; active servers: ${evidence.pool.activeServers.join(', ') || 'none'}`);
  lines.push(...evidence.problems.map((problem) => `could not read: ${problem}`));
  const material: Record<string, unknown> = {
    principals: onlinePrincipals(evidence),
    backupState: evidence.backupDatabase?.state ?? null,
    gap: evidence.chain.gap
      ? {
          reason: evidence.chain.gap.reason,
          expectedLsn: evidence.chain.gap.expectedLsn,
          file: basename(evidence.chain.gap.file),
        }
      : null,
  };
  if (mode === 'disaster')
    material.recoveryPoint = evidence.chain.lastAppliableBackupFinish ?? evidence.backupDatabase?.restoredUpTo ?? null;
  return makeEvidence(takenAt, lines, material);
}

/** Runbook 4 step 7 (accept-data-loss): how far the chain reaches, bound to the break and the point reachable. */
export function dataLossEvidence(takenAt: string, evidence: EstateEvidence): EvidenceRecord {
  const reachable = evidence.chain.lastAppliableBackupFinish ?? evidence.backupDatabase?.restoredUpTo ?? null;
  return makeEvidence(
    takenAt,
    [
      ...chainLines(evidence),
      ...(lostLogsLine(evidence) ? [lostLogsLine(evidence)!] : []),
      'approving recovers the database at the recovery point above: later log backups are never applied',
    ],
    {
      gap: evidence.chain.gap
        ? {
            reason: evidence.chain.gap.reason,
            expectedLsn: evidence.chain.gap.expectedLsn,
            foundLsn: evidence.chain.gap.foundLsn,
            file: basename(evidence.chain.gap.file),
          }
        : null,
      lastAppliableLsn: evidence.chain.lastAppliableLsn,
      recoveryPoint: reachable,
    },
  );
}

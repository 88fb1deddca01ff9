/**
 * One read-only snapshot of the estate (docs/runbooks.md rule 2): roles and states of every partner, log-shipping
 * configuration and monitor rows, files on the share and in the copy folder, the exact header of every log not yet
 * applied, the chain check from the backup database's redo point, and the pool's state. What cannot be read is
 * recorded as a problem, not thrown: unreachable DC1 instances are the normal case in a disaster.
 */
import path from 'node:path';
import { type DatabaseKind, type Instance, type Role, type Topology, ROLES } from '../topology/schema';
import type { ActivityDependencies } from './dependencies';
import { listLogBackups, type BackupFile } from './files';
import { readPrimaryConfiguration, readSecondaryConfiguration } from './log-shipping';
import type { PrimaryConfiguration, SecondaryConfiguration, PendingLog } from '../contracts/log-shipping';
import { readMirroring, type MirroringState } from './mirroring';
import { readPool } from './pool-control';
import { type PoolView } from '../contracts/estate';
import { heartbeat, heartbeatWhile } from './heartbeat';
import { readBackupHeader, readRedoPoint, type BackupHeaderFacts, type RedoPoint } from './restore';
import { stepFailure } from './failures';
import { StepClock, type StepResult } from './step-result';

/** A log backup listed on the share or in the copy folder that no copy of could be read and verified. */
export interface UnreadableLog {
  /** The file name (the same in both folders). */
  name: string;
  /** Why each copy failed, e.g. "copy folder: ... 3241 ...". */
  reasons: string[];
}

/**
 * Where the chain stops (docs/runbooks.md rule 9): `lsn` — the next file does not continue the database's log;
 * `unreadable` — a listed file that no copy of could be read or verified; `missing` — a file the log-shipping
 * metadata names that neither folder holds. Past any of them, recovering loses data.
 */
export interface ChainGap {
  reason: 'lsn' | 'unreadable' | 'missing';
  /** The LSN the database needs next. */
  expectedLsn: string;
  /** The LSN the next readable file starts at (lsn), or null when the file could not be read (unreadable, missing). */
  foundLsn: string | null;
  file: string;
  /** What is wrong with the file, in words. */
  detail: string;
}

export interface ChainCheck {
  /** The backup database's redo point: where the next log must start. */
  redoLsn: string | null;
  /** Every pending log continues the chain and nothing listed was left unread: nothing would be skipped. */
  complete: boolean;
  appliable: number;
  /** The first break. */
  gap: ChainGap | null;
  lastAppliableLsn: string | null;
  /** Backup time of the last log that can be applied: the recovery point a failover can reach. */
  lastAppliableBackupFinish: string | null;
}

export interface EstateEvidence {
  takenAt: string;
  database: string;
  partners: Record<Role, MirroringState | null>;
  logShipping: {
    primaryInstance: string | null;
    primary: PrimaryConfiguration | null;
    secondary: SecondaryConfiguration | null;
  };
  /** How many log backups the share and the copy folder hold (counts: with a thousand files, lists would swell history), and which are not copied yet. */
  files: { share: number; copyFolder: number; notCopied: string[] };
  backupDatabase: RedoPoint | null;
  /** Logs not yet in the backup database, in LSN order. */
  pending: PendingLog[];
  /** Listed log backups not yet in the backup database that no copy of could be read and verified. */
  unreadable: UnreadableLog[];
  /** Files whose copy-folder copy failed verification while the share's verified: the copy step copies them again. */
  recopy: string[];
  chain: ChainCheck;
  /** The newest log backup anyone knows of (headers read, or the primary's msdb). */
  lastLogBackup: { file: string; finishedAt: string } | null;
  pool: PoolView | null;
  /** What could not be read, in words. */
  problems: string[];
}

const byLsn = (a: PendingLog, b: PendingLog) =>
  BigInt(a.firstLsn) < BigInt(b.firstLsn) ? -1 : BigInt(a.firstLsn) > BigInt(b.firstLsn) ? 1 : 0;

const nameOf = (file: string) => path.basename(file.replace(/\\/g, '/'));

/** What else than the pending logs' LSNs the chain check weighs (rule 9). */
export interface ChainFacts {
  /** Listed files no copy of could be read. */
  unreadable?: UnreadableLog[];
  /** The newest log file known to be in the backup database already (by name; names sort by time). */
  restoredName?: string;
  /** A log file the metadata names (last copied, last backed up) that neither folder holds. */
  missing?: string[];
}

/**
 * Walks the pending logs from the redo point: how far the chain reaches, and where it breaks. A file that could not
 * be read, or that is named but not there, breaks the chain where it sits by name, unless the logs that follow it
 * continue the chain anyway (then it held nothing the database needs).
 */
export function checkChain(redoLsn: string | null, pending: PendingLog[], facts: ChainFacts = {}): ChainCheck {
  if (redoLsn === null)
    return {
      redoLsn,
      complete: false,
      appliable: 0,
      gap: null,
      lastAppliableLsn: null,
      lastAppliableBackupFinish: null,
    };
  let redo = BigInt(redoLsn);
  let appliable = 0;
  let last: PendingLog | null = null;
  let lsnGap: ChainGap | null = null;
  for (const log of [...pending].sort(byLsn)) {
    if (BigInt(log.lastLsn) <= redo) continue;
    if (BigInt(log.firstLsn) > redo) {
      lsnGap = {
        reason: 'lsn',
        expectedLsn: redo.toString(),
        foundLsn: log.firstLsn,
        file: log.file,
        detail: `it starts at LSN ${log.firstLsn}`,
      };
      break;
    }
    redo = BigInt(log.lastLsn);
    appliable++;
    last = log;
  }
  // The chain reaches this file by name: anything unread before it was not needed.
  const reached = [last ? nameOf(last.file) : '', facts.restoredName ?? ''].sort().pop()!;
  const unread: ChainGap[] = [
    ...(facts.unreadable ?? []).map((log) => ({
      reason: 'unreadable' as const,
      expectedLsn: redo.toString(),
      foundLsn: null,
      file: log.name,
      detail: `no copy of it can be read or verified (${log.reasons.join('; ')})`,
    })),
    ...(facts.missing ?? []).map((name) => ({
      reason: 'missing' as const,
      expectedLsn: redo.toString(),
      foundLsn: null,
      file: name,
      detail:
        'log shipping recorded it (or this run saw it listed), but neither the share nor the copy folder holds it',
    })),
  ]
    .filter((gap) => nameOf(gap.file) > reached)
    .sort((a, b) => (nameOf(a.file) < nameOf(b.file) ? -1 : 1));
  // The earliest break by name: an unread file before the first LSN break is most likely its cause.
  const gap = unread[0] && (!lsnGap || nameOf(unread[0].file) < nameOf(lsnGap.file)) ? unread[0] : lsnGap;
  return {
    redoLsn,
    complete: gap === null,
    appliable,
    gap,
    lastAppliableLsn: last?.lastLsn ?? null,
    lastAppliableBackupFinish: last?.backupFinish ?? null,
  };
}

async function attempt<T>(problems: string[], what: string, read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    problems.push(`${what}: ${(error as Error).message}`);
    return null;
  }
}

/** What a gathering of evidence reads, and how strictly. */
interface GatherInput {
  topology: Topology;
  database: DatabaseKind;
  /** Read the pool too (the default); a run that only applies logs does not need it. */
  includePool?: boolean;
  /**
   * Log backups an earlier evidence of the same run listed (the newest is enough: a middle one that goes
   * breaks the chain by LSN). One that neither folder holds any more is missing, a break (rule 9).
   */
  knownLogs?: string[];
  /**
   * The run acts on this evidence (applies its pending logs): what it needs and could not read (the backup
   * instance, its redo point, the share, the copy folder) fails the step instead of reading as "no logs".
   */
  complete?: boolean;
}

export function evidenceActivities(deps: ActivityDependencies) {
  /**
   * Headers already verified by this worker, by instance, file, size and modification time: a runbook gathers
   * evidence several times, and RESTORE VERIFYONLY reads a whole backup. A file that is replaced is read again.
   */
  const verified = new Map<string, BackupHeaderFacts>();
  const verifiedHeader = async (instance: Instance, file: BackupFile): Promise<BackupHeaderFacts> => {
    const key = [instance.name, file.sqlPath, file.size, file.modified].join('|');
    const known = verified.get(key);
    if (known) return known;
    const header = await readBackupHeader(deps, instance, file.sqlPath);
    verified.set(key, header);
    return header;
  };

  return {
    async gatherEvidence(input: GatherInput): Promise<StepResult<EstateEvidence>> {
      // Unreachable instances and a slow Management Shell take time: keep telling Temporal this worker is alive.
      return heartbeatWhile(gather(input));
    },
  };

  async function gather(input: GatherInput): Promise<StepResult<EstateEvidence>> {
    const clock = new StepClock(deps.clock);
    const { topology } = input;
    const roles = topology.databases[input.database]!;
    const database = roles.name ?? input.database;
    const instance = (role: Role) => topology.instances.find((candidate) => candidate.name === roles[role]);
    const problems: string[] = [];

    const partners = Object.fromEntries(
      await Promise.all(
        ROLES.map(
          async (role) => [role, roles[role] ? await readMirroring(deps, instance(role)!, database) : null] as const,
        ),
      ),
    ) as Record<Role, MirroringState | null>;
    for (const role of ROLES)
      if (partners[role] && !partners[role]!.reachable) problems.push(`${roles[role]} (${role}) cannot be reached`);

    // The log-shipping primary that is active is the principal of primary/mirror; otherwise read whichever answers.
    const primaryRole =
      (['primary', 'mirror'] as const).find((role) => partners[role]?.role === 'PRINCIPAL') ??
      (['primary', 'mirror'] as const).find((role) => partners[role]?.reachable);
    const primary = primaryRole
      ? await attempt(problems, `log shipping on ${roles[primaryRole]}`, () =>
          readPrimaryConfiguration(deps, instance(primaryRole)!, database),
        )
      : null;
    const backup = instance('backup')!;
    const backupReachable = partners.backup?.reachable ?? false;
    // Evidence the run acts on: what it needs and cannot read fails the step (and is retried, or decided on).
    const essential = <T>(what: string, read: () => Promise<T>) =>
      input.complete ? read() : attempt(problems, what, read);
    if (input.complete && !backupReachable)
      throw stepFailure(
        partners.backup?.unreachableType ?? 'NotReachable',
        `${backup.name} cannot be read, so the logs to apply are not known: ${partners.backup?.unreachableReason ?? 'no answer'}`,
        { instance: backup.name },
      );
    const secondary = backupReachable
      ? await attempt(problems, `log shipping on ${backup.name}`, () =>
          readSecondaryConfiguration(deps, backup, database),
        )
      : null;
    const backupDatabase = backupReachable
      ? await essential(`redo point on ${backup.name}`, () => readRedoPoint(deps, backup, database))
      : null;

    const share = await essential('backup share', () => listLogBackups(deps, topology.backupShare, database));
    const copyFolder = await essential('copy folder', () => listLogBackups(deps, topology.copyFolder, database));
    const shareFiles = share ?? [];
    const copyFolderFiles = copyFolder ?? [];
    const copied = new Set(copyFolderFiles.map((file) => file.name));
    const notCopied = shareFiles.filter((file) => !copied.has(file.name)).map((file) => file.name);

    // Headers of every log not yet restored (by name after the last restored file, when known), read on the backup
    // instance: the copy folder's copy first (the one it restores from), then the share's. A file no copy of which
    // verifies is unreadable: a break in the chain, never skipped (docs/runbooks.md rule 9).
    const lastRestored = secondary?.lastRestoredFile ? nameOf(secondary.lastRestoredFile) : '';
    const copies = new Map<string, { copyFolder?: BackupFile; share?: BackupFile }>();
    const copiesOf = (name: string) => copies.get(name) ?? copies.set(name, {}).get(name)!;
    for (const file of copyFolderFiles) if (file.name > lastRestored) copiesOf(file.name).copyFolder = file;
    for (const file of shareFiles) if (file.name > lastRestored) copiesOf(file.name).share = file;
    const headers: BackupHeaderFacts[] = [];
    const unreadable: UnreadableLog[] = [];
    const recopy: string[] = [];
    if (backupReachable) {
      for (const [name, found] of [...copies].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const reasons: string[] = [];
        let header: BackupHeaderFacts | null = null;
        for (const [where, file] of [
          ['copy folder', found.copyFolder],
          ['share', found.share],
        ] as const) {
          if (!file || header) continue;
          try {
            header = await verifiedHeader(backup, file);
          } catch (error) {
            // Only a file that is missing or damaged says something about the file; another error (the instance
            // failing the read) does not make it unreadable, and evidence the run acts on cannot do without it.
            if (input.complete && (error as { type?: string }).type !== 'BackupFileUnavailable') throw error;
            reasons.push(`${where}: ${(error as Error).message}`);
          }
        }
        if (!header) unreadable.push({ name, reasons });
        else {
          headers.push(header);
          if (reasons.length > 0 && found.copyFolder) recopy.push(name);
        }
        heartbeat({ headers: headers.length, of: copies.size });
      }
    } else if (copies.size > 0) {
      problems.push(`${copies.size} log backup(s) not read: ${backup.name} cannot be reached`);
    }
    for (const log of unreadable) problems.push(`log backup ${log.name}: ${log.reasons.join('; ')}`);

    const redo = backupDatabase?.redoLsn ?? null;
    const logs = headers.filter((header) => header.type === 'Log');
    const pending = logs
      .filter((header) => redo === null || BigInt(header.lastLsn) > BigInt(redo))
      .map((header) => ({
        file: header.file,
        firstLsn: header.firstLsn,
        lastLsn: header.lastLsn,
        backupFinish: header.backupFinish,
      }))
      .sort(byLsn);
    // Files log shipping recorded (backed up on the primary, copied to the backup), or that this run saw listed
    // before, that neither folder holds now: with DC1 gone, nothing else would tell that the newest log existed.
    const listed = new Set([...shareFiles, ...copyFolderFiles].map((file) => file.name));
    const missing = [primary?.lastBackupFile, secondary?.lastCopiedFile, ...(input.knownLogs ?? [])]
      .filter((file): file is string => !!file)
      .map(nameOf)
      .filter((name, index, all) => all.indexOf(name) === index && !listed.has(name) && name > lastRestored);
    const restoredName = [
      lastRestored,
      ...logs.filter((header) => redo !== null && BigInt(header.lastLsn) <= BigInt(redo)).map((h) => nameOf(h.file)),
    ]
      .sort()
      .pop();
    const chain = checkChain(redo, pending, { unreadable, restoredName, missing });

    const newestHeader = headers
      .filter((header) => header.type === 'Log')
      .sort((a, b) => (a.backupFinish < b.backupFinish ? 1 : -1))[0];
    const candidatesForLast = [
      ...(newestHeader ? [{ file: newestHeader.file, finishedAt: newestHeader.backupFinish }] : []),
      ...(primary?.lastBackupFile && primary.lastBackupDate
        ? [{ file: primary.lastBackupFile, finishedAt: primary.lastBackupDate }]
        : []),
    ].sort((a, b) => (a.finishedAt < b.finishedAt ? 1 : -1));
    const pool =
      input.includePool === false
        ? null
        : await attempt(problems, 'pool state', () =>
            readPool(deps, {
              poolControl: topology.poolControl,
              fqdn: topology.pool.fqdn,
              identity: topology.pool.identity ?? `service:${topology.pool.fqdn}`,
            }),
          );

    const evidence: EstateEvidence = {
      takenAt: deps.clock().toISOString(),
      database,
      partners,
      logShipping: { primaryInstance: primaryRole ? roles[primaryRole]! : null, primary, secondary },
      files: { share: shareFiles.length, copyFolder: copyFolderFiles.length, notCopied },
      backupDatabase,
      pending,
      unreadable,
      recopy,
      chain,
      lastLogBackup: candidatesForLast[0] ?? null,
      pool,
      problems,
    };
    const summary = [
      `${database}: ${ROLES.filter((role) => partners[role])
        .map(
          (role) =>
            `${roles[role]} ${partners[role]!.reachable ? `${partners[role]!.state ?? 'absent'}${partners[role]!.role ? ` ${partners[role]!.role}` : ''}` : 'unreachable'}`,
        )
        .join(', ')}`,
      `${pending.length} log backup(s) pending, ${chain.gap ? `chain broken at ${nameOf(chain.gap.file)} (${chain.gap.reason})` : 'chain complete'}`,
      pool ? `pool ${pool.poolState}` : 'pool state unknown',
    ].join('; ');
    return clock.observed(summary, evidence);
  }
}

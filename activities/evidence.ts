/**
 * One read-only snapshot of the estate (docs/runbooks.md rule 2): roles and states of every partner, log-shipping
 * configuration and monitor rows, files on the share and in the copy folder, the exact header of every log not yet
 * applied, the chain check from the backup database's redo point, and the pool's state. What cannot be read is
 * recorded as a problem, not thrown: unreachable DC1 instances are the normal case in a disaster.
 */
import { Context } from '@temporalio/activity';
import path from 'node:path';
import { type DatabaseKind, type Instance, type Role, type Topology, ROLES } from '../topology/schema';
import type { ActivityDependencies } from './dependencies';
import { listLogBackups, type BackupFile } from './files';
import { readPrimaryConfiguration, readSecondaryConfiguration } from './log-shipping';
import type { PrimaryConfiguration, SecondaryConfiguration, PendingLog } from '../contracts/log-shipping';
import { readMirroring, type MirroringState } from './mirroring';
import { readPool } from './pool-control';
import { type PoolView } from '../contracts/estate';
import { heartbeatWhile } from './heartbeat';
import { readBackupHeader, readRedoPoint, type BackupHeaderFacts, type RedoPoint } from './restore';
import { StepClock, type StepResult } from './step-result';

export interface ChainCheck {
  /** The backup database's redo point: where the next log must start. */
  redoLsn: string | null;
  /** Every pending log continues the chain: nothing would be skipped. */
  complete: boolean;
  appliable: number;
  /** The first break: the LSN the database needs and the LSN the next file offers. */
  gap: { expectedLsn: string; foundLsn: string; file: string } | null;
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
  chain: ChainCheck;
  /** The newest log backup anyone knows of (headers read, or the primary's msdb). */
  lastLogBackup: { file: string; finishedAt: string } | null;
  pool: PoolView | null;
  /** What could not be read, in words. */
  problems: string[];
}

const byLsn = (a: PendingLog, b: PendingLog) =>
  BigInt(a.firstLsn) < BigInt(b.firstLsn) ? -1 : BigInt(a.firstLsn) > BigInt(b.firstLsn) ? 1 : 0;

/** Walks the pending logs from the redo point: how far the chain reaches, and where it breaks. */
export function checkChain(redoLsn: string | null, pending: PendingLog[]): ChainCheck {
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
  for (const log of [...pending].sort(byLsn)) {
    if (BigInt(log.lastLsn) <= redo) continue;
    if (BigInt(log.firstLsn) > redo) {
      return {
        redoLsn,
        complete: false,
        appliable,
        gap: { expectedLsn: redo.toString(), foundLsn: log.firstLsn, file: log.file },
        lastAppliableLsn: last?.lastLsn ?? null,
        lastAppliableBackupFinish: last?.backupFinish ?? null,
      };
    }
    redo = BigInt(log.lastLsn);
    appliable++;
    last = log;
  }
  return {
    redoLsn,
    complete: true,
    appliable,
    gap: null,
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
    async gatherEvidence(input: {
      topology: Topology;
      database: DatabaseKind;
      includePool?: boolean;
    }): Promise<StepResult<EstateEvidence>> {
      // Unreachable instances and a slow Management Shell take time: keep telling Temporal this worker is alive.
      return heartbeatWhile(gather(input));
    },
  };

  async function gather(input: {
    topology: Topology;
    database: DatabaseKind;
    includePool?: boolean;
  }): Promise<StepResult<EstateEvidence>> {
    const clock = new StepClock(deps.clock);
    const context = Context.current();
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
    const secondary = backupReachable
      ? await attempt(problems, `log shipping on ${backup.name}`, () =>
          readSecondaryConfiguration(deps, backup, database),
        )
      : null;
    const backupDatabase = backupReachable
      ? await attempt(problems, `redo point on ${backup.name}`, () => readRedoPoint(deps, backup, database))
      : null;

    const share =
      (await attempt(problems, 'backup share', () => listLogBackups(deps, topology.backupShare, database))) ?? [];
    const copyFolder =
      (await attempt(problems, 'copy folder', () => listLogBackups(deps, topology.copyFolder, database))) ?? [];
    const copied = new Set(copyFolder.map((file) => file.name));
    const notCopied = share.filter((file) => !copied.has(file.name)).map((file) => file.name);

    // Headers of every log not yet restored (by name after the last restored file, when known), read on the backup instance.
    const lastRestored = secondary?.lastRestoredFile
      ? path.basename(secondary.lastRestoredFile.replace(/\\/g, '/'))
      : '';
    const candidates = new Map<string, BackupFile>();
    for (const file of [...share, ...copyFolder]) if (file.name > lastRestored) candidates.set(file.name, file);
    const headers: BackupHeaderFacts[] = [];
    if (backupReachable) {
      for (const [name, file] of candidates) {
        const header = await attempt(problems, `header of ${name}`, () => verifiedHeader(backup, file));
        if (header) headers.push(header);
        context.heartbeat({ headers: headers.length, of: candidates.size });
      }
    } else if (candidates.size > 0) {
      problems.push(`${candidates.size} log backup(s) not read: ${backup.name} cannot be reached`);
    }

    const redo = backupDatabase?.redoLsn ?? null;
    const pending = headers
      .filter((header) => header.type === 'Log' && (redo === null || BigInt(header.lastLsn) > BigInt(redo)))
      .map((header) => ({
        file: header.file,
        firstLsn: header.firstLsn,
        lastLsn: header.lastLsn,
        backupFinish: header.backupFinish,
      }))
      .sort(byLsn);
    const chain = checkChain(redo, pending);

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
      files: { share: share.length, copyFolder: copyFolder.length, notCopied },
      backupDatabase,
      pending,
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
      `${pending.length} log backup(s) pending, ${chain.gap ? `chain broken before ${path.basename(chain.gap.file.replace(/\\/g, '/'))}` : 'chain complete'}`,
      pool ? `pool ${pool.poolState}` : 'pool state unknown',
    ].join('; ');
    return clock.observed(summary, evidence);
  }
}

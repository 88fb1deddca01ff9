/**
 * Runbook 2 — setup-log-shipping (primary → backup): Microsoft's 20-step SSMS wizard as msdb procedures. The
 * primary configuration and its backup job, the secondary initialised from a full backup ("Yes, generate a full
 * backup and restore it"), the copy and restore jobs on the backup, then each job run once and checked.
 */
import { makeEvidence } from './gate-rules';
import { databaseOf } from '../contracts/estate';
import {
  primaryDifferences,
  primarySettingsOf,
  secondaryDifferences,
  secondarySettingsOf,
  fullBackupName,
} from '../contracts/log-shipping';
import { describePartner } from './gate-evidence';
import type { RunbookInput, SetupLogShippingOptions } from '../contracts/runbooks';
import type { RunbookReport } from '../contracts/run-record';
import {
  configurePrimary,
  configureSecondary,
  endSessions,
  readAgent,
  readDatabase,
  readPrimaryConfiguration,
  readSecondaryConfiguration,
  runJob,
  listBackups,
} from './step-specs';
import { Runbook } from './runbook';

export async function setupLogShipping(input: RunbookInput<SetupLogShippingOptions>): Promise<RunbookReport> {
  const rb = new Runbook<SetupLogShippingOptions>('setup-log-shipping', input);
  return rb.execute(async () => {
    const { topology } = rb;
    const kind = rb.options.database ?? 'mgc';
    const { name: database, primary, backup } = databaseOf(topology, kind);

    // Step 1: preflight.
    const primaryState = (await rb.read(readDatabase('read-primary', primary, database))).found;
    rb.require(primaryState.reachable, `${primary.name} cannot be reached: ${primaryState.unreachableReason}`);
    rb.require(
      primaryState.state === 'ONLINE' && primaryState.role !== 'MIRROR',
      `log shipping starts from the database in service: ${describePartner(primaryState)} (fail the mirror back first)`,
    );
    rb.require(
      primaryState.recoveryModel === 'FULL',
      `${database} on ${primary.name} uses the ${primaryState.recoveryModel} recovery model: log shipping needs FULL`,
    );
    const backupState = (await rb.read(readDatabase('read-backup', backup, database))).found;
    rb.require(backupState.reachable, `${backup.name} cannot be reached: ${backupState.unreachableReason}`);
    // Seeding replaces the backup's copy: never the live database of a failed-over pool (failback re-seeds it as its own step).
    rb.require(
      backupState.state !== 'ONLINE' || input.parent !== undefined,
      `${database} is ONLINE on ${backup.name}: the pool may be failed over to it; run failback instead`,
    );
    for (const instance of [primary, backup]) {
      const agent = (await rb.read(readAgent(instance))).found;
      rb.require(
        agent.running,
        `SQL Server Agent on ${instance.name} is ${agent.status ?? 'not installed'}: log-shipping jobs need it running`,
      );
    }
    await rb.read(listBackups('check-share', topology.backupShare, database));
    await rb.read(listBackups('check-copy-folder', topology.copyFolder, database));

    const primaryServer = primaryState.serverName ?? primary.name;
    const secondaryServer = backupState.serverName ?? backup.name;
    const wantedPrimary = primarySettingsOf(topology, kind);
    const wantedSecondary = secondarySettingsOf(topology, kind, primaryServer);
    const readConfigurations = async () => ({
      primary: (await rb.read(readPrimaryConfiguration('read-primary-configuration', primary, database))).found,
      secondary: (await rb.read(readSecondaryConfiguration('read-secondary-configuration', backup, database))).found,
    });
    const existing = await readConfigurations();
    const differing = [
      ...(existing.primary
        ? primaryDifferences(existing.primary, wantedPrimary).map((difference) => `${primary.name}: ${difference}`)
        : []),
      ...(existing.secondary
        ? secondaryDifferences(existing.secondary, wantedSecondary).map((difference) => `${backup.name}: ${difference}`)
        : []),
    ];
    const replace = differing.length > 0;
    if (replace) {
      await rb.approval(
        'replace-log-shipping',
        `Replace the existing log-shipping configuration of ${database}?`,
        async () => {
          const now = await readConfigurations();
          const current = [
            ...(now.primary
              ? primaryDifferences(now.primary, wantedPrimary).map((difference) => `${primary.name}: ${difference}`)
              : []),
            ...(now.secondary
              ? secondaryDifferences(now.secondary, wantedSecondary).map(
                  (difference) => `${backup.name}: ${difference}`,
                )
              : []),
          ];
          return makeEvidence(rb.now(), ['configured → asked:', ...current], { differences: current });
        },
      );
    }

    // Step 2: the primary half.
    rb.setPhase('configuring-primary');
    await rb.act(configurePrimary(primary, database, wantedPrimary, replace));
    await rb.act({
      name: 'add-primary-secondary',
      title: `Record secondary ${secondaryServer} on ${primary.name}`,
      activity: 'addLogShippingPrimarySecondary',
      input: { instance: primary, database, secondaryServer, secondaryDatabase: database },
    });

    // Step 3: initialise the secondary, unless it already restores this primary's chain.
    const initialised = existing.secondary !== null && !replace && backupState.state === 'RESTORING';
    if (initialised) {
      rb.note(`${database} on ${backup.name} is already RESTORING from ${primaryServer}: not re-seeded`);
    } else {
      rb.setPhase('initialising-secondary');
      const fileName = fullBackupName(database, 'logshipping_seed', new Date());
      const full = await rb.act({
        name: 'full-backup',
        title: `Full backup of ${database} on ${primary.name} to the share`,
        activity: 'backupFullDatabase',
        input: { instance: primary, database, folder: topology.backupShare, fileName },
      });
      const file = full.kind === 'done' ? full.result.figures.file : `${topology.backupShare.sqlPath}/${fileName}`;
      if (backupState.state === 'ONLINE') {
        // Re-seeding during failback: RESTORE needs the database to itself, and chat servers keep their connections.
        await rb.act(endSessions('end-backup-sessions', backup, database));
      }
      await rb.act({
        name: 'seed-secondary',
        title: `Restore ${database} on ${backup.name} WITH NORECOVERY`,
        activity: 'restoreFullDatabase',
        input: {
          instance: backup,
          database,
          file,
          move: topology.databases[kind]!.restoreMove,
          replace: true,
          recovery: 'NORECOVERY',
        },
      });
    }

    // Step 4: the secondary half (copy and restore jobs).
    rb.setPhase('configuring-secondary');
    await rb.act(configureSecondary(backup, database, wantedSecondary, replace));

    // Step 5: run each job once; the monitor tables must show a new file for each.
    rb.setPhase('verifying');
    for (const [instance, jobName] of [
      [primary, wantedPrimary.jobName],
      [backup, wantedSecondary.copyJobName],
      [backup, wantedSecondary.restoreJobName],
    ] as const) {
      await rb.act(runJob('run-job', instance, jobName, rb.options.jobTimeoutSeconds));
    }
    if (rb.dryRun) return;
    const after = await readConfigurations();
    rb.require(after.primary?.lastBackupFile, `${wantedPrimary.jobName} ran but ${primary.name} records no log backup`);
    rb.require(
      after.secondary?.lastCopiedFile,
      `${wantedSecondary.copyJobName} ran but ${backup.name} records no copied file`,
    );
    rb.require(
      after.secondary?.lastRestoredFile,
      `${wantedSecondary.restoreJobName} ran but ${backup.name} records no restored file`,
    );
    rb.note(
      `last backed up ${after.primary!.lastBackupFile}; last copied ${after.secondary!.lastCopiedFile}; last restored ${after.secondary!.lastRestoredFile}`,
    );
  });
}

/**
 * Runbook 2 — setup-log-shipping (primary → backup): Microsoft's 20-step SSMS wizard as msdb procedures. The
 * primary configuration and its backup job, the secondary initialised from a full backup ("Yes, generate a full
 * backup and restore it"), the copy and restore jobs on the backup, then each job run once and checked.
 */
import { makeEvidence } from './gate-rules';
import { databaseNameOf, requiredInstance } from '../contracts/estate';
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
import { Runbook } from './runbook';

export async function setupLogShipping(input: RunbookInput<SetupLogShippingOptions>): Promise<RunbookReport> {
  const rb = new Runbook<SetupLogShippingOptions>('setup-log-shipping', input);
  return rb.execute(async () => {
    const { topology } = rb;
    const kind = rb.options.database ?? 'mgc';
    const database = databaseNameOf(topology, kind);
    const primary = requiredInstance(topology, kind, 'primary');
    const backup = requiredInstance(topology, kind, 'backup');
    const jobTimeoutSeconds = rb.options.jobTimeoutSeconds ?? 600;

    // Step 1: preflight.
    const primaryState = (
      await rb.read({
        name: 'read-primary',
        title: `Read ${database} on ${primary.name}`,
        target: primary.name,
        activity: 'readMirroringState',
        input: { instance: primary, database },
      })
    ).found;
    rb.require(primaryState.reachable, `${primary.name} cannot be reached: ${primaryState.unreachableReason}`);
    rb.require(
      primaryState.state === 'ONLINE' && primaryState.role !== 'MIRROR',
      `log shipping starts from the database in service: ${describePartner(primaryState)} (fail the mirror back first)`,
    );
    rb.require(
      primaryState.recoveryModel === 'FULL',
      `${database} on ${primary.name} uses the ${primaryState.recoveryModel} recovery model: log shipping needs FULL`,
    );
    const backupState = (
      await rb.read({
        name: 'read-backup',
        title: `Read ${database} on ${backup.name}`,
        target: backup.name,
        activity: 'readMirroringState',
        input: { instance: backup, database },
      })
    ).found;
    rb.require(backupState.reachable, `${backup.name} cannot be reached: ${backupState.unreachableReason}`);
    // Seeding replaces the backup's copy: never the live database of a failed-over pool (failback re-seeds it as its own step).
    rb.require(
      backupState.state !== 'ONLINE' || input.parent !== undefined,
      `${database} is ONLINE on ${backup.name}: the pool may be failed over to it; run failback instead`,
    );
    for (const instance of [primary, backup]) {
      const agent = (
        await rb.read({
          name: 'read-agent',
          title: `Check SQL Server Agent on ${instance.name}`,
          target: instance.name,
          activity: 'readAgentStatus',
          input: { instance },
        })
      ).found;
      rb.require(
        agent.running,
        `SQL Server Agent on ${instance.name} is ${agent.status ?? 'not installed'}: log-shipping jobs need it running`,
      );
    }
    await rb.read({
      name: 'check-share',
      title: `List the backup share ${topology.backupShare.workerPath}`,
      target: topology.backupShare.sqlPath,
      activity: 'listBackupFiles',
      input: { folder: topology.backupShare, database },
    });
    await rb.read({
      name: 'check-copy-folder',
      title: `List the copy folder ${topology.copyFolder.workerPath}`,
      target: topology.copyFolder.sqlPath,
      activity: 'listBackupFiles',
      input: { folder: topology.copyFolder, database },
    });

    const primaryServer = primaryState.serverName ?? primary.name;
    const secondaryServer = backupState.serverName ?? backup.name;
    const wantedPrimary = primarySettingsOf(topology, kind);
    const wantedSecondary = secondarySettingsOf(topology, kind, primaryServer);
    const readConfigurations = async () => ({
      primary: (
        await rb.read({
          name: 'read-primary-configuration',
          title: `Read the log-shipping configuration on ${primary.name}`,
          target: primary.name,
          activity: 'readLogShippingPrimary',
          input: { instance: primary, database },
        })
      ).found,
      secondary: (
        await rb.read({
          name: 'read-secondary-configuration',
          title: `Read the log-shipping configuration on ${backup.name}`,
          target: backup.name,
          activity: 'readLogShippingSecondary',
          input: { instance: backup, database },
        })
      ).found,
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
    await rb.act({
      name: 'add-primary',
      title: `Configure ${database} as log-shipping primary on ${primary.name}`,
      target: primary.name,
      activity: 'addLogShippingPrimary',
      input: { instance: primary, database, settings: wantedPrimary, replace },
    });
    await rb.act({
      name: 'add-primary-secondary',
      title: `Record secondary ${secondaryServer} on ${primary.name}`,
      target: primary.name,
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
        target: primary.name,
        activity: 'backupFullDatabase',
        input: { instance: primary, database, folder: topology.backupShare, fileName },
      });
      const file = full.kind === 'done' ? full.result.figures.file : `${topology.backupShare.sqlPath}/${fileName}`;
      if (backupState.state === 'ONLINE') {
        // Re-seeding during failback: RESTORE needs the database to itself, and chat servers keep their connections.
        await rb.act({
          name: 'end-backup-sessions',
          title: `End every session using ${database} on ${backup.name}`,
          target: backup.name,
          activity: 'endSessions',
          input: { instance: backup, database },
        });
      }
      await rb.act({
        name: 'seed-secondary',
        title: `Restore ${database} on ${backup.name} WITH NORECOVERY`,
        target: backup.name,
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
    await rb.act({
      name: 'add-secondary',
      title: `Configure ${database} as log-shipping secondary on ${backup.name}`,
      target: backup.name,
      activity: 'addLogShippingSecondary',
      input: { instance: backup, database, settings: wantedSecondary, replace },
    });

    // Step 5: run each job once; the monitor tables must show a new file for each.
    rb.setPhase('verifying');
    for (const [instance, jobName] of [
      [primary, wantedPrimary.jobName],
      [backup, wantedSecondary.copyJobName],
      [backup, wantedSecondary.restoreJobName],
    ] as const) {
      await rb.act({
        name: 'run-job',
        title: `Run ${jobName} on ${instance.name}`,
        target: instance.name,
        activity: 'runAgentJob',
        input: { instance, jobName, timeoutSeconds: jobTimeoutSeconds },
      });
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

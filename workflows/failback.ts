/**
 * Runbook 5 — failback: back to DC1 once it is rebuilt. In a maintenance window (chat stops from clearing the
 * active servers to setting them again): mirroring off on the backup side, a full backup of mgc there, restored on
 * the primary WITH REPLACE, RECOVERY, log shipping primary → backup again (runbook 2 as a child, which re-seeds the
 * backup), the pool Normal with DC1's servers. [beyond], each a phase with its own gate that may be declined:
 * mirroring primary → mirror again (inside the window, before log shipping), and once service is back the mirror-side
 * log shipping (runbook 3 as a child).
 */
import { patched } from '@temporalio/workflow';
import type { MirroringState } from '../activities/mirroring';
import type { DatabaseKind, Instance } from '../topology/schema';
import { makeEvidence } from './gate-rules';
import {
  databaseNameOf,
  databaseOf,
  instanceFor,
  poolTargetOf,
  requiredInstance,
  sameServers,
} from '../contracts/estate';
import { fullBackupName } from '../contracts/log-shipping';
import { describePartner, mirroringEvidence } from './gate-evidence';
import { serviceInterruption } from './measures';
import type { RunbookReport } from '../contracts/run-record';
import * as step from './step-specs';
import { Runbook } from './runbook';
import type {
  RunbookInput,
  SetupLogShippingOptions,
  SetupMirrorLogShippingOptions,
  FailbackOptions,
} from '../contracts/runbooks';
import { setupLogShipping } from './setup-log-shipping';
import { setupMirrorLogShipping } from './setup-mirror-log-shipping';

/** Workflow changes since the first recorded histories (docs/runbooks.md "Changing a runbook"). */
const KEEP_DIVERGED_DATA = 'keep-diverged-data';

const DATABASE_TYPES: Record<DatabaseKind, 'PersistentChat' | 'PersistentChatCompliance'> = {
  mgc: 'PersistentChat',
  mgccomp: 'PersistentChatCompliance',
};

export async function failback(input: RunbookInput<FailbackOptions>): Promise<RunbookReport> {
  const rb = new Runbook<FailbackOptions>('failback', input);
  return rb.execute(async () => {
    const { topology } = rb;
    const { name: database, primary, mirror, backup } = databaseOf(topology, 'mgc');
    const pool = poolTargetOf(topology);
    const kinds = (['mgc', 'mgccomp'] as const).filter((kind) => topology.databases[kind]);
    const state = async (instance: Instance, name: string, kind = 'read-state') =>
      (await rb.read(step.readDatabase(kind, instance, name))).found;

    // Step 1: preflight — the pool runs on the backup, the primary answers again.
    const readEstate = async () => ({
      pool: (await rb.read(step.readPool('read-pool', pool))).found,
      backup: await state(backup, database),
      primary: await state(primary, database),
    });
    const before = await readEstate();
    if (
      before.pool.poolState === 'Normal' &&
      sameServers(before.pool.activeServers, topology.pool.servers.dc1) &&
      before.primary.state === 'ONLINE'
    ) {
      return {
        outcome: 'no-change',
        reason: `the pool already runs on DC1 (Normal, DC1 servers active, ${database} ONLINE on ${primary.name})`,
      };
    }
    rb.require(
      before.pool.poolState === 'FailedOver',
      `the pool is ${before.pool.poolState}: failback starts from a failed-over pool`,
    );
    rb.require(
      before.backup.state === 'ONLINE',
      `${database} on ${backup.name} must be ONLINE (it serves the pool): ${describePartner(before.backup)}`,
    );
    rb.require(
      before.primary.reachable,
      `${primary.name} cannot be reached: rebuild DC1 first (${before.primary.unreachableReason})`,
    );

    // Step 2: the maintenance window.
    await rb.approval(
      'approve-failback',
      `Fail Persistent Chat back to ${primary.name} (DC1)? Chat is unavailable from clearing the active servers until DC1's servers are active again.`,
      async () => {
        const now = await readEstate();
        return makeEvidence(
          rb.now(),
          [
            `pool ${now.pool.poolState}; active servers: ${now.pool.activeServers.join(', ') || 'none'}`,
            describePartner(now.backup),
            describePartner(now.primary),
          ],
          {
            poolState: now.pool.poolState,
            backup: now.backup.state,
            primaryReachable: now.primary.reachable,
          },
        );
      },
    );

    // Step 9a [beyond], decided now, before the window: mirroring primary → mirror is installed inside it, before log
    // shipping is set up again, because Install-CsMirrorDatabase takes a log backup of its own, outside log shipping,
    // which would break the chain the backup restores if log shipping already ran.
    let mirroring = rb.options.restoreMirroring !== false;
    if (mirroring) {
      const readPair = async () => ({
        primary: await state(primary, database, 'read-primary'),
        mirror: await state(mirror, database, 'read-mirror'),
      });
      const gate = await rb.approval(
        'approve-failback-mirroring',
        `During the failback, also mirror ${database} from ${primary.name} to ${mirror.name} again (Install-CsMirrorDatabase; it lengthens the window by the time a mirror takes to seed)?`,
        async () => {
          const pair = await readPair();
          return mirroringEvidence(rb.now(), pair.mirror, pair.primary);
        },
        { optional: true },
      );
      if (gate.status === 'rejected') {
        mirroring = false;
        rb.note(
          `mirroring ${primary.name} → ${mirror.name} was declined by ${gate.rejection?.by}: the pool runs without a mirror`,
        );
      }
    }

    // Rule 10: DC1's copy may hold what the disaster lost (writes after DC2's recovery point). Before WITH REPLACE
    // overwrites it, it is backed up and verified; chat has not stopped yet, so this does not lengthen the window.
    if (before.primary.exists && before.primary.state !== 'RESTORING' && patched(KEEP_DIVERGED_DATA))
      await keepDivergedData(rb, primary, backup, database);

    // Step 3: nothing may connect to mgc / mgccomp from here on.
    rb.setPhase('stopping-service');
    await rb.act(
      step.setActiveServers('clear-active-servers', 'Stop Persistent Chat: clear the active servers', pool, []),
    );
    const interruptedAt = rb.now();

    // Step 4: mirroring off on the backup side, for mgc and mgccomp.
    rb.setPhase('removing-mirroring');
    for (const kind of kinds) {
      const name = databaseNameOf(topology, kind);
      const onBackup = instanceFor(topology, kind, 'backup')!;
      const current = kind === 'mgc' ? before.backup : await state(onBackup, name);
      if (current.exists && current.role) {
        await rb.act(step.removeMirroring('remove-backup-mirroring', onBackup, name));
      }
    }

    // Step 5: a full backup of what DC2 served, on the share both sides read.
    rb.setPhase('copying-data-back');
    const fileName = fullBackupName(database, 'failback', new Date());
    const full = await rb.act({
      name: 'full-backup',
      title: `Full backup of ${database} on ${backup.name} (WITH INIT, CHECKSUM)`,
      activity: 'backupFullDatabase',
      input: { instance: backup, database, folder: topology.backupShare, fileName },
    });

    // Step 6: restore it over the primary's copy, ready to use.
    if (before.primary.role) {
      await rb.act(step.removeMirroring('remove-stale-mirroring', primary, database));
    }
    const file = full.kind === 'done' ? full.result.figures.file : `${topology.backupShare.sqlPath}/${fileName}`;
    if (before.primary.state === 'ONLINE') {
      await rb.act(step.endSessions('end-primary-sessions', primary, database));
    }
    await rb.act({
      name: 'restore-primary',
      title: `Restore ${database} on ${primary.name} WITH REPLACE, RECOVERY`,
      activity: 'restoreFullDatabase',
      input: { instance: primary, database, file, move: [], replace: true, recovery: 'RECOVERY' },
    });
    if (!rb.dryRun) {
      const restored = (await rb.read(step.verifyDatabase('verify-primary', primary, database))).found;
      rb.require(
        restored.state === 'ONLINE',
        `${database} on ${primary.name} is not ONLINE after the restore: ${describePartner(restored)}`,
      );
    }

    // Step 8, first half: the pool uses the primary databases again (with no active server, nothing connects yet;
    // Install-CsMirrorDatabase below acts on the databases the pool uses).
    rb.setPhase('restoring-service');
    await rb.act(step.setPoolState('pool-normal', pool, 'Normal'));

    // Step 9a [beyond]: mirroring primary → mirror again, before log shipping (see above).
    if (mirroring) {
      rb.setPhase('restoring-mirroring');
      for (const kind of kinds) {
        const name = databaseNameOf(topology, kind);
        await rb.act({
          name: 'install-mirror',
          title: `Install-CsMirrorDatabase: mirror ${name} from ${requiredInstance(topology, kind, 'primary').name} to ${requiredInstance(topology, kind, 'mirror').name}`,
          target: requiredInstance(topology, kind, 'primary').name,
          activity: 'installMirrorDatabase',
          input: {
            pool,
            databaseType: DATABASE_TYPES[kind],
            database: name,
            principal: requiredInstance(topology, kind, 'primary'),
            mirror: requiredInstance(topology, kind, 'mirror'),
            fileShare: topology.backupShare.sqlPath,
          },
          skippable: `${name} stays unmirrored until Install-CsMirrorDatabase is run again`,
        });
      }
    }

    // Step 7: log shipping primary → backup again (it re-seeds the backup).
    rb.setPhase('log-shipping');
    const covering = rb.record.gates.find((gate) => gate.gate === 'approve-failback')?.id;
    await rb.child<SetupLogShippingOptions>({
      name: 'setup-log-shipping',
      title: `Set up log shipping ${primary.name} → ${backup.name} again`,
      runbook: 'setup-log-shipping',
      workflow: setupLogShipping,
      options: { database: 'mgc', jobTimeoutSeconds: rb.options.jobTimeoutSeconds },
      coveringGate: covering,
    });

    // Step 8, second half: DC1's servers serve again.
    rb.setPhase('restoring-service');
    await rb.act(step.setActiveServers('activate-dc1', 'Activate the DC1 servers', pool, topology.pool.servers.dc1));
    const restoredAt = rb.now();
    rb.record.measures.serviceInterruption = serviceInterruption(interruptedAt, restoredAt);

    // Step 9b [beyond]: the mirror-side log shipping, once service is back (it switches the mirroring principal twice).
    if (mirroring && rb.options.restoreMirrorLogShipping !== false)
      await restoreMirrorLogShipping(rb, primary, mirror, database);

    // Step 10: verify.
    rb.setPhase('verifying');
    if (rb.dryRun) return;
    const after = await readEstate();
    rb.require(
      after.pool.poolState === 'Normal' && sameServers(after.pool.activeServers, topology.pool.servers.dc1),
      `the pool is ${after.pool.poolState} with ${after.pool.activeServers.join(', ') || 'no'} active servers after the failback`,
    );
    rb.require(
      after.primary.state === 'ONLINE',
      `${database} on ${primary.name} is not ONLINE: ${describePartner(after.primary)}`,
    );
    rb.note(
      'Skype for Business requires restarting all Front End servers of the pool after a change to a mirroring relationship.',
    );
  });
}

/** A COPY_ONLY backup of DC1's database before the failback overwrites it, and what it holds that DC2 lacks. */
async function keepDivergedData(
  rb: Runbook<FailbackOptions>,
  primary: Instance,
  backup: Instance,
  database: string,
): Promise<void> {
  const { topology } = rb;
  const kept = await rb.act({
    name: 'keep-diverged-data',
    title: `Back up ${database} on ${primary.name} before it is overwritten (COPY_ONLY, verified): it may hold writes ${backup.name} lacks`,
    activity: 'backupFullDatabase',
    input: {
      instance: primary,
      database,
      folder: topology.backupShare,
      fileName: fullBackupName(database, 'diverged', new Date()),
      copyOnly: true,
    },
    skippable: `${database} on ${primary.name} is overwritten without a copy: whatever it held that ${backup.name} lacks is lost`,
  });
  if (kept.kind !== 'done') return;
  const file = kept.result.figures.file;
  const point = (
    await rb.read({
      name: 'read-recovery-point',
      title: `Read the point ${database} on ${backup.name} was recovered at`,
      activity: 'readRestorePoint',
      input: { instance: backup, database },
    })
  ).found.restoredUpTo;
  const store = topology.chatStore;
  let messages: number | null = null;
  let messagesNote = store
    ? `not counted: ${backup.name} records no restore to count from`
    : 'not counted: the topology names no chatStore';
  if (store && point) {
    const counted = (
      await rb.read({
        name: 'count-diverged-messages',
        title: `Count the messages ${database} on ${primary.name} holds after ${backup.name}'s recovery point`,
        activity: 'readMessagesSince',
        input: { instance: primary, database, table: store.table, timeColumn: store.timeColumn, since: point },
      })
    ).found;
    messages = counted.count;
    messagesNote =
      counted.count === null
        ? `not counted: ${counted.reason}`
        : `${counted.count} message(s) in dbo.${store.table} posted after the recovery point ${point}${counted.first ? `, from ${counted.first} to ${counted.last}` : ''}`;
  }
  rb.record.diverged = { instance: primary.name, database, file, recoveryPoint: point, messages, messagesNote };
  rb.note(`${database} on ${primary.name} was kept in ${file} before the failback overwrote it: ${messagesNote}`);
}

/** Runbook 5 step 9 [beyond]: stale mirror-side metadata removed, then runbook 3 re-derives it from the primary. */
async function restoreMirrorLogShipping(
  rb: Runbook<FailbackOptions>,
  primary: Instance,
  mirror: Instance,
  database: string,
): Promise<void> {
  rb.setPhase('restoring-mirror-log-shipping');
  const gate = await rb.approval(
    'approve-failback-mirror-log-shipping',
    `Configure log shipping on ${mirror.name} again (runbook 3: two mirroring switches)?`,
    async () => {
      const partner: MirroringState = (await rb.read(step.readDatabase('read-primary', primary, database))).found;
      return makeEvidence(rb.now(), [describePartner(partner)], { role: partner.role, state: partner.state });
    },
    { optional: true },
  );
  if (gate.status === 'rejected') {
    rb.note(
      `mirror-side log shipping was declined by ${gate.rejection?.by}: log shipping stops if ${database} fails over to ${mirror.name}`,
    );
    return;
  }
  await rb.act({
    name: 'clean-mirror-log-shipping',
    title: `Remove the log-shipping primary configuration left on ${mirror.name} from before the disaster`,
    activity: 'removeLogShippingPrimary',
    input: { instance: mirror, database },
    skippable: 'runbook 3 then keeps the old configuration if it matches',
  });
  await rb.act({
    name: 'wait-synchronized',
    title: `Wait until ${database} is SYNCHRONIZED on ${primary.name}`,
    target: primary.name,
    activity: 'waitUntilSynchronized',
    input: { database, principal: primary, timeoutSeconds: 300 },
  });
  await rb.child<SetupMirrorLogShippingOptions>({
    name: 'setup-mirror-log-shipping',
    title: `Configure log shipping on ${mirror.name}`,
    runbook: 'setup-mirror-log-shipping',
    workflow: setupMirrorLogShipping,
    options: { database: 'mgc', jobTimeoutSeconds: rb.options.jobTimeoutSeconds },
    coveringGate: gate.id,
    skippable: `log shipping stops if ${database} fails over to ${mirror.name} until runbook 3 runs`,
  });
}

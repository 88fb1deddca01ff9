/**
 * The way back of a planned switchover (runbook 4, docs/runbooks.md rule 10): once chat is stopped and DC1 fenced,
 * a switchover that is aborted or fails before DC2 serves must not leave Persistent Chat down. A gate
 * `roll-back-switchover` asks; approved, DC1 is recovered from its fenced tail (nothing was written after it, so
 * nothing is lost), the pool is Normal again, mirroring is installed again, DC1's servers serve, and log shipping to
 * DC2 is set up again (runbook 2 as a child, which re-seeds DC2). Each step skips what is already as wanted, so a
 * way back that stops half way can be taken again. The report shows the forward steps and these.
 */
import * as wf from '@temporalio/workflow';
import { databaseOf, poolTargetOf } from '../contracts/estate';
import type { RunOutcome } from '../contracts/run-record';
import type { FailoverOptions, SetupLogShippingOptions } from '../contracts/runbooks';
import type { Instance } from '../topology/schema';
import { describePartner } from './gate-evidence';
import { makeEvidence } from './gate-rules';
import { failureOf, RunEnded } from './run-state';
import type { Runbook } from './runbook';
import { setupLogShipping } from './setup-log-shipping';
import { readDatabase, readPool, setActiveServers, setPoolState } from './step-specs';

/** What the forward steps did, as far as the way back needs to know. */
export interface SwitchoverProgress {
  /** The active servers were cleared: chat is down. */
  stopped: boolean;
  /** The DC1 instance that was principal (and is fenced once the tail-log backup ran). */
  principal: Instance | null;
  /** DC2's servers are active: the switchover is done, nothing to roll back. */
  dc2Serving: boolean;
}

/**
 * Offers the way back after `error` stopped a planned switchover; returns when declined, so the caller rethrows,
 * and ends the run (outcome of the forward failure, reason saying it was rolled back) when it went back.
 */
export async function offerSwitchoverRollBack(
  rb: Runbook<FailoverOptions>,
  progress: SwitchoverProgress,
  error: unknown,
): Promise<void> {
  // A cancelled workflow asked for nothing more to happen; a terminated one never gets here.
  if (wf.isCancellation(error) || !progress.principal) return;
  const outcome: Exclude<RunOutcome, 'running'> = error instanceof RunEnded ? error.outcome : 'failed';
  const why = error instanceof RunEnded ? error.why : failureOf(error, rb.now()).message;
  const { topology } = rb;
  const { name: database, mirror, primary, backup } = databaseOf(topology, 'mgc');
  const principal = progress.principal;
  const pool = poolTargetOf(topology);
  rb.resumeAfterAbort();
  rb.note(`the switchover stopped after chat was stopped: ${why}`);

  const gate = await rb.approval(
    'roll-back-switchover',
    `The switchover stopped before DC2 served (${why}). Go back to ${principal.name}: recover ${database} from its fenced tail (no data lost), mirror it again, activate the DC1 servers and set up log shipping to ${backup.name} again?`,
    async () => {
      const dc1 = (await rb.read(readDatabase('rollback-read-dc1', principal, database))).found;
      const dc2 = (await rb.read(readDatabase('rollback-read-dc2', backup, database))).found;
      const poolNow = (await rb.read(readPool('rollback-read-pool', pool))).found;
      return makeEvidence(
        rb.now(),
        [
          describePartner(dc1),
          describePartner(dc2),
          `pool ${poolNow.poolState}; active servers: ${poolNow.activeServers.join(', ') || 'none'}`,
        ],
        { dc1: dc1.state, dc2: dc2.state, poolState: poolNow.poolState },
      );
    },
    { optional: true },
  );
  if (gate.status === 'rejected') {
    rb.note(`the way back was declined by ${gate.rejection?.by}: chat stays stopped until someone acts`);
    return;
  }

  rb.setPhase('rolling-back');
  await rb.act({
    name: 'rollback-recover-dc1',
    title: `Recover ${database} on ${principal.name} from its fenced tail (RESTORE DATABASE ... WITH RECOVERY)`,
    activity: 'recoverDatabase',
    input: { instance: principal, database },
  });
  await rb.act(setPoolState('rollback-pool-normal', pool, 'Normal'));
  const partner = principal.name === primary.name ? mirror : primary;
  await rb.act({
    name: 'rollback-install-mirror',
    title: `Install-CsMirrorDatabase: mirror ${database} from ${principal.name} to ${partner.name} again`,
    target: principal.name,
    activity: 'installMirrorDatabase',
    input: {
      pool,
      databaseType: 'PersistentChat',
      database,
      principal,
      mirror: partner,
      fileShare: topology.backupShare.sqlPath,
    },
    skippable: `${database} stays unmirrored until Install-CsMirrorDatabase is run again`,
  });
  await rb.act(
    setActiveServers('rollback-activate-dc1', 'Activate the DC1 servers again', pool, topology.pool.servers.dc1),
  );
  if (principal.name === primary.name) {
    await rb.child<SetupLogShippingOptions>({
      name: 'rollback-log-shipping',
      title: `Set up log shipping ${primary.name} → ${backup.name} again`,
      runbook: 'setup-log-shipping',
      workflow: setupLogShipping,
      options: { database: 'mgc' },
      coveringGate: gate.id,
      skippable: `${backup.name} receives no log backups until runbook 2 runs`,
    });
  } else {
    rb.note(
      `${principal.name} is the mirror-side log-shipping primary: run setup-mirror-log-shipping to ship its logs to ${backup.name} again`,
    );
  }
  throw new RunEnded(
    outcome,
    `${why}; rolled back: ${database} serves on ${principal.name} again with nothing lost, the DC1 servers are active`,
  );
}

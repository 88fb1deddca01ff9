/**
 * Runbook 3 — setup-mirror-log-shipping: the mirror becomes a second log-shipping primary, so log shipping survives
 * a mirroring failover (Microsoft's 22 steps). Fail over to the mirror (runbook 1 as a child), give it the primary
 * half with the primary's own settings read from its msdb, fail back (runbook 1 again), verify.
 */
import { databaseOf } from '../contracts/estate';
import { primarySettingsOf } from '../contracts/log-shipping';
import { describePartner, mirroringEvidence } from './gate-evidence';
import { mirrorFailover } from './mirror-failover';
import type { MirrorFailoverOptions, RunbookInput, SetupMirrorLogShippingOptions } from '../contracts/runbooks';
import type { RunbookReport } from '../contracts/run-record';
import { readDatabase, readPrimaryConfiguration, readSecondaryConfiguration, runJob } from './step-specs';
import { Runbook } from './runbook';

export async function setupMirrorLogShipping(
  input: RunbookInput<SetupMirrorLogShippingOptions>,
): Promise<RunbookReport> {
  const rb = new Runbook<SetupMirrorLogShippingOptions>('setup-mirror-log-shipping', input);
  return rb.execute(async () => {
    const { topology } = rb;
    const kind = rb.options.database ?? 'mgc';
    const { name: database, primary, mirror, backup } = databaseOf(topology, kind);
    const { jobTimeoutSeconds } = rb.options;

    // Step 1: preflight — mirroring SYNCHRONIZED, runbook 2 done, the secondary initialised.
    const readPartners = async () => ({
      primary: (await rb.read(readDatabase('read-primary', primary, database))).found,
      mirror: (await rb.read(readDatabase('read-mirror', mirror, database))).found,
    });
    const partners = await readPartners();
    rb.require(
      partners.primary.role === 'PRINCIPAL' && partners.primary.state === 'ONLINE',
      `${primary.name} must be the principal to start: ${describePartner(partners.primary)}`,
    );
    rb.require(
      partners.primary.mirroringState === 'SYNCHRONIZED',
      `mirroring of ${database} must be SYNCHRONIZED: ${describePartner(partners.primary)}`,
    );
    const primaryConfiguration = (
      await rb.read(readPrimaryConfiguration('read-primary-configuration', primary, database))
    ).found;
    rb.require(
      primaryConfiguration && primaryConfiguration.secondaries.length > 0,
      `${database} is not shipped from ${primary.name} yet: run setup-log-shipping first`,
    );
    const secondary = (await rb.read(readSecondaryConfiguration('read-secondary-configuration', backup, database)))
      .found;
    rb.require(secondary, `${backup.name} does not restore ${database}: run setup-log-shipping first`);
    const backupState = (await rb.read(readDatabase('read-backup', backup, database))).found;
    rb.require(
      backupState.state === 'RESTORING',
      `the secondary must be initialised (RESTORING): ${describePartner(backupState)}`,
    );
    const mirrorConfiguration = (await rb.read(readPrimaryConfiguration('read-mirror-configuration', mirror, database)))
      .found;
    const secondaryServer = backupState.serverName ?? backup.name;
    if (
      mirrorConfiguration &&
      mirrorConfiguration.secondaries.some((link) => link.server.toLowerCase() === secondaryServer.toLowerCase())
    ) {
      return {
        outcome: 'no-change',
        reason: `${mirror.name} already holds a log-shipping primary configuration of ${database} for ${secondaryServer}`,
      };
    }

    // Step 2: the gate covers both mirroring switches.
    const gate = await rb.approval(
      'approve-mirror-log-shipping',
      `Fail ${database} over to ${mirror.name}, configure it as a log-shipping primary, and fail back to ${primary.name}?`,
      async () => {
        const now = await readPartners();
        return mirroringEvidence(rb.now(), now.mirror, now.primary);
      },
    );
    const switchTo = async (to: 'mirror' | 'primary') =>
      rb.child<MirrorFailoverOptions>({
        name: `fail-over-to-${to}`,
        title: `Fail ${database} over to the ${to} (${to === 'mirror' ? mirror.name : primary.name})`,
        runbook: 'mirror-failover',
        workflow: mirrorFailover,
        options: { database: kind, to },
        coveringGate: gate.id,
      });

    rb.setPhase('failing-over-to-mirror');
    await switchTo('mirror');

    // Step 3: the primary half on the former mirror, with the primary's own settings (not re-typed).
    rb.setPhase('configuring-mirror');
    await rb.act({
      name: 'copy-primary-settings',
      title: `Configure ${database} on ${mirror.name} as log-shipping primary with ${primary.name}'s settings`,
      target: mirror.name,
      activity: 'copyLogShippingPrimarySettings',
      input: { from: primary, to: mirror, database, secondaryServer, secondaryDatabase: database },
    });

    // Step 4: back to the original principal.
    rb.setPhase('failing-back');
    await switchTo('primary');

    // Step 5: both partners hold a primary configuration; the mirror-side job succeeds (it skips while the database is a mirror); the secondary keeps restoring.
    rb.setPhase('verifying');
    // The mirror's backup job has the primary's job name: its settings were copied.
    const jobName = primaryConfiguration!.backupJob?.name ?? primarySettingsOf(topology, kind).jobName;
    await rb.act(runJob('run-mirror-backup-job', mirror, jobName, jobTimeoutSeconds));
    for (const jobName of [secondary!.copyJob?.name, secondary!.restoreJob?.name].filter((name): name is string =>
      Boolean(name),
    )) {
      await rb.act(runJob('run-secondary-job', backup, jobName, jobTimeoutSeconds));
    }
    if (rb.dryRun) return;
    const onMirror = (await rb.read(readPrimaryConfiguration('verify-mirror-configuration', mirror, database))).found;
    rb.require(
      onMirror && onMirror.secondaries.some((link) => link.server.toLowerCase() === secondaryServer.toLowerCase()),
      `${mirror.name} holds no log-shipping primary configuration for ${secondaryServer} after the setup`,
    );
    const after = await readPartners();
    rb.require(
      after.primary.role === 'PRINCIPAL' && after.primary.state === 'ONLINE',
      `${primary.name} is not the principal again: ${describePartner(after.primary)}`,
    );
  });
}

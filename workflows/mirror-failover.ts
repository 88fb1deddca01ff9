/**
 * Runbook 1 — mirror-failover: what Invoke-CsDatabaseFailover -NewPrincipal Mirror|Primary does, in T-SQL against
 * the partners. Planned when the current principal answers (SAFETY FULL and SYNCHRONIZED first, then SET PARTNER
 * FAILOVER on it); forced when it does not (gate accept-data-loss, then FORCE_SERVICE_ALLOW_DATA_LOSS on the mirror).
 */
import type { MirroringState } from '../activities/mirroring';
import { databaseNameOf, requiredInstance } from '../contracts/estate';
import { describePartner, mirroringEvidence } from './gate-evidence';
import type { RunbookReport } from '../contracts/run-record';
import { readDatabase } from './step-specs';
import { Runbook } from './runbook';
import type { RunbookInput, MirrorFailoverOptions } from '../contracts/runbooks';

export async function mirrorFailover(input: RunbookInput<MirrorFailoverOptions>): Promise<RunbookReport> {
  const rb = new Runbook<MirrorFailoverOptions>('mirror-failover', input);
  return rb.execute(async () => {
    const kind = rb.options.database ?? 'mgc';
    const to = rb.options.to ?? 'mirror';
    const database = databaseNameOf(rb.topology, kind);
    const target = requiredInstance(rb.topology, kind, to);
    const partner = requiredInstance(rb.topology, kind, to === 'mirror' ? 'primary' : 'mirror');

    // Step 1: both partners (an unreachable one is evidence, not an error).
    const read = async () => {
      const states: MirroringState[] = [];
      for (const instance of [target, partner]) {
        const state = await rb.read(readDatabase('read-mirroring-state', instance, database));
        states.push(state.found);
      }
      return { target: states[0], partner: states[1] };
    };
    const evidence = async () => {
      const now = await read();
      return mirroringEvidence(rb.now(), now.target, now.partner);
    };
    const before = await read();

    // Step 2: already where asked.
    if (before.target.reachable && before.target.role === 'PRINCIPAL' && before.target.state === 'ONLINE') {
      rb.note(`${target.name} is already the principal of ${database}: no change`);
      return { outcome: 'no-change', reason: `${target.name} is already the principal of ${database}` };
    }
    rb.require(
      before.target.reachable,
      `${target.name}, which should become principal, cannot be reached: ${before.target.unreachableReason}`,
    );
    rb.require(
      before.target.role === 'MIRROR',
      `${database} on ${target.name} is not a mirroring partner (${describePartner(before.target)})`,
    );

    if (before.partner.reachable) {
      // Step 3: planned failover, with no data loss.
      rb.require(
        before.partner.role === 'PRINCIPAL',
        `${partner.name} is not the principal of ${database} (${describePartner(before.partner)})`,
      );
      if (before.partner.safety !== 'FULL') {
        await rb.act({
          name: 'set-safety-full',
          title: `Set mirroring safety of ${database} to FULL on ${partner.name}`,
          target: partner.name,
          activity: 'setMirroringSafety',
          input: { database, principal: partner, safety: 'FULL' },
        });
      }
      if (before.partner.mirroringState !== 'SYNCHRONIZED' || before.partner.safety !== 'FULL') {
        await rb.act({
          name: 'wait-synchronized',
          title: `Wait until ${database} is SYNCHRONIZED`,
          target: partner.name,
          activity: 'waitUntilSynchronized',
          input: { database, principal: partner, timeoutSeconds: rb.options.synchronizeTimeoutSeconds ?? 300 },
        });
      }
      const question = `Fail ${database} over from ${partner.name} to ${target.name} (planned, no data loss)?`;
      await rb.approval('approve-mirror-failover', question, evidence);
      rb.setPhase('failing-over');
      await rb.act({
        name: 'planned-failover',
        title: `SET PARTNER FAILOVER of ${database} on ${partner.name}`,
        target: partner.name,
        activity: 'plannedMirrorFailover',
        input: { database, target, partner },
      });
    } else {
      // Step 4: the principal is gone; forcing service on the mirror may lose what it had not received.
      const question = `${partner.name} cannot be reached. Force service of ${database} on ${target.name}, accepting the loss of what it had not received?`;
      await rb.approval('accept-data-loss', question, evidence);
      rb.setPhase('forcing-service');
      await rb.act({
        name: 'force-service',
        title: `FORCE_SERVICE_ALLOW_DATA_LOSS of ${database} on ${target.name}`,
        target: target.name,
        activity: 'forceMirrorService',
        input: { database, mirror: target, principal: partner },
      });
    }

    // Step 5: verify.
    rb.setPhase('verifying');
    if (!rb.dryRun) {
      const after = await read();
      rb.require(
        after.target.role === 'PRINCIPAL' && after.target.state === 'ONLINE',
        `after the failover ${describePartner(after.target)}`,
      );
    }
    rb.note(
      'Skype for Business requires restarting all Front End servers of the pool after a change to a mirroring relationship.',
    );
  });
}

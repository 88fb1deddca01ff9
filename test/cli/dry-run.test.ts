/**
 * `pchat-dr run failover --dry-run` after log shipping is set up: the preflight reads run for real, and the plan
 * shows every step with the server it runs on and the exact T-SQL or cmdlet it would execute, every gate with its
 * policy; nothing in the estate changes (instances, pool, share and copy folder).
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/estate';
import { runbookHarness, type RunbookHarness } from '../helpers/runbooks';
import { setUpLogShipping, takeLogBackups } from '../helpers/story';
import { cli, simulatedSecret } from './cli-env';

let harness: RunbookHarness;
afterEach(async () => harness?.close());

/** What a dry run must not change: every instance (its sessions aside: reads connect), the pool, the folders. */
function estateView() {
  const snapshot = harness.env.estate.snapshot();
  return {
    instances: snapshot.instances.map(({ sessions: _sessions, ...instance }) => instance),
    pool: snapshot.pool,
    share: readdirSync(harness.env.topology.backupShare.workerPath).sort(),
    copy: readdirSync(harness.env.topology.copyFolder.workerPath).sort(),
  };
}

describe('pchat-dr run --dry-run', () => {
  it(
    'prints the T-SQL and cmdlets of every failover step and the policy of every gate, and changes nothing',
    { timeout: 120_000 },
    async () => {
      harness = await runbookHarness({ label: 'cli-dry-run' });
      const { env } = harness;
      const file = env.topologyFile;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        const logs = await takeLogBackups(env, 2);
        // The log-shipping jobs run on their schedules: paused, so only the dry run could change anything.
        for (const job of ['LSCopy_SQLDC1A_mgc', 'LSRestore_SQLDC1A_mgc'])
          env.estate.setJobEnabled('dc2-sql-a', job, false);
        await eventually(
          () => env.estate.snapshot().instances.every((instance) => instance.jobs.every((job) => !job.running)),
          15_000,
          'the jobs to finish',
        );
        // And the mirror has caught up with the log backups' chat traffic: the estate is at rest.
        const before = await eventually(
          async () => {
            const view = estateView();
            await new Promise((resolve) => setTimeout(resolve, 500));
            return JSON.stringify(estateView()) === JSON.stringify(view) ? view : null;
          },
          15_000,
          'the estate to settle',
        );

        const dry = await cli(harness, ['run', 'failover', '-f', file, '--dry-run', '--as', 'carol']);
        expect(dry.code, dry.stderr).toBe(0);
        const out = dry.stdout;
        expect(out).toMatch(/^Dry run of failover on pool .*: nothing was changed\./);
        // The preflight reads ran.
        expect(out).toMatch(/observed\s+gather-evidence on dc2-sql-a: Gather evidence/);
        // Every gate with its policy.
        expect(out).toMatch(/gate\s+override-split-brain-guard \(planned\): dc1-sql-a still answer/);
        expect(out).toContain(
          'policy: 2 of carol, dave; two-person rule (the initiator may not approve); timeout 1h, then abort',
        );
        expect(out).toMatch(/gate\s+declare-disaster \(planned\)/);
        expect(out).toContain(
          'policy: 2 of carol, dave, alice, bob; two-person rule (the initiator may not approve); timeout 1h (escalate after 30m to carol, dave), then abort',
        );
        // Every acting step: where it runs and exactly what it would execute.
        expect(out).toMatch(/planned\s+remove-log-shipping on dc2-sql-a/);
        expect(out).toContain(
          'EXEC master.dbo.sp_delete_log_shipping_secondary_database @secondary_database = @database',
        );
        expect(out).toContain("-- @database = N'mgc'");
        expect(out).toMatch(/planned\s+apply-logs on dc2-sql-a/);
        expect(
          out.split('\n').filter((line) => line.trim() === 'RESTORE LOG [mgc] FROM DISK = @file WITH NORECOVERY'),
        ).toHaveLength(2);
        for (const log of logs) expect(out).toContain(`-- @file = N'${log}'`);
        expect(out).toContain('KILL <session_id of each session using mgc>');
        expect(out).toMatch(/planned\s+recover on dc2-sql-a/);
        expect(out).toContain('RESTORE DATABASE [mgc] WITH RECOVERY');
        expect(out).toContain(
          `Set-CsPersistentChatState -Identity 'service:${env.topology.pool.fqdn}' -PoolState 'FailedOver' -Confirm:$false`,
        );
        expect(out).toMatch(
          /Install-CsMirrorDatabase -DatabaseType PersistentChat -SqlServerFqdn '127\.0\.0\.\d+' -FileShare '.*' -DropExistingDatabasesOnMirror -Confirm:\$false/,
        );
        expect(out).toContain("Set-CsPersistentChatActiveServer -Identity 'service:");
        expect(out).toContain("-ActiveServers @{Replace='pchat-fe3.sim.local','pchat-fe4.sim.local'} -Confirm:$false");
        expect(out).toMatch(/Outcome: planned/);
        expect(out).not.toContain(simulatedSecret(harness));
        expect(estateView()).toEqual(before);

        // Planned mode, as JSON: every planned step that is an activity says what it executes.
        const planned = await cli(harness, [
          'run',
          'failover',
          '-f',
          file,
          '--dry-run',
          '--mode',
          'planned',
          '-o',
          'json',
        ]);
        expect(planned.code, planned.stderr).toBe(0);
        const plan = JSON.parse(planned.stdout) as {
          outcome: string;
          steps: { name: string; status: string; target: string | null; activity?: string; statements?: string[] }[];
          gates: { gate: string; required: number }[];
        };
        expect(plan.outcome).toBe('planned');
        const steps = plan.steps.filter((step) => step.status === 'planned');
        expect(steps.map((step) => step.name)).toEqual([
          'clear-active-servers',
          'remove-dc1-mirroring',
          'end-dc1-sessions',
          'tail-log-backup',
          'remove-log-shipping',
          'copy-logs',
          'apply-logs',
          'end-sessions',
          'recover',
          'pool-failed-over',
          'install-mirror',
          'activate-dc2',
        ]);
        for (const step of steps) expect(step.statements?.length, step.name).toBeGreaterThan(0);
        const statementsOf = (name: string) => steps.find((step) => step.name === name)!.statements!.join('\n');
        expect(statementsOf('clear-active-servers')).toContain('-ActiveServers $Null -Confirm:$false');
        expect(statementsOf('remove-dc1-mirroring')).toContain('ALTER DATABASE [mgc] SET PARTNER OFF');
        expect(steps.find((step) => step.name === 'tail-log-backup')!.target).toBe('dc1-sql-a');
        expect(statementsOf('tail-log-backup')).toMatch(
          /BACKUP LOG \[mgc\] TO DISK = @file WITH NORECOVERY, INIT, CHECKSUM\n-- @file = N'.*mgc_\d{14}_tail\.trn'/,
        );
        expect(plan.gates.map((gate) => gate.gate)).toEqual(['approve-switchover']);
        expect(planned.stdout).not.toContain(simulatedSecret(harness));
        expect(estateView()).toEqual(before);
      });
    },
  );
});

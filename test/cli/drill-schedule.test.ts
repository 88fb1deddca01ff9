/**
 * Scheduled drills through the built CLI (runbook 6 on Temporal Schedules): a schedule made with `drill schedule
 * --every` fires and its drill passes on the healthy simulated estate, `drill history` shows it with RPO and
 * estimated RTO, `drill list` shows the schedule paused with its note and active again after `resume`, a drill that
 * fails a check pauses its schedule (and scheduling again keeps the pause), `report` and `status` render the drill's
 * checks and figures, `delete` removes the schedule and leaves its drills.
 */
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/estate';
import { runbookHarness } from '../helpers/runbooks';
import { setUpLogShipping } from '../helpers/story';
import { cli, expectOneLineError, simulatedSecret } from './cli-env';

import { drillTest, history, listed } from './drill-env';

describe('pchat-dr drill schedule', () => {
  it(
    'schedules drills that fire, lists, pauses and resumes the schedule, is paused by a failing drill, shows the drills in history and report, and deletes it',
    { timeout: 180_000 },
    async () => {
      drillTest.harness = await runbookHarness({ label: 'cli-drill-schedule' });
      const h = drillTest.harness;
      const file = h.env.topologyFile;
      const pool = h.env.topology.pool.fqdn;
      const id = `${h.taskQueue}-drills`;
      await h.withWorker(async () => {
        await setUpLogShipping(h);

        drillTest.schedules.push(id);
        const created = await cli(h, [
          'drill',
          'schedule',
          '-f',
          file,
          '--every',
          '1h',
          '--id',
          id,
          '--note',
          'weekly drill of the test estate',
        ]);
        expect(created.code, created.stderr).toBe(0);
        expect(created.stdout).toContain(`created drill schedule ${id} for pool ${pool}`);
        expect(created.stdout).toContain('when:       every 1h');
        expect(created.stdout).toContain(
          'overlap SKIP (never two drills at once), catch-up window 10m, pause on failure',
        );
        expect(created.stdout).toContain(`initiator schedule:${id}, read-only`);
        expect(created.stdout).toMatch(/next runs: {2}\d{4}-\d{2}-\d{2} \d{2}:00:00Z/);
        expect(created.stdout).toContain(`each drill loads pool ${pool} from the worker's estate file`);

        // The same id again: an update, said so; now every few seconds.
        const updated = await cli(h, [
          'drill',
          'schedule',
          '-f',
          file,
          '--every',
          '3s',
          '--id',
          id,
          '--reason',
          'CLI test',
          '-o',
          'json',
        ]);
        expect(updated.code, updated.stderr).toBe(0);
        expect(JSON.parse(updated.stdout)).toMatchObject({
          action: 'updated',
          scheduleId: id,
          pool,
          spec: 'every 3s',
          paused: false,
          note: 'weekly drill of the test estate',
          policies: { overlap: 'SKIP', catchupWindow: '10m', pauseOnFailure: true },
          initiator: `schedule:${id}`,
          reason: 'CLI test',
          rehearse: null,
        });

        // It fires: a drill of the pool, passed, with RPO and estimated RTO.
        const drills = await eventually(
          async () => {
            const entries = await history(h, pool);
            return entries.length > 0 ? entries : null;
          },
          90_000,
          'a scheduled drill to finish',
        );
        const first = drills[drills.length - 1];
        expect(first.workflowId).toMatch(new RegExp(`^drill-${pool.replace(/\./g, '\\.')}-`));
        expect(first, JSON.stringify(first)).toMatchObject({
          outcome: 'succeeded',
          passed: true,
          failedChecks: 0,
          failed: [],
          skipped: null,
        });
        expect(first.rpoSeconds).toBeGreaterThanOrEqual(0);
        expect(first.estimatedRtoSeconds).toBeGreaterThan(0);

        // Paused by a person, with a note: no drill starts until it is resumed.
        const paused = await cli(h, ['drill', 'pause', id, '--note', 'DC2 maintenance INC-7', '--as', 'carol']);
        expect(paused.code, paused.stderr).toBe(0);
        expect(paused.stdout).toContain(`paused drill schedule ${id}: paused by carol: DC2 maintenance INC-7`);
        const whilePaused = await eventually(() => listed(h, id), 15_000, 'the schedule to be listed');
        expect(whilePaused).toMatchObject({
          pool,
          spec: 'every 3s',
          paused: true,
          note: 'paused by carol: DC2 maintenance INC-7',
          policies: { overlap: 'SKIP', catchupWindow: '10m', pauseOnFailure: true },
        });
        expect(whilePaused!.lastRun?.workflowId).toMatch(new RegExp(`^drill-${pool.replace(/\./g, '\\.')}-`));
        const table = await cli(h, ['drill', 'list']);
        expect(table.stdout).toMatch(/ID\s+POOL\s+WHEN\s+STATE\s+NEXT RUN\s+LAST DRILL/);
        expect(table.stdout).toMatch(
          new RegExp(
            `${id}\\s+${pool.replace(/\./g, '\\.')}\\s+every 3s\\s+paused: paused by carol: DC2 maintenance INC-7`,
          ),
        );

        // Resumed: active again, the note says who resumed it; then paused again while the estate is broken.
        const resumed = await cli(h, ['drill', 'resume', id, '--as', 'dave']);
        expect(resumed.code, resumed.stderr).toBe(0);
        expect(resumed.stdout).toContain(`resumed drill schedule ${id}: next drill `);
        expect(await listed(h, id)).toMatchObject({ paused: false, note: 'resumed by dave' });
        expect((await cli(h, ['drill', 'pause', id, '--note', 'breaking the estate'])).code).toBe(0);
        await eventually(
          async () => ((await listed(h, id))?.running.length === 0 ? true : null),
          90_000,
          'the last drill to end',
        );

        // The text history: result, RPO and estimated RTO per drill.
        const text = await cli(h, ['drill', 'history', pool]);
        expect(text.code, text.stderr).toBe(0);
        expect(text.stdout).toMatch(/DRILL\s+STARTED\s+RESULT\s+FAILED\s+RPO\s+EST\. RTO/);
        expect(text.stdout).toMatch(
          new RegExp(`${first.workflowId.replace(/[.:]/g, '\\$&')}\\s+\\S+ \\S+Z\\s+passed\\s+0\\s+\\d`),
        );

        // The drill's report: its findings first (result, figures, every check), then the run's record.
        const report = await cli(h, ['report', first.workflowId, '-o', 'md']);
        expect(report.code, report.stderr).toBe(0);
        expect(report.stdout).toContain(`# DR drill ${first.workflowId}`);
        expect(report.stdout).toContain('**Result: PASSED**');
        expect(report.stdout).toMatch(
          /\| RPO \(last restored log backup vs\. last log backup\) \| [^|]+ \| [^|]+ \| met \|/,
        );
        expect(report.stdout).toMatch(/\| Estimated RTO \(restore rehearsal\) \| \d[^|]* \| [^|]+ \| met \|/);
        expect(report.stdout).toMatch(/## Health[\s\S]*\| Mirroring of mgc \| pass \|/);
        expect(report.stdout).toContain('| Restore rehearsal | pass |');
        expect(report.stdout).toContain('## Run record');
        expect(report.stdout).toContain(`by schedule:${id}`);
        expect(report.stdout).toContain('| Reason | CLI test |');
        expect(report.stdout).toMatch(/\| Restore .* \(`restore-scratch`\) \| dc2-sql-a \| acted \|/);
        expect(report.stdout).not.toContain('No gate opened');
        expect(report.stdout).not.toContain(simulatedSecret(h));

        // status of a finished drill: its result in a line.
        const status = await cli(h, ['status', first.workflowId]);
        expect(status.code, status.stderr).toBe(0);
        expect(status.stdout).toMatch(
          /^drill PASSED: \d+ checks passed; RPO .* \(objective .*: met\); estimated RTO .* \(objective .*: met\)$/m,
        );

        // Pause on failure: a drill that fails a check pauses its schedule, saying why.
        const copyJob = h.env.estate
          .snapshot()
          .instances.find((instance) => instance.name === 'dc2-sql-a')!
          .jobs.find((job) => job.name.startsWith('LSCopy_'))!.name;
        h.env.estate.setJobEnabled('dc2-sql-a', copyJob, false);
        expect((await cli(h, ['drill', 'resume', id, '--note', 'copy job disabled on purpose'])).code).toBe(0);
        const pausedByDrill = await eventually(
          async () => {
            const schedule = await listed(h, id);
            return schedule?.paused && schedule.note?.startsWith('paused by drill ') && schedule.running.length === 0
              ? schedule
              : null;
          },
          90_000,
          'a failing drill to pause its schedule',
        );
        expect(pausedByDrill.note).toMatch(
          new RegExp(
            `^paused by drill drill-${pool.replace(/\./g, '\\.')}-\\S+: 1 check\\(s\\) failed: Log-shipping copy job ${copyJob} on dc2-sql-a \\(DISABLED`,
          ),
        );
        expect(pausedByDrill.lastRun).toMatchObject({ status: 'completed', outcome: 'failed' });
        // Scheduling again (a new snapshot of the topology) keeps the pause: a person resumes it.
        const again = await cli(h, ['drill', 'schedule', '-f', file, '--every', '3s', '--id', id]);
        expect(again.code, again.stderr).toBe(0);
        expect(again.stdout).toContain(`updated drill schedule ${id}`);
        expect(again.stdout).toContain(`(it stays paused: pchat-dr drill resume ${id})`);
        expect(await listed(h, id)).toMatchObject({ paused: true, note: pausedByDrill.note });
        const failing = await eventually(
          async () => (await history(h, pool)).find((entry) => entry.workflowId === pausedByDrill.lastRun!.workflowId),
          30_000,
          'the failed drill in the history',
        );
        expect(failing).toMatchObject({
          workflowId: pausedByDrill.lastRun!.workflowId,
          outcome: 'failed',
          passed: false,
          failedChecks: 1,
          failed: [expect.stringMatching(new RegExp(`^Log-shipping copy job ${copyJob} on dc2-sql-a: DISABLED`))],
        });
        const failingText = await cli(h, ['drill', 'history', pool, '--limit', '1']);
        expect(failingText.stdout).toMatch(
          new RegExp(`${failing.workflowId.replace(/[.:]/g, '\\$&')}\\s+\\S+ \\S+Z\\s+FAILED\\s+1\\s`),
        );
        expect(failingText.stdout).toContain(
          `${failing.workflowId}: failed\n  - Log-shipping copy job ${copyJob} on dc2-sql-a: DISABLED`,
        );
        h.env.estate.setJobEnabled('dc2-sql-a', copyJob, true);

        // Deleted: no longer listed; its drills stay.
        const deleted = await cli(h, ['drill', 'delete', id]);
        expect(deleted.code, deleted.stderr).toBe(0);
        expect(deleted.stdout).toContain(
          `deleted drill schedule ${id}; its past drills stay (pchat-dr drill history ${pool})`,
        );
        await eventually(
          async () => ((await listed(h, id)) === undefined ? true : null),
          30_000,
          'the schedule to leave the list',
        );
        expect((await history(h, pool)).map((entry) => entry.workflowId)).toContain(first.workflowId);
        expectOneLineError(await cli(h, ['drill', 'trigger', id]), 2, new RegExp(`^no drill schedule with id ${id}$`));
      });
    },
  );
});

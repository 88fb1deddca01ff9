/**
 * `drill trigger` through the built CLI: while an incident runbook is open it runs a drill that skips and changes
 * nothing, and a second trigger while that drill runs starts no second one (exit 3); bad input is one line and
 * exit 2, and schedules that start other workflows are left alone.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/package';
import type { RunbookReport } from '../../contracts/run-record';
import { estateState, eventually } from '../helpers/estate';
import { gateOpen, runbookHarness } from '../helpers/runbooks';
import { connectClient } from '../helpers/temporal';
import { cli, expectOneLineError } from './cli-env';

import { drillTest, history, listed } from './drill-env';

describe('pchat-dr drill trigger', () => {
  it(
    'trigger runs a drill that skips while an incident runbook is open, and starts no second one while it runs',
    { timeout: 120_000 },
    async () => {
      drillTest.harness = await runbookHarness({ label: 'cli-drill-trigger' });
      const h = drillTest.harness;
      const file = h.env.topologyFile;
      const pool = h.env.topology.pool.fqdn;
      const id = `${h.taskQueue}-drills`;
      const incident = await h.withWorker(async () => {
        const run = await h.start('mirror-failover', { to: 'mirror' });
        await gateOpen(run, 'approve-mirror-failover');
        return run;
      });
      const before = estateState(h.env);

      drillTest.schedules.push(id);
      const created = await cli(h, [
        'drill',
        'schedule',
        '-f',
        file,
        '--cron',
        '0 3 * * TUE',
        '--timezone',
        'Europe/Berlin',
        '--id',
        id,
        '--as',
        'drill-bot',
      ]);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toContain('when:       cron "0 3 * * TUE" (Europe/Berlin)');
      expect(created.stdout).toContain('initiator drill-bot');
      expect(await eventually(() => listed(h, id), 15_000, 'the schedule to be listed')).toMatchObject({
        spec: 'cron "0 3 * * TUE" (Europe/Berlin)',
        timezone: 'Europe/Berlin',
        initiator: 'drill-bot',
        paused: false,
        lastRun: null,
      });

      // A paused schedule still runs a drill by hand. No worker serves the task queue yet: the triggered drill stays
      // running, so a second trigger must not start one.
      expect((await cli(h, ['drill', 'pause', id, '--note', 'by hand only'])).code).toBe(0);
      const triggered = await cli(h, ['drill', 'trigger', id]);
      expect(triggered.code, triggered.stderr).toBe(0);
      const drillId = /drill (\S+) started/.exec(triggered.stdout)?.[1];
      expect(drillId, triggered.stdout).toMatch(new RegExp(`^drill-${pool.replace(/\./g, '\\.')}-`));
      expect(triggered.stdout).toContain(`pchat-dr watch ${drillId}`);
      expectOneLineError(
        await cli(h, ['drill', 'trigger', id]),
        3,
        new RegExp(
          `^a drill of schedule ${id} is already running: ${drillId!.replace(/[.:]/g, '\\$&')} \\(overlap SKIP: no second drill starts\\)`,
        ),
      );

      const report = await h.withWorker(
        async () => (await h.client.workflow.getHandle(drillId!).result()) as RunbookReport,
      );
      expect(report.outcome).toBe('skipped');
      expect(report.drill!.skipped).toMatch(new RegExp(`^incident open: mirror-failover ${incident.workflowId}`));
      expect(report.steps.map((step) => step.name)).toEqual(['load-estate', 'find-open-incident']);
      expect(estateState(h.env)).toBe(before);

      const drills = await eventually(
        async () => {
          const entries = await history(h, pool);
          return entries.length > 0 ? entries : null;
        },
        30_000,
        'the drill in the history',
      );
      expect(drills).toEqual([
        expect.objectContaining({
          workflowId: drillId,
          outcome: 'skipped',
          passed: null,
          skipped: expect.stringMatching(/^incident open: mirror-failover /),
        }),
      ]);
      const text = await cli(h, ['drill', 'history', pool]);
      expect(text.stdout).toMatch(new RegExp(`${drillId!.replace(/[.:]/g, '\\$&')}\\s+\\S+ \\S+Z\\s+skipped`));
      expect(text.stdout).toContain(`${drillId}: skipped: incident open: mirror-failover ${incident.workflowId}`);
      const markdown = await cli(h, ['report', drillId!, '-o', 'md']);
      expect(markdown.stdout).toContain(`**Skipped:** incident open: mirror-failover ${incident.workflowId}`);
      expect(await listed(h, id)).toMatchObject({
        paused: true,
        running: [],
        lastRun: { workflowId: drillId, status: 'completed', outcome: 'skipped' },
      });
    },
  );

  it('refuses bad input with one line and exit 2, and leaves schedules that are not drills alone', async () => {
    const example = path.join(PROJECT_ROOT, 'examples', 'simulated.yaml');
    const production = path.join(PROJECT_ROOT, 'examples', 'production.yaml');
    const schedule = (...args: string[]) => cli(undefined, ['drill', 'schedule', ...args]);
    expectOneLineError(await schedule('-f', example), 2, /^give --cron EXPR or --every DURATION: when the drills run$/);
    expectOneLineError(
      await schedule('-f', example, '--cron', '0 3 * * TUE', '--every', '1h'),
      2,
      /^give --cron or --every, not both$/,
    );
    expectOneLineError(
      await schedule('-f', example, '--cron', '0 3 * * TUE', '--timezone', 'Mars/Olympus_Mons'),
      2,
      /^--timezone Mars\/Olympus_Mons: not a time zone \(give an IANA name such as Europe\/Berlin or UTC\)$/,
    );
    expectOneLineError(
      await schedule('-f', example, '--every', '1h', '--timezone', 'UTC'),
      2,
      /^--timezone applies to --cron only/,
    );
    expectOneLineError(
      await schedule('-f', example, '--every', 'weekly'),
      2,
      /^--every weekly: give a duration such as 30s, 15m, 6h or 7d$/,
    );
    expectOneLineError(
      await schedule('-f', example, '--every', '1h', '--catchup-window', '5s'),
      2,
      /^--catchup-window 5s: at least 10s/,
    );
    expectOneLineError(
      await schedule('-f', production, '--every', '7d', '--rehearse'),
      2,
      /^--rehearse: .*production\.yaml is not a rehearsal estate \(simulated: false\): drills of a production estate only read/,
    );
    expectOneLineError(
      await schedule('-f', 'no/such/estate.yaml', '--every', '1h'),
      2,
      /^no\/such\/estate\.yaml: cannot read the topology file: no such file$/,
    );
    expectOneLineError(
      await schedule('-f', example, '--cron', 'every tuesday', '--id', 'pchat-dr-test-bad-cron'),
      2,
      /^--cron every tuesday: /,
    );
    expect(await listed(undefined, 'pchat-dr-test-bad-cron')).toBeUndefined();

    for (const args of [
      ['pause', 'no-such-schedule', '--note', 'x'],
      ['resume', 'no-such-schedule'],
      ['trigger', 'no-such-schedule'],
      ['delete', 'no-such-schedule'],
    ]) {
      expectOneLineError(await cli(undefined, ['drill', ...args]), 2, /^no drill schedule with id no-such-schedule$/);
    }
    // A schedule that starts something else is no drill schedule: not listed, not acted on, not taken over.
    const other = `pchat-dr-test-not-a-drill-${Date.now()}`;
    const { client, close } = await connectClient();
    try {
      drillTest.schedules.push(other);
      await client.schedule.create({
        scheduleId: other,
        spec: { intervals: [{ every: '1d' }] },
        action: {
          type: 'startWorkflow',
          workflowType: 'nightlyReport',
          taskQueue: 'pchat-dr-cli-test-unused',
          args: [],
        },
        state: { paused: true },
      });
    } finally {
      await close();
    }
    expectOneLineError(
      await cli(undefined, ['drill', 'pause', other, '--note', 'x']),
      2,
      new RegExp(`^no drill schedule with id ${other} \\(it starts nightlyReport workflows, not drills\\)$`),
    );
    expectOneLineError(
      await schedule('-f', example, '--every', '1h', '--id', other),
      2,
      new RegExp(
        `^--id ${other}: a schedule with this id exists and starts nightlyReport workflows, not drills: choose another --id$`,
      ),
    );
    expect(await listed(undefined, other)).toBeUndefined();

    expectOneLineError(
      await cli(undefined, ['drill', 'history', 'pool with spaces']),
      2,
      /^pool with spaces: give the pool's FQDN/,
    );
    expectOneLineError(
      await cli(undefined, ['drill', 'history', 'pchat.contoso.com', '--limit', '0']),
      2,
      /^--limit 0: give a whole number of drills/,
    );
  });
});

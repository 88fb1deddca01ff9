/**
 * An operator's session with the built CLI: start mirror-failover and follow it to its gate, read the gate with
 * status, answer it (a person who may not, a gate that is not open, then an allowed approval), watch the run to its
 * end, read the report, list the runs; a second incident runbook on the pool is refused; reject and abort end runs
 * with their exit codes; a parent run waiting in a child's decision gate says so, and decide answers the child.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/estate';
import { approve, gateOpen, result, runbookHarness, type RunbookHarness } from '../helpers/runbooks';
import { setUpLogShipping } from '../helpers/story';
import { cli, expectOneLineError, simulatedSecret } from './cli-env';

let harness: RunbookHarness;
afterEach(async () => harness?.close());

const mgcOn = (instance: string) =>
  harness.env.estate
    .snapshot()
    .instances.find((candidate) => candidate.name === instance)!
    .databases.find((database) => database.name === 'mgc')!;

describe('pchat-dr run, status, approve, watch, report, list', () => {
  it('follows mirror-failover to its gate, refuses approvals that do not count, counts an allowed one and reports the run', async () => {
    harness = await runbookHarness({ label: 'cli-mirror' });
    const file = harness.env.topologyFile;
    const pool = harness.env.topology.pool.fqdn;
    const id = `${harness.taskQueue}-mirror`;
    await harness.withWorker(async () => {
      const run = await cli(harness, [
        'run',
        'mirror-failover',
        '-f',
        file,
        '--to',
        'mirror',
        '--as',
        'erin',
        '--reason',
        'patch dc1-sql-a',
        '--id',
        id,
        '--follow',
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`started mirror-failover ${id} on pool ${pool} as erin`);
      // Piped: plain lines, one per step change, then what the run waits for and the commands that answer it.
      expect(run.stdout).not.toContain('\x1b[');
      expect(run.stdout).toMatch(/observed\s+read-mirroring-state on dc1-sql-b: dc1-sql-b: mgc is RESTORING, MIRROR/);
      expect(run.stdout).toMatch(/observed\s+read-mirroring-state#2 on dc1-sql-a: dc1-sql-a: mgc is ONLINE, PRINCIPAL/);
      expect(run.stdout).toContain(
        'Waiting for approval at approve-mirror-failover: Fail mgc over from dc1-sql-a to dc1-sql-b (planned, no data loss)?',
      );
      expect(run.stdout).toContain(`pchat-dr approve ${id} --gate approve-mirror-failover --comment <text>`);
      expect(run.stdout).toContain(`pchat-dr reject ${id} --gate approve-mirror-failover --reason <why>`);
      expect(mgcOn('dc1-sql-a').mirroring?.role).toBe('PRINCIPAL');

      // status -o json: the pending gate, its evidence version and the commands.
      const status = await cli(harness, ['status', id, '-o', 'json']);
      expect(status.code, status.stderr).toBe(0);
      const progress = JSON.parse(status.stdout);
      expect(progress).toMatchObject({
        workflowId: id,
        runbook: 'mirror-failover',
        outcome: 'running',
        phase: 'awaiting-approval',
        initiator: 'erin',
      });
      expect(progress.openGates).toHaveLength(1);
      const gate = progress.openGates[0];
      expect(gate).toMatchObject({ gate: 'approve-mirror-failover', kind: 'approval', required: 1, approvals: [] });
      expect(gate.answerWith).toContain(`pchat-dr approve ${id} --gate approve-mirror-failover --comment <text>`);
      const version: string = gate.evidence.version;
      expect(version).toMatch(/^[0-9a-f]{64}$/);
      const text = await cli(harness, ['status', id]);
      expect(text.stdout).toMatch(/running, phase awaiting-approval/);
      expect(text.stdout).toMatch(/STATUS\s+STEP\s+TARGET\s+STARTED\s+FINISHED\s+SUMMARY/);
      expect(text.stdout).toContain(`evidence version ${version}`);
      expect(text.stdout).toContain('approvals so far: none (1 needed)');

      // One incident runbook per pool: the open one is named, with the command that follows it.
      const second = await cli(harness, ['run', 'failover', '-f', file, '--as', 'carol']);
      expectOneLineError(
        second,
        3,
        new RegExp(`already open on ${pool}: mirror-failover ${id} \\(started .*\\).*pchat-dr watch ${id}$`),
      );

      // Approvals that do not count: the run's own reason, exit 3.
      expectOneLineError(
        await cli(harness, ['approve', id, '--gate', 'approve-mirror-failover', '--as', 'mallory']),
        3,
        /^approval did not count: mallory may not approve approve-mirror-failover \(approvers: alice, bob, carol, dave\)$/,
      );
      expectOneLineError(
        await cli(harness, ['approve', id, '--gate', 'declare-disaster', '--as', 'bob']),
        3,
        /^approval did not count: gate declare-disaster is not open \(open: approve-mirror-failover\)$/,
      );
      expectOneLineError(
        await cli(harness, [
          'approve',
          id,
          '--gate',
          'approve-mirror-failover',
          '--as',
          'bob',
          '--evidence',
          '00000000',
        ]),
        3,
        /the evidence of approve-mirror-failover changed since you looked/,
      );
      expect(mgcOn('dc1-sql-a').mirroring?.role).toBe('PRINCIPAL');

      const approved = await cli(harness, [
        'approve',
        id,
        '--gate',
        'approve-mirror-failover',
        '--as',
        'bob',
        '--comment',
        'maintenance window 42',
        '--evidence',
        version,
      ]);
      expect(approved.code, approved.stderr).toBe(0);
      expect(approved.stdout).toContain('approval counted: approve-mirror-failover approved (1 of 1)');

      const watched = await cli(harness, ['watch', id]);
      expect(watched.code, watched.stderr).toBe(0);
      expect(watched.stdout).toMatch(
        /acted\s+planned-failover on dc1-sql-a: mgc failed over from dc1-sql-a to dc1-sql-b/,
      );
      expect(watched.stdout).toContain(`mirror-failover ${id} ended succeeded`);
      expect(mgcOn('dc1-sql-b')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });

      // The report: steps with their status, the approver with comment and evidence version.
      const report = await cli(harness, ['report', id, '-o', 'md']);
      expect(report.code, report.stderr).toBe(0);
      expect(report.stdout).toContain(`# mirror-failover on ${pool}: succeeded`);
      expect(report.stdout).toContain('| Started |');
      expect(report.stdout).toContain('by erin');
      expect(report.stdout).toContain('| Reason | patch dc1-sql-a |');
      expect(report.stdout).toMatch(
        /\| SET PARTNER FAILOVER of mgc on dc1-sql-a \(`planned-failover`\) \| dc1-sql-a \| acted \|/,
      );
      expect(report.stdout).toContain('### approve-mirror-failover: approved');
      expect(report.stdout).toMatch(new RegExp(`- bob at .*: "maintenance window 42" \\(evidence \`${version}\`\\)`));
      expect(report.stdout).toContain('restarting all Front End servers');
      const out = path.join(harness.env.dir, 'report.json');
      const written = await cli(harness, ['report', id, '-o', 'json', '--out', out]);
      expect(written.stdout).toContain(`written to ${out}`);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({
        workflowId: id,
        outcome: 'succeeded',
        gates: [{ approvals: [{ by: 'bob' }] }],
      });

      // list: the run with its search attributes; never the pool's lock workflow.
      const listed = await eventually(
        async () => {
          const list = await cli(harness, ['list', '--pool', pool, '-o', 'json']);
          const runs = JSON.parse(list.stdout) as { workflowId: string; phase: string }[];
          return runs.find((candidate) => candidate.workflowId === id && candidate.phase === 'done') ? runs : null;
        },
        15_000,
        'the run to be listed as done',
      );
      expect(listed.find((candidate) => candidate.workflowId === id)).toMatchObject({
        runbook: 'mirror-failover',
        pool,
        status: 'completed',
        phase: 'done',
        awaitingGate: null,
      });
      expect(listed.some((candidate) => candidate.workflowId.startsWith('pchat-dr-lock:'))).toBe(false);
      const table = await cli(harness, ['list', '--pool', pool]);
      expect(table.stdout).toMatch(/ID\s+RUNBOOK\s+POOL\s+STATUS\s+PHASE\s+AWAITING\s+STARTED/);
      expect(table.stdout).toMatch(
        new RegExp(`${id}\\s+mirror-failover\\s+${pool.replace(/\./g, '\\.')}\\s+completed\\s+done`),
      );
      expect((await cli(harness, ['list', '--pool', pool, '--open'])).stdout).toContain(`no open runs on ${pool}`);
      for (const result of [run, status, text, report, watched])
        expect(result.stdout).not.toContain(simulatedSecret(harness));
    });
  });

  it("refuses a run whose file is not the worker's, runs on the worker's when asked, and approves the evidence it shows", async () => {
    harness = await runbookHarness({ label: 'cli-estate' });
    const file = harness.env.topologyFile;
    const pool = harness.env.topology.pool.fqdn;
    // The same pool, one comment more: another file as far as the worker can tell (docs/runbooks.md rule 8).
    const other = path.join(harness.env.dir, 'my-copy.yaml');
    writeFileSync(other, `${readFileSync(file, 'utf8')}# edited on my laptop\n`);
    const id = `${harness.taskQueue}-estate`;
    await harness.withWorker(async () => {
      const refused = await cli(harness, ['run', 'mirror-failover', '-f', other, '--as', 'erin', '--id', `${id}-1`]);
      expectOneLineError(
        refused,
        3,
        new RegExp(
          `^run ${id}-1 refused: the worker's estate of ${pool} differs from the caller's: the worker's ${file} has sha256 [0-9a-f]{64}, the caller's file [0-9a-f]{64}.*--use-worker-estate\\)$`,
        ),
      );
      expect(mgcOn('dc1-sql-a').mirroring?.role).toBe('PRINCIPAL');

      const started = await cli(harness, [
        'run',
        'mirror-failover',
        '-f',
        other,
        '--as',
        'erin',
        '--id',
        id,
        '--use-worker-estate',
      ]);
      expect(started.code, started.stderr).toBe(0);
      const handle = harness.client.workflow.getHandle(id);
      const gate = await gateOpen(handle, 'approve-mirror-failover');

      // No --evidence: the approval names the version the gate shows, and says what it approved.
      const approved = await cli(harness, ['approve', id, '--gate', 'approve-mirror-failover', '--as', 'bob']);
      expect(approved.code, approved.stderr).toBe(0);
      expect(approved.stdout).toContain('approval counted: approve-mirror-failover approved (1 of 1)');
      expect(approved.stdout).toContain(`approved evidence version ${gate.evidence!.version} (taken `);
      expect(approved.stdout).toContain('dc1-sql-a: mgc ONLINE (PRINCIPAL');

      await result(handle);
      const report = JSON.parse((await cli(harness, ['report', id, '-o', 'json'])).stdout);
      expect(report.outcome, report.outcomeReason).toBe('succeeded');
      expect(report.estate).toMatchObject({ file, digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(report.estate.callerDigest).not.toBe(report.estate.digest);
      expect(report.gates[0].approvals[0]).toMatchObject({ by: 'bob', evidenceVersion: gate.evidence!.version });
      expect(report.notes.join('\n')).toContain("run on the worker's estate");
      expect(mgcOn('dc1-sql-b').mirroring?.role).toBe('PRINCIPAL');
    });
  });

  it('ends a run on a rejection (exit 3) and on an abort (exit 1)', async () => {
    harness = await runbookHarness({ label: 'cli-reject' });
    const file = harness.env.topologyFile;
    await harness.withWorker(async () => {
      const rejected = `${harness.taskQueue}-rejected`;
      expect((await cli(harness, ['run', 'mirror-failover', '-f', file, '--id', rejected, '--as', 'erin'])).code).toBe(
        0,
      );
      await gateOpen(harness.client.workflow.getHandle(rejected), 'approve-mirror-failover');
      expectOneLineError(
        await cli(harness, [
          'reject',
          rejected,
          '--gate',
          'approve-mirror-failover',
          '--reason',
          'not now',
          '--as',
          'mallory',
        ]),
        3,
        /^rejection did not count: mallory may not answer/,
      );
      const rejection = await cli(harness, [
        'reject',
        rejected,
        '--gate',
        'approve-mirror-failover',
        '--reason',
        'not in this window',
        '--as',
        'alice',
      ]);
      expect(rejection.stdout).toContain('rejection counted: approve-mirror-failover rejected by alice: the run ends');
      const afterRejection = await cli(harness, ['watch', rejected]);
      expect(afterRejection.code).toBe(3);
      expect(afterRejection.stdout).toContain(
        'ended rejected: approve-mirror-failover rejected by alice: not in this window',
      );
      expectOneLineError(
        await cli(harness, ['approve', rejected, '--gate', 'approve-mirror-failover', '--as', 'bob']),
        3,
        /^approval did not count: run .* has already ended \(rejected\)$/,
      );

      const aborted = `${harness.taskQueue}-aborted`;
      expect((await cli(harness, ['run', 'mirror-failover', '-f', file, '--id', aborted, '--as', 'erin'])).code).toBe(
        0,
      );
      await gateOpen(harness.client.workflow.getHandle(aborted), 'approve-mirror-failover');
      expectOneLineError(
        await cli(harness, ['abort', aborted, '--reason', 'wrong pool', '--as', 'mallory']),
        3,
        /^abort did not count: mallory may not abort runs/,
      );
      const abort = await cli(harness, ['abort', aborted, '--reason', 'wrong window', '--as', 'erin']);
      expect(abort.code, abort.stderr).toBe(0);
      expect(abort.stdout).toContain('abort counted: abort accepted');
      const afterAbort = await cli(harness, ['watch', aborted]);
      expect(afterAbort.code).toBe(1);
      expect(afterAbort.stdout).toMatch(/ended aborted/);
      expect(mgcOn('dc1-sql-a').mirroring?.role).toBe('PRINCIPAL');
    });
  });

  it('says when a parent waits in a child run, and decide answers the child', { timeout: 120_000 }, async () => {
    harness = await runbookHarness({ label: 'cli-child' });
    const file = harness.env.topologyFile;
    await harness.withWorker(async () => {
      await setUpLogShipping(harness);
      harness.env.estate.failNext('dc1-sql-a', 'SET PARTNER FAILOVER', {
        number: 50000,
        message: 'injected by the test',
      });
      const id = `${harness.taskQueue}-mirror-ls`;
      const run = await cli(harness, [
        'run',
        'setup-mirror-log-shipping',
        '-f',
        file,
        '--id',
        id,
        '--as',
        'erin',
        '--follow',
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`pchat-dr approve ${id} --gate approve-mirror-log-shipping --comment <text>`);
      await approve(harness.client.workflow.getHandle(id), 'approve-mirror-log-shipping', 'carol');

      const child = `${id}/mirror-failover-1`;
      const following = await cli(harness, ['watch', id]);
      expect(following.code, following.stderr).toBe(0);
      expect(following.stdout).toContain(
        `Waiting in child run ${child} (mirror-failover, phase awaiting-decision); answer the child:`,
      );
      expect(following.stdout).toContain('Waiting for a decision at decision:planned-failover');
      expect(following.stdout).toContain('injected by the test');
      expect(following.stdout).toContain(`pchat-dr decide ${child} retry --reason <why>`);
      const status = JSON.parse((await cli(harness, ['status', id, '-o', 'json'])).stdout);
      expect(status.waitingIn).toMatchObject([
        {
          workflowId: child,
          runbook: 'mirror-failover',
          openGates: [{ id: 'decision:planned-failover', choices: ['retry', 'abort'] }],
        },
      ]);

      expectOneLineError(
        await cli(harness, ['decide', child, 'skip', '--reason', 'try it', '--as', 'alice']),
        3,
        /^decision did not count: step planned-failover cannot be skipped: retry or abort$/,
      );
      expectOneLineError(await cli(harness, ['decide', child, 'later', '--reason', 'x']), 2, /unknown choice/);
      const decided = await cli(harness, ['decide', child, 'retry', '--reason', 'the fault is gone', '--as', 'alice']);
      expect(decided.code, decided.stderr).toBe(0);
      expect(decided.stdout).toContain('decision counted: retry decided for planned-failover');
      const end = await cli(harness, ['watch', id]);
      expect(end.code, end.stdout).toBe(0);
      expect(end.stdout).toContain(`setup-mirror-log-shipping ${id} ended succeeded`);
      const report = (await cli(harness, ['report', child])).stdout;
      expect(report).toMatch(/\| planned-failover \| retry \| alice \| .* \| the fault is gone \|/);
      expect((await cli(harness, ['report', id])).stdout).toContain(`\`${child}\` (mirror-failover): succeeded`);
    });
  });
});

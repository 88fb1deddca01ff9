/**
 * The demo's story (`pchat-dr demo`): the real runbooks run as the on-call person, in the order a Persistent Chat
 * pool lives them — log shipping on the primary and on the mirror, a planned mirror failover and back, DC1 lost while
 * chat keeps posting, the failover to DC2 (its gates answered by named approvers, or by you with --interactive), the
 * messages counted against the report's recovery point, DC1 rebuilt, the failback. Each step is printed as it
 * happens (client/follow.ts); each run's Markdown report is written to the demo's folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunbookReport } from '../../contracts/run-record';
import type { RunbookName } from '../../contracts/runbooks';
import { formatDuration, formatSeconds } from '../../topology/durations';
import { followRun } from '../follow';
import { reportMarkdown, rpoWindow, stampOf } from '../report-view';
import { startRunbook } from '../runs';
import { signNow } from '../signing';
import { childWaits, findRun, progressOfRun } from '../run-access';
import { answerAsApprovers, waitForPeople, type GateTarget } from './gate-answers';
import { DemoFailure } from './failure';
import { ON_CALL, DEMO_TASK_QUEUE, type DemoStage } from './stage';

/** A run of the story, as the summary shows it. */
export interface StoryRun {
  step: number;
  title: string;
  report: RunbookReport;
  /** Acknowledged chat messages missing, after the run, from the database that serves chat (and not missing before). */
  lost: number;
  servedBy: string;
  reportFile: string;
}

export class DemoStory {
  readonly runs: StoryRun[] = [];
  private step = 0;
  private dc1LostAt?: Date;
  private acknowledgedAtLoss = 0;

  constructor(private readonly stage: DemoStage) {}

  /** The story, step by step; each step says what it does and how long it took. */
  async tell(): Promise<void> {
    // [title, body, part of the short story (--short)]
    const story: [string, () => Promise<void>, boolean][] = [
      ['Set up log shipping: primary → backup (setup-log-shipping)', () => this.setUpLogShipping(), false],
      ['Set up log shipping on the mirror (setup-mirror-log-shipping)', () => this.setUpMirrorLogShipping(), false],
      [
        'Planned mirror failover to the mirror (mirror-failover --to mirror)',
        () => this.mirrorFailover('mirror'),
        true,
      ],
      [
        'Planned mirror failover back to the primary (mirror-failover --to primary)',
        () => this.mirrorFailover('primary'),
        true,
      ],
      ['DC1 lost: both DC1 instances stop, chat keeps posting', () => this.loseDc1(), false],
      ['Fail over to DC2 (failover --mode disaster)', () => this.failOverToDc2(), false],
      ['Verify the messages: acknowledged vs. what DC2 holds', () => this.verifyMessages(), false],
      ['DC1 rebuilt (both instances back, empty)', () => this.rebuildDc1(), false],
      ['Fail back to DC1 (failback)', () => this.failBack(), false],
    ];
    const steps = story.filter(([, , short]) => short || !this.stage.options.short);
    for (const [index, [title, body]] of steps.entries()) {
      this.step = index + 1;
      this.stage.where = `step ${this.step} (${title})`;
      const started = Date.now();
      this.stage.say();
      this.stage.say(`[${this.step}/${steps.length}] ${title}`);
      await body();
      this.stage.say(`  done in ${formatDuration(Date.now() - started)}`);
    }
  }

  private async setUpLogShipping(): Promise<void> {
    await this.runRunbook('setup-log-shipping', {}, 'demo: ship mgc from the primary to the backup datacenter', true);
  }

  private async setUpMirrorLogShipping(): Promise<void> {
    await this.runRunbook(
      'setup-mirror-log-shipping',
      {},
      'demo: log shipping must survive a mirroring failover',
      true,
    );
  }

  private async mirrorFailover(to: 'mirror' | 'primary'): Promise<void> {
    await this.runRunbook('mirror-failover', { to }, `demo: planned switch of mgc to the ${to}`, true);
  }

  private async loseDc1(): Promise<void> {
    const { estate } = this.stage.cast;
    const roles = this.stage.cast.topology.databases.mgc;
    const dc1 = [roles.primary, roles.mirror];
    const before = estate.chat.snapshot();
    this.stage.say(`  chat so far: ${before.acknowledged} messages acknowledged, ${before.failed} refused`);
    await this.stage.guard(Promise.all(dc1.map((name) => estate.stopInstance(name))));
    this.dc1LostAt = new Date();
    this.acknowledgedAtLoss = estate.chat.snapshot().acknowledged;
    this.stage.say(
      `  ${dc1.join(' and ')} stopped at ${stampOf(this.dc1LostAt.toISOString())}: ${this.acknowledgedAtLoss} messages had been acknowledged`,
    );
    await this.stage.sleep(3_000);
    const after = estate.chat.snapshot();
    this.stage.say(
      `  chat keeps trying: ${after.failed - before.failed} posts refused in 3 s (not acknowledged, so not lost)${after.lastError ? `; last error: ${after.lastError}` : ''}`,
    );
  }

  private async failOverToDc2(): Promise<void> {
    await this.runRunbook(
      'failover',
      { mode: 'disaster' },
      'demo: DC1 power loss, both SQL Server instances down',
      false,
    );
  }

  /** Acknowledged chat messages vs. what DC2 holds: what is missing must all be newer than the report's recovery point. */
  private async verifyMessages(): Promise<void> {
    const { estate } = this.stage.cast;
    const roles = this.stage.cast.topology.databases.mgc;
    const failover = this.runs.find((run) => run.report.runbook === 'failover')!.report;
    const lost = estate.lostMessages(roles.backup);
    const posted = new Map<string, Date>();
    for (const name of [roles.primary, roles.mirror]) {
      for (const message of estate.instance(name).database(roles.name ?? 'mgc')?.messages ?? [])
        if (!posted.has(message.clientId)) posted.set(message.clientId, message.postedAt);
    }
    const rpo = failover.measures.rpo;
    const point = rpo?.recoveryPoint ? Date.parse(rpo.recoveryPoint) : null;
    this.stage.say(
      `  ${this.acknowledgedAtLoss} messages were acknowledged to chat clients before DC1 was lost; ${roles.backup} holds ${this.acknowledgedAtLoss - lost.length} of them; ${lost.length} lost`,
    );
    if (rpo) {
      this.stage.say(
        `  the report: RPO ${rpoWindow(rpo)} (objective ${formatSeconds(rpo.objectiveSeconds)}), recovery point ${stampOf(rpo.recoveryPoint)} (the newest log backup applied), ${rpo.logsNotApplied} log backup(s) not applied`,
      );
      if (rpo.upperBoundBasis) this.stage.say(`    upper bound: ${rpo.upperBoundBasis}`);
      this.stage.say(`    ${rpo.unshippedNote}`);
    }
    const times = lost
      .map((id) => posted.get(id)?.getTime())
      .filter((time): time is number => time !== undefined)
      .sort((a, b) => a - b);
    if (times.length > 0)
      this.stage.say(
        `  the lost messages were posted from ${stampOf(new Date(times[0]).toISOString())} to ${stampOf(new Date(times[times.length - 1]).toISOString())}, DC1 was lost at ${stampOf(this.dc1LostAt?.toISOString())}`,
      );
    if (point !== null) {
      // Backup times have whole seconds; a message posted in the same millisecond as the backup may go either way.
      const older = lost.filter((id) => (posted.get(id)?.getTime() ?? Infinity) < point - 5);
      if (older.length > 0)
        throw new DemoFailure(
          `${older.length} acknowledged message(s) posted before the recovery point ${stampOf(rpo!.recoveryPoint)} are missing on ${roles.backup}`,
        );
      this.stage.say(
        `  verified: every lost message was posted after the recovery point: the loss is the unshipped tail the RPO describes`,
      );
    } else if (lost.length > 0) {
      throw new DemoFailure(
        `${lost.length} messages are missing on ${roles.backup} and the report names no recovery point to explain them`,
      );
    }
  }

  private async rebuildDc1(): Promise<void> {
    const { estate } = this.stage.cast;
    const roles = this.stage.cast.topology.databases.mgc;
    for (const name of [roles.primary, roles.mirror]) await this.stage.guard(estate.rebuildInstance(name));
    this.stage.say(
      `  ${roles.primary} and ${roles.mirror} answer again, empty (a fresh ${roles.name ?? 'mgc'} on ${roles.primary}, as Topology Builder leaves it); chat runs on DC2 meanwhile`,
    );
  }

  private async failBack(): Promise<void> {
    await this.runRunbook('failback', {}, 'demo: DC1 is rebuilt, back to the primary datacenter', true);
  }

  // ------------------------------------------------------------------------------------------ a runbook of the story

  /** Starts a runbook as the on-call person, follows it through its gates, and counts the messages it lost. */
  private async runRunbook(
    runbook: RunbookName,
    options: object,
    reason: string,
    planned: boolean,
  ): Promise<RunbookReport> {
    const { client } = this.stage.cast;
    const servedBefore = this.servingInstance();
    const missingBefore = new Set(this.missingOn(servedBefore));
    const start = await this.stage.guard(
      startRunbook(client, {
        runbook,
        estate: this.stage.cast.loaded,
        options,
        initiator: ON_CALL,
        reason,
        taskQueue: DEMO_TASK_QUEUE,
        // erin signs the start with her key.
        sign: (statement) => signNow(statement, this.stage.cast.signers.keys[ON_CALL]),
      }),
    );
    if (!start.started)
      throw new DemoFailure(
        `another incident runbook holds the pool: ${start.open.runbook ?? 'runbook'} ${start.open.workflowId}`,
      );
    const { workflowId } = start;
    this.stage.say(`  started ${runbook} ${workflowId} as ${ON_CALL}`);
    await this.followThroughGates(workflowId);

    const report = (await this.stage.guard(client.workflow.getHandle(workflowId).result())) as RunbookReport;
    const servedBy = this.servingInstance();
    const lost = this.missingOn(servedBy).filter((id) => !missingBefore.has(id)).length;
    const reports = path.join(this.stage.dir, 'reports');
    mkdirSync(reports, { recursive: true });
    const reportFile = path.join(reports, `${workflowId.replace(/[^\w.-]+/g, '_')}.md`);
    writeFileSync(reportFile, reportMarkdown(report));
    this.runs.push({ step: this.step, title: this.stage.where, report, lost, servedBy, reportFile });
    if (report.outcome !== 'succeeded')
      throw new DemoFailure(
        `${runbook} ${workflowId} ended ${report.outcome}${report.outcomeReason ? `: ${report.outcomeReason}` : ''}`,
      );
    this.stage.say(`  messages lost: ${lost} (acknowledged messages missing on ${servedBy}, which serves chat now)`);
    if (planned && lost > 0)
      throw new DemoFailure(
        `${lost} acknowledged message(s) are missing on ${servedBy} after ${runbook}, which must lose none`,
      );
    return report;
  }

  /**
   * Follows the run (client/follow.ts) until it ends; each time it waits on a gate, the gate is answered (by the
   * named approvers, or by you with --interactive) and following goes on. followRun prints what changed since it
   * started; across its calls the lines already shown are not shown again.
   */
  private async followThroughGates(workflowId: string): Promise<void> {
    const { client } = this.stage.cast;
    const shown = new Set<string>();
    const write = (text: string) => {
      if (shown.has(text)) return;
      shown.add(text);
      this.stage.print(text.replace(/^(?=.)/gm, '  '));
    };
    for (;;) {
      await this.stage.guard(followRun(client, workflowId, { tty: false, json: false, write }));
      const progress = await this.stage.guard(progressOfRun(await findRun(client, workflowId)));
      if (progress.outcome !== 'running') return;
      const waits = await this.stage.guard(childWaits(client, progress));
      const targets: GateTarget[] = [
        ...progress.openGates.map((gate) => ({ workflowId, gate })),
        ...waits.flatMap((wait) => wait.openGates.map((gate) => ({ workflowId: wait.workflowId, gate }))),
      ];
      if (targets.length === 0) continue;
      if (this.stage.options.interactive) await waitForPeople(this.stage, targets, progress);
      else await answerAsApprovers(this.stage, targets);
    }
  }

  // ------------------------------------------------------------------------------------------ the estate as chat sees it

  /** The instance whose mgc serves chat now: the backup when the pool is failed over, else the principal in DC1. */
  servingInstance(): string {
    const roles = this.stage.cast.topology.databases.mgc;
    const snapshot = this.stage.cast.estate.snapshot();
    if (snapshot.pool.poolState === 'FailedOver') return roles.backup;
    const principal = [roles.primary, roles.mirror].find((name) => {
      const database = snapshot.instances
        .find((instance) => instance.name === name)
        ?.databases.find((candidate) => candidate.name === (roles.name ?? 'mgc'));
      return database?.state === 'ONLINE' && (database.mirroring?.role ?? 'PRINCIPAL') === 'PRINCIPAL';
    });
    return principal ?? roles.primary;
  }

  /** Acknowledged messages the instance's mgc does not hold (all of them when it holds no mgc). */
  missingOn(instance: string): string[] {
    try {
      return this.stage.cast.estate.lostMessages(instance);
    } catch {
      return this.stage.cast.estate.chat.snapshot().acknowledgedIds;
    }
  }
}

/**
 * The demo (`pchat-dr demo`, `npm run demo`): the whole DR story of a Persistent Chat pool, on an embedded default.
 * It starts its own Temporal dev server (with the Web UI), the simulated estate of examples/simulated.yaml in a
 * folder of its own on free ports, chat load and a worker in this process, then tells the story by running the real
 * runbooks as the on-call person: log shipping on the primary and on the mirror, a planned mirror failover and back,
 * DC1 lost while chat keeps posting, the failover to DC2 (its gates answered by named approvers, or by you with
 * --interactive), the messages counted against the report's recovery point, DC1 rebuilt, the failback. Each step
 * is printed as it happens (client/follow.ts); the end is a summary per run: RTO, RPO, service interruption,
 * messages lost, workflow ids, and each run's Markdown report in the state folder (client/report-view.ts).
 *
 * Everything it starts it stops again: after the story (unless --keep), on a failure (one line naming the step and
 * why, exit 1) and on Ctrl+C (exit 130; with --keep, once the story is done, Ctrl+C is the normal end: exit 0).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { startDevServer, type DevServer } from '../scripts/dev-server';
import { PROJECT_ROOT } from '../runtime/package';
import { ensureTemporalCli } from '../scripts/temporal-cli';
import { serveControl } from '../simulator/control';
import { SimulatedEstate } from '../simulator/estate';
import { writeSimulatedTopology } from '../simulator/example-topology';
import { formatDuration } from '../topology/durations';
import { loadTopology } from '../topology/load';
import type { Topology } from '../topology/schema';
import { runWorker } from '../worker/main';
import { approveUpdate } from '../workflows/messages';
import type { PendingGate, Progress, RunbookName, RunbookReport } from '../workflows/report';
import { followRun } from './follow';
import { CliError, EXIT, type ExitCode } from './output';
import { reportMarkdown, stampOf } from './report-view';
import { startRunbook } from './runs';
import { childWaits, findRun, firstLine, progressOfRun, temporalClient } from './run-access';

/** The demo's worker and runs use their own task queue on the demo's own dev server. */
export const DEMO_TASK_QUEUE = 'pchat-dr-demo';
/** The on-call person: starts every runbook and, not being an approver, approves none of them. */
export const ON_CALL = 'erin';
export const DEFAULT_DEMO_STATE = path.join(PROJECT_ROOT, '.tmp', 'demo');
export const DEFAULT_CHAT_RATE = 5;

/** Who answers which gate when the demo answers (examples/simulated.yaml: dba = alice, bob; incident-commanders = carol, dave). */
const APPROVERS: Record<string, string[]> = {
  'declare-disaster': ['carol', 'dave'],
  'override-split-brain-guard': ['carol', 'dave'],
  'approve-switchover': ['carol'],
  'accept-data-loss': ['carol', 'alice'],
  'approve-failback': ['carol'],
};
const DEFAULT_APPROVERS = ['alice', 'bob', 'carol', 'dave'];
const COMMENTS: Record<string, string> = {
  'declare-disaster': 'DC1 is lost: both of its SQL Server instances are down',
  'approve-failback': 'DC1 is rebuilt; maintenance window agreed',
  'approve-mirror-failover': 'planned switch between the mirroring partners',
};
const DEFAULT_COMMENT = 'evidence reviewed';
/** Decisions (a step that failed for good) may be taken by the dba group. */
const DECISION_MAKER = 'alice';
/** Marks a state folder as the demo's, so a later demo may empty it; holds the pid of the demo using it. */
const PID_FILE = 'demo.pid';

export interface DemoOptions {
  /** The demo's folder: topology copy, simulator state, logs, reports. Emptied first. */
  stateDir: string;
  /** Gates are answered by you, from another terminal, instead of by the demo. */
  interactive: boolean;
  /** After the story, keep everything running until the signal aborts. */
  keep: boolean;
  /** Chat messages per second. */
  chatRate: number;
  /** Ctrl+C: aborting it stops the demo (everything it started is stopped). */
  signal: AbortSignal;
  write?: (text: string) => void;
}

/** A story step that went wrong: the demo ends with this reason, naming the step. */
export class DemoFailure extends Error {}

interface StoryRun {
  step: number;
  title: string;
  report: RunbookReport;
  /** Acknowledged chat messages missing, after the run, from the database that serves chat (and not missing before). */
  lost: number;
  servedBy: string;
  reportFile: string;
}

interface GateTarget {
  workflowId: string;
  gate: PendingGate;
}

export class Demo {
  private readonly write: (text: string) => void;
  private readonly cleanups: { what: string; stop: () => Promise<void> }[] = [];
  private readonly pending: Promise<unknown>[] = [];
  private readonly runs: StoryRun[] = [];
  private stage = 'the start';
  private step = 0;
  private keeping = false;
  private workerFailure: Promise<never> = new Promise<never>(() => {});
  private server?: DevServer;
  private estate?: SimulatedEstate;
  private client?: Client;
  private connection?: Connection;
  private topologyFile = '';
  private topology?: Topology;
  private dc1LostAt?: Date;
  private acknowledgedAtLoss = 0;

  constructor(private readonly options: DemoOptions) {
    this.write = options.write ?? ((text) => process.stdout.write(text));
  }

  private say(line = ''): void {
    this.write(`${line}\n`);
  }

  /** The whole demo: start, story, summary, (--keep) wait; always stops what it started. */
  async run(): Promise<ExitCode> {
    const started = Date.now();
    let code: ExitCode = EXIT.ok;
    prepareStateDir(path.resolve(this.options.stateDir));
    try {
      await this.startEverything();
      // Ctrl+C cancels the story's calls to Temporal too: none may still be retrying once the connection is closed.
      await this.connection!.withAbortSignal(this.options.signal, () => this.story());
      this.summary(Date.now() - started);
      if (this.options.keep) {
        this.keeping = true;
        this.printKeepInstructions();
        await this.guard(new Promise<never>(() => {}));
      }
    } catch (error) {
      if (!this.options.signal.aborted) {
        const reason = error instanceof DemoFailure ? error.message : firstLine(error);
        await this.stopEverything();
        throw new CliError(`demo failed at ${this.stage}: ${reason}`, EXIT.failed);
      }
      // Ctrl+C: during the story an interruption; once the story is done (--keep), the normal end.
      code = this.keeping ? EXIT.ok : EXIT.interrupted;
    } finally {
      await this.stopEverything();
    }
    this.say('Stopped the worker, the simulated estate and the Temporal dev server.');
    return code;
  }

  /** A second Ctrl+C: no waiting for a clean stop; at least leave no dev server behind. */
  kill(): void {
    this.server?.process.kill('SIGKILL');
  }

  // ------------------------------------------------------------------------------------------ waiting, interruptibly

  /** `work`, unless Ctrl+C comes first or the worker dies. */
  private guard<T>(work: Promise<T>): Promise<T> {
    const { signal } = this.options;
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      const onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      Promise.race([work, this.workerFailure])
        .then(resolve, reject)
        .finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private sleep(ms: number): Promise<void> {
    return this.guard(new Promise<void>((resolve) => setTimeout(resolve, ms)));
  }

  /** Something that runs until stopped: stopped at the end even when Ctrl+C came while it was starting. */
  private own<T>(what: string, starting: Promise<T>, stop: (value: T) => Promise<void>): Promise<T> {
    const registered = starting.then((value) => {
      this.cleanups.push({ what, stop: () => stop(value) });
      return value;
    });
    this.pending.push(registered.catch(() => undefined));
    return this.guard(registered);
  }

  // ------------------------------------------------------------------------------------------ start and stop

  private async startEverything(): Promise<void> {
    const dir = path.resolve(this.options.stateDir);

    this.say('pchat-dr demo: the DR story of a Persistent Chat pool, on a simulated estate');
    this.stage = 'the start (the Temporal CLI)';
    const cli = await this.guard(ensureTemporalCli((line) => this.say(line)));
    this.say(`  Temporal CLI         ${cli}`);

    this.stage = 'the start (the Temporal dev server)';
    const server = await this.own(
      'the Temporal dev server',
      startDevServer({ cli, ui: true, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log') }),
      (started) => started.stop(),
    );
    this.server = server;
    this.say(`  Temporal dev server  ${server.address} (log ${path.join(dir, 'temporal.log')})`);
    this.say(`  Temporal Web UI      ${server.uiUrl}`);
    writeFileSync(
      path.join(dir, 'temporal.toml'),
      `# The demo's Temporal dev server (pchat-dr demo)\n[profile.default]\naddress = "${server.address}"\nnamespace = "default"\n`,
    );

    this.stage = 'the start (the simulated estate)';
    this.topologyFile = await writeSimulatedTopology(dir);
    const { topology } = loadTopology(this.topologyFile);
    this.topology = topology;
    const stateDir = path.join(dir, '.sim');
    const estate = await this.own(
      'the simulated estate',
      SimulatedEstate.start({ topology, topologyFile: this.topologyFile, stateDir, fresh: true }),
      (started) => started.close(),
    );
    this.estate = estate;
    await this.own('the simulator control API', serveControl(estate, stateDir), (control) => control.close());
    const roles = topology.databases.mgc;
    const roleOf = (name: string) =>
      Object.entries(roles).find(([role, instance]) => role !== 'name' && instance === name)?.[0] ?? '-';
    this.say(`  simulated estate     pool ${topology.pool.fqdn}, topology ${this.topologyFile}`);
    for (const instance of topology.instances)
      this.say(`    ${instance.name.padEnd(10)} ${instance.host}:${instance.port}  ${roleOf(instance.name)}`);

    this.stage = 'the start (the worker)';
    const stop = new AbortController();
    let ready: () => void = () => {};
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_')));
    const running = runWorker({
      ownProcess: false,
      stop: stop.signal,
      taskQueue: DEMO_TASK_QUEUE,
      metrics: 'off',
      logLevel: 'info',
      shutdownGrace: '3s',
      env: {
        ...env,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_CONFIG_FILE: path.join(dir, 'temporal.toml'),
      },
      logDestination: pino.destination({ dest: path.join(dir, 'worker.log'), sync: true }),
      onReady: () => ready(),
    });
    this.workerFailure = running.then(
      () => Promise.reject(new Error('the worker stopped')),
      (error: unknown) =>
        Promise.reject(new Error(`the worker failed: ${firstLine(error)} (see ${path.join(dir, 'worker.log')})`)),
    );
    this.workerFailure.catch(() => {});
    this.cleanups.push({
      what: 'the worker',
      stop: async () => {
        stop.abort();
        await running.catch(() => undefined);
      },
    });
    await this.guard(isReady);
    this.say(
      `  worker               in this process, task queue ${DEMO_TASK_QUEUE} (log ${path.join(dir, 'worker.log')})`,
    );

    const temporal = temporalClient();
    const connection = await this.own(
      'the Temporal client',
      temporal.Connection.connect({ address: server.address }),
      (open: Connection) => open.close(),
    );
    this.connection = connection;
    this.client = new temporal.Client({ connection, namespace: 'default' });

    estate.chat.start(this.options.chatRate);
    this.say(
      `  chat load            ${this.options.chatRate} messages/s through the active chat servers, for the whole story`,
    );
    this.say(
      `  people               ${ON_CALL} is on call and starts every runbook; approvers: alice, bob (dba), carol, dave (incident commanders)`,
    );
    this.say(
      `  gates                ${this.options.interactive ? 'answered by you, from another terminal (--interactive): the demo prints the commands' : 'answered at once by the demo, as the named approvers'}`,
    );
  }

  /** Stops what was started, newest first: the worker before the estate (running steps finish), the server last. */
  private async stopEverything(): Promise<void> {
    await withTimeout(Promise.all(this.pending), 60_000);
    for (const { stop } of this.cleanups.reverse()) {
      await withTimeout(
        stop().catch(() => undefined),
        30_000,
      );
    }
    this.cleanups.length = 0;
    const pidFile = path.join(path.resolve(this.options.stateDir), PID_FILE);
    if (existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(process.pid)) writeFileSync(pidFile, '');
  }

  // ------------------------------------------------------------------------------------------ the story

  private async story(): Promise<void> {
    const steps: [string, () => Promise<void>][] = [
      ['Set up log shipping: primary → backup (setup-log-shipping)', () => this.setUpLogShipping()],
      ['Set up log shipping on the mirror (setup-mirror-log-shipping)', () => this.setUpMirrorLogShipping()],
      ['Planned mirror failover to the mirror (mirror-failover --to mirror)', () => this.mirrorFailover('mirror')],
      [
        'Planned mirror failover back to the primary (mirror-failover --to primary)',
        () => this.mirrorFailover('primary'),
      ],
      ['DC1 lost: both DC1 instances stop, chat keeps posting', () => this.loseDc1()],
      ['Fail over to DC2 (failover --mode disaster)', () => this.failOverToDc2()],
      ['Verify the messages: acknowledged vs. what DC2 holds', () => this.verifyMessages()],
      ['DC1 rebuilt (both instances back, empty)', () => this.rebuildDc1()],
      ['Fail back to DC1 (failback)', () => this.failBack()],
    ];
    for (const [index, [title, body]] of steps.entries()) {
      this.step = index + 1;
      this.stage = `step ${this.step} (${title})`;
      const started = Date.now();
      this.say();
      this.say(`[${this.step}/${steps.length}] ${title}`);
      await body();
      this.say(`  done in ${formatDuration(Date.now() - started)}`);
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
    const estate = this.estate!;
    const roles = this.topology!.databases.mgc;
    const dc1 = [roles.primary, roles.mirror];
    const before = estate.chat.snapshot();
    this.say(`  chat so far: ${before.acknowledged} messages acknowledged, ${before.failed} refused`);
    await this.guard(Promise.all(dc1.map((name) => estate.stopInstance(name))));
    this.dc1LostAt = new Date();
    this.acknowledgedAtLoss = estate.chat.snapshot().acknowledged;
    this.say(
      `  ${dc1.join(' and ')} stopped at ${stampOf(this.dc1LostAt.toISOString())}: ${this.acknowledgedAtLoss} messages had been acknowledged`,
    );
    await this.sleep(3_000);
    const after = estate.chat.snapshot();
    this.say(
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
    const estate = this.estate!;
    const roles = this.topology!.databases.mgc;
    const failover = this.runs.find((run) => run.report.runbook === 'failover')!.report;
    const lost = estate.lostMessages(roles.backup);
    const posted = new Map<string, Date>();
    for (const name of [roles.primary, roles.mirror]) {
      for (const message of estate.instance(name).database(roles.name ?? 'mgc')?.messages ?? [])
        if (!posted.has(message.clientId)) posted.set(message.clientId, message.postedAt);
    }
    const rpo = failover.measures.rpo;
    const point = rpo?.recoveryPoint ? Date.parse(rpo.recoveryPoint) : null;
    this.say(
      `  ${this.acknowledgedAtLoss} messages were acknowledged to chat clients before DC1 was lost; ${roles.backup} holds ${this.acknowledgedAtLoss - lost.length} of them; ${lost.length} lost`,
    );
    if (rpo) {
      this.say(
        `  the report: RPO ${seconds(rpo.seconds)} (objective ${seconds(rpo.objectiveSeconds)}), recovery point ${stampOf(rpo.recoveryPoint)} (the newest log backup applied), ${rpo.logsNotApplied} log backup(s) not applied`,
      );
      this.say(`    ${rpo.unshippedNote}`);
    }
    const times = lost
      .map((id) => posted.get(id)?.getTime())
      .filter((time): time is number => time !== undefined)
      .sort((a, b) => a - b);
    if (times.length > 0)
      this.say(
        `  the lost messages were posted from ${stampOf(new Date(times[0]).toISOString())} to ${stampOf(new Date(times[times.length - 1]).toISOString())}, DC1 was lost at ${stampOf(this.dc1LostAt?.toISOString())}`,
      );
    if (point !== null) {
      // Backup times have whole seconds; a message posted in the same millisecond as the backup may go either way.
      const older = lost.filter((id) => (posted.get(id)?.getTime() ?? Infinity) < point - 5);
      if (older.length > 0)
        throw new DemoFailure(
          `${older.length} acknowledged message(s) posted before the recovery point ${stampOf(rpo!.recoveryPoint)} are missing on ${roles.backup}`,
        );
      this.say(
        `  verified: every lost message was posted after the recovery point: the loss is the unshipped tail the RPO describes`,
      );
    } else if (lost.length > 0) {
      throw new DemoFailure(
        `${lost.length} messages are missing on ${roles.backup} and the report names no recovery point to explain them`,
      );
    }
  }

  private async rebuildDc1(): Promise<void> {
    const estate = this.estate!;
    const roles = this.topology!.databases.mgc;
    for (const name of [roles.primary, roles.mirror]) await this.guard(estate.rebuildInstance(name));
    this.say(
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
    const client = this.client!;
    const servedBefore = this.servingInstance();
    const missingBefore = new Set(this.missingOn(servedBefore));
    const start = await this.guard(
      startRunbook(client, {
        runbook,
        topology: this.topology!,
        options,
        initiator: ON_CALL,
        reason,
        taskQueue: DEMO_TASK_QUEUE,
      }),
    );
    if (!start.started)
      throw new DemoFailure(
        `another incident runbook holds the pool: ${start.open.runbook ?? 'runbook'} ${start.open.workflowId}`,
      );
    const { workflowId } = start;
    this.say(`  started ${runbook} ${workflowId} as ${ON_CALL}`);
    await this.followThroughGates(workflowId);

    const report = (await this.guard(client.workflow.getHandle(workflowId).result())) as RunbookReport;
    const servedBy = this.servingInstance();
    const lost = this.missingOn(servedBy).filter((id) => !missingBefore.has(id)).length;
    const reports = path.join(path.resolve(this.options.stateDir), 'reports');
    mkdirSync(reports, { recursive: true });
    const reportFile = path.join(reports, `${workflowId.replace(/[^\w.-]+/g, '_')}.md`);
    writeFileSync(reportFile, reportMarkdown(report));
    this.runs.push({ step: this.step, title: this.stage, report, lost, servedBy, reportFile });
    if (report.outcome !== 'succeeded')
      throw new DemoFailure(
        `${runbook} ${workflowId} ended ${report.outcome}${report.outcomeReason ? `: ${report.outcomeReason}` : ''}`,
      );
    this.say(`  messages lost: ${lost} (acknowledged messages missing on ${servedBy}, which serves chat now)`);
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
    const client = this.client!;
    const shown = new Set<string>();
    const write = (text: string) => {
      if (shown.has(text)) return;
      shown.add(text);
      this.write(text.replace(/^(?=.)/gm, '  '));
    };
    for (;;) {
      await this.guard(followRun(client, workflowId, { tty: false, json: false, write }));
      const progress = await this.guard(progressOfRun(await findRun(client, workflowId)));
      if (progress.outcome !== 'running') return;
      const waits = await this.guard(childWaits(client, progress));
      const targets: GateTarget[] = [
        ...progress.openGates.map((gate) => ({ workflowId, gate })),
        ...waits.flatMap((wait) => wait.openGates.map((gate) => ({ workflowId: wait.workflowId, gate }))),
      ];
      if (targets.length === 0) continue;
      if (this.options.interactive) await this.waitForPeople(targets, progress);
      else await this.answerAsApprovers(targets);
    }
  }

  /** The demo's approvers answer each open gate (a decision gate, a step that failed for good, ends the demo). */
  private async answerAsApprovers(targets: GateTarget[]): Promise<void> {
    const client = this.client!;
    for (const { workflowId, gate } of targets) {
      if (gate.kind === 'decision')
        throw new DemoFailure(
          `${gate.step ? `step ${gate.step}` : 'a step'} of ${workflowId} failed: ${gate.question}`,
        );
      const people = approversFor(gate);
      if (people.length < gate.required - gate.approvals.length)
        throw new DemoFailure(
          `gate ${gate.id} of ${workflowId} needs ${gate.required} approvals and the demo has nobody left to give them (approvers: ${gate.approvers.join(', ')})`,
        );
      for (const by of people) {
        const comment = `${COMMENTS[gate.gate] ?? DEFAULT_COMMENT} (demo)`;
        let message: string;
        try {
          const outcome = await this.guard(
            client.workflow.getHandle(workflowId).executeUpdate(approveUpdate, {
              args: [{ gate: gate.id, by, comment, evidenceVersion: gate.evidence?.version }],
            }),
          );
          message = outcome.message;
        } catch (error) {
          if (this.options.signal.aborted) throw error;
          throw new DemoFailure(`the approval of ${gate.id} by ${by} did not count: ${innermost(error)}`);
        }
        this.say(`  ${by} approves ${gate.id} ("${comment}"): ${message}`);
      }
    }
  }

  /** --interactive: print the exact commands that answer the gates, and wait until they are answered. */
  private async waitForPeople(targets: GateTarget[], progress: Progress): Promise<void> {
    const address = this.server!.address;
    this.say();
    this.say(`  >> Your turn (--interactive). From another terminal, in ${PROJECT_ROOT}:`);
    this.say(`       export TEMPORAL_ADDRESS=${address} PCHAT_DR_TASK_QUEUE=${DEMO_TASK_QUEUE}`);
    for (const { workflowId, gate } of targets) {
      if (gate.kind === 'decision') {
        for (const choice of gate.choices ?? ['retry', 'abort'])
          this.say(
            `       npx pchat-dr decide ${workflowId} ${choice} --gate ${gate.id} --as ${DECISION_MAKER} --reason "<why>"`,
          );
        continue;
      }
      for (const by of approversFor(gate))
        this.say(
          `       npx pchat-dr approve ${workflowId} --gate ${gate.id} --as ${by} --comment "${COMMENTS[gate.gate] ?? DEFAULT_COMMENT}"`,
        );
      this.say(
        `     or refuse: npx pchat-dr reject ${workflowId} --gate ${gate.id} --as ${approversFor(gate)[0] ?? gate.approvers[0]} --reason "<why>"`,
      );
      this.say(
        `     (${gate.required} of ${gate.approvers.join(', ')}${gate.twoPersonRule ? `; ${progress.initiator} started the run and may not approve` : ''}; pchat-dr status ${workflowId} shows the evidence)`,
      );
    }
    this.say(
      `     waiting until ${targets.map((target) => target.gate.id).join(', ')} ${targets.length === 1 ? 'is' : 'are'} answered (Ctrl+C stops the demo)...`,
    );

    const client = this.client!;
    const counted = new Set<string>();
    for (;;) {
      let open = 0;
      for (const workflowId of new Set(targets.map((target) => target.workflowId))) {
        const run = await this.guard(findRun(client, workflowId));
        if (run.status !== 'RUNNING') continue;
        const now = await this.guard(progressOfRun(run));
        for (const { gate } of targets.filter((target) => target.workflowId === workflowId)) {
          const still = now.openGates.find((candidate) => candidate.id === gate.id);
          if (!still) continue;
          open++;
          for (const vote of still.approvals) {
            const key = `${workflowId}/${gate.id}/${vote.by}`;
            if (counted.has(key) || gate.approvals.some((earlier) => earlier.by === vote.by)) continue;
            counted.add(key);
            this.say(
              `  ${vote.by} approved ${gate.id}${vote.comment ? ` ("${vote.comment}")` : ''}: ${still.approvals.length} of ${still.required}`,
            );
          }
        }
      }
      if (open === 0) {
        this.say('  answered: the run goes on');
        return;
      }
      await this.sleep(500);
    }
  }

  // ------------------------------------------------------------------------------------------ the estate as chat sees it

  /** The instance whose mgc serves chat now: the backup when the pool is failed over, else the principal in DC1. */
  private servingInstance(): string {
    const roles = this.topology!.databases.mgc;
    const snapshot = this.estate!.snapshot();
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
  private missingOn(instance: string): string[] {
    try {
      return this.estate!.lostMessages(instance);
    } catch {
      return this.estate!.chat.snapshot().acknowledgedIds;
    }
  }

  // ------------------------------------------------------------------------------------------ the end

  private summary(tookMs: number): void {
    const ui = this.server!.uiUrl;
    this.say();
    this.say(`Summary: ${this.runs.length} runs, the story took ${formatDuration(tookMs)}`);
    for (const run of this.runs) {
      const { report } = run;
      const { rto, rpo, serviceInterruption } = report.measures;
      const options = Object.entries(report.options)
        .map(([key, value]) => `--${key} ${String(value)}`)
        .join(' ');
      this.say(
        `  [${run.step}] ${report.runbook}${options ? ` ${options}` : ''} ${report.workflowId} ${report.outcome} in ${seconds(report.durationSeconds)}`,
      );
      const measures = [
        `RTO ${rto ? `${seconds(rto.seconds)} (objective ${seconds(rto.objectiveSeconds)}: ${rto.met ? 'met' : 'MISSED'})` : 'n/a'}`,
        `RPO ${rpo ? `${seconds(rpo.seconds)} (objective ${seconds(rpo.objectiveSeconds)}: ${rpo.met === null ? 'not measurable' : rpo.met ? 'met' : 'MISSED'}; recovery point ${stampOf(rpo.recoveryPoint)})` : 'n/a'}`,
        `service interruption ${serviceInterruption ? seconds(serviceInterruption.seconds) : 'n/a'}`,
        `messages lost ${run.lost}`,
      ];
      this.say(`       ${measures.join(' | ')}`);
      const approvals = report.gates
        .filter((gate) => gate.approvals.length > 0)
        .map((gate) => `${gate.id} by ${gate.approvals.map((vote) => vote.by).join(', ')}`);
      const waived = report.gates.filter((gate) => gate.status === 'waived').map((gate) => gate.id);
      if (approvals.length > 0 || waived.length > 0)
        this.say(`       gates: ${[...approvals, ...waived.map((id) => `${id} waived`)].join('; ')}`);
      if (report.children.length > 0)
        this.say(
          `       child runs: ${report.children.map((child) => `${child.workflowId} (${child.runbook} ${child.outcome ?? 'running'})`).join(', ')}`,
        );
      this.say(
        `       report: ${shown(run.reportFile, process.cwd())}; Web UI: ${ui}/namespaces/default/workflows/${encodeURIComponent(report.workflowId)}`,
      );
    }
    const chat = this.estate!.chat.snapshot();
    this.say(
      `Chat: ${chat.acknowledged} messages acknowledged, ${chat.failed} posts refused while the service was down, ${this.missingOn(this.servingInstance()).length} lost in all (in the disaster)`,
    );
    this.say('The story is done: every runbook succeeded.');
  }

  private printKeepInstructions(): void {
    const server = this.server!;
    const topology = shown(this.topologyFile, PROJECT_ROOT);
    const failover = this.runs.find((run) => run.report.runbook === 'failover')?.report.workflowId ?? '<id>';
    this.say();
    this.say(
      'Still running (--keep): the dev server, the Web UI, the estate (chat load on) and the worker. Ctrl+C stops everything.',
    );
    this.say(`  Web UI: ${server.uiUrl}/namespaces/default/workflows`);
    this.say(`  the CLI, from another terminal in ${PROJECT_ROOT}:`);
    this.say(`    export TEMPORAL_ADDRESS=${server.address} PCHAT_DR_TASK_QUEUE=${DEMO_TASK_QUEUE}`);
    this.say('    npx pchat-dr list');
    this.say(`    npx pchat-dr report ${failover}`);
    this.say(`    npx pchat-dr run failover -f ${topology} --mode planned --as ${ON_CALL} --follow`);
    this.say(`    npx pchat-dr run drill -f ${topology} --as ${ON_CALL} --follow`);
    this.say(`    npx pchat-dr sim status -f ${topology}`);
  }
}

/** Runs the demo (see Demo); the command wires Ctrl+C to `signal`. */
export function runDemo(options: DemoOptions): { demo: Demo; done: Promise<ExitCode> } {
  const demo = new Demo(options);
  return { demo, done: demo.run() };
}

/** The people the demo has approve a gate: the preferred ones who may, then the rest of its approvers; never the initiator. */
function approversFor(gate: PendingGate): string[] {
  const preferred = [...(APPROVERS[gate.gate] ?? []), ...DEFAULT_APPROVERS, ...gate.approvers];
  const allowed = new Set(
    [...gate.approvers, ...(gate.escalatedAt && gate.escalation ? gate.escalation.people : [])].map((person) =>
      person.toLowerCase(),
    ),
  );
  const voted = new Set(gate.approvals.map((vote) => vote.by.toLowerCase()));
  const people = [...new Set(preferred)].filter(
    (person) => allowed.has(person.toLowerCase()) && !voted.has(person.toLowerCase()) && person !== ON_CALL,
  );
  return people.slice(0, Math.max(0, gate.required - gate.approvals.length));
}

/** Empties the demo's folder, refusing (bad input, exit 2) one the demo did not make or that a running demo uses. */
function prepareStateDir(dir: string): void {
  const pidFile = path.join(dir, PID_FILE);
  if (existsSync(dir)) {
    if (readdirSync(dir).length > 0 && !existsSync(pidFile))
      throw new CliError(
        `--state ${dir}: the folder exists and is not a demo folder (no ${PID_FILE}); choose another, or empty it`,
        EXIT.badInput,
      );
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    if (pid > 0 && pid !== process.pid && isAlive(pid))
      throw new CliError(
        `--state ${dir}: a demo is already running there (pid ${pid}); stop it (Ctrl+C), or choose another folder`,
        EXIT.badInput,
      );
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(pidFile, `${process.pid}\n`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A path relative to `base` when it lies below it, else absolute. */
function shown(file: string, base: string): string {
  const relative = path.relative(base, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

function seconds(value: number | null | undefined): string {
  return value === null || value === undefined ? 'unknown' : formatDuration(value * 1000);
}

/** The innermost message of an update failure: what the run's validator said. */
function innermost(error: unknown): string {
  let cause: unknown = error;
  while ((cause as { cause?: unknown })?.cause) cause = (cause as { cause: unknown }).cause;
  return firstLine(cause);
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

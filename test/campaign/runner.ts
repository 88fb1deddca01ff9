/**
 * The fault campaign (docs/reliability.md): for each scenario, a clean run names the steps a normal run goes
 * through and what each did; then, for each step and each fault kind, a cell starts from the scenario's template,
 * injects the fault when the step starts, lets the automatic operator play the people, and checks the invariants.
 * Cells run side by side on one Temporal server (each its own estate, pool and task queue, and its own worker
 * process, so killing one kills nothing else).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { progressQuery } from '../../contracts/messages';
import { WORKFLOW_TYPES, type RunbookInput, type RunbookName } from '../../contracts/runbooks';
import type { EstateSnapshot } from '../../simulator/estate-snapshot';
import type { Topology } from '../../topology/schema';
import { cloneEstate, freshEstate, saveTemplate, type Template, type TemplateFacts } from './estates';
import { ActiveFault, FAULT_KINDS, planFault, type FaultKind, type FaultPlan, type ReferenceStep } from './faults';
import { checkInvariants, effectfulCounts, unknowable } from './invariants';
import { Operator, sleep, withTimeout, type OperatorPolicy } from './operator';
import { mirroringSessions } from './estates';
import type { CampaignResult, CellResult } from './results';
import { SCENARIOS, type Scenario, type ScenarioName } from './scenarios';
import { CellWorker, HostPool } from './worker-control';
import type { ActivityPause } from './worker-protocol';

export interface CampaignOptions {
  client: Client;
  address: string;
  workflowBundle: string;
  scenarios?: ScenarioName[];
  faults?: FaultKind[];
  /** Only these steps (by name), when given. */
  steps?: string[];
  /** Only these cells ("scenario/step/fault"), when given: overrides the three above. */
  cells?: string[];
  concurrency?: number;
  /** How long a cell's run may take before it counts as not ending. */
  cellTimeoutMs?: number;
  /** Where estates live (a temporary folder by default); removed at the end unless keep. */
  workDir?: string;
  keep?: boolean;
  log?: (line: string) => void;
}

interface Reference {
  steps: ReferenceStep[];
  counts: Map<string, number>;
  start: EstateSnapshot;
}

interface Prepared {
  scenario: Scenario;
  template: Template;
  topology: Topology;
  reference: Reference;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const began = Date.now();
  const log = options.log ?? (() => undefined);
  const workDir = options.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'pchat-campaign-'));
  mkdirSync(workDir, { recursive: true });
  const cellFilter = options.cells?.map((cell) => cell.split('/'));
  const wanted = new Set<ScenarioName>(
    cellFilter
      ? (cellFilter.map(([scenario]) => scenario) as ScenarioName[])
      : (options.scenarios ?? (Object.keys(SCENARIOS) as ScenarioName[])),
  );
  const hosts = new HostPool(options.address, options.workflowBundle, options.client.options.namespace, 2);
  const context: Context = { ...options, workDir, log, hosts, cellTimeoutMs: options.cellTimeoutMs ?? 420_000 };
  try {
    // Templates, side by side where they do not build on each other; then each scenario's clean run.
    const templates = new Map<ScenarioName, Template>();
    const needed = (Object.keys(SCENARIOS) as ScenarioName[]).filter(
      (name) => wanted.has(name) || [...wanted].some((other) => SCENARIOS[other].after === name),
    );
    for (const layer of [
      needed.filter((name) => !SCENARIOS[name].after),
      needed.filter((name) => SCENARIOS[name].after),
    ])
      await Promise.all(
        layer.map(async (name) => {
          const started = Date.now();
          templates.set(name, await buildTemplate(context, SCENARIOS[name], templates));
          log(`template ${name} ready (${seconds(started)} s)`);
        }),
      );
    const prepared = await Promise.all(
      [...wanted].map(async (name): Promise<Prepared> => {
        const scenario = SCENARIOS[name];
        const template = templates.get(name)!;
        const started = Date.now();
        const clean = await runCell(context, scenario, template, null, null);
        if (clean.result.status !== 'held' || clean.result.outcome !== 'succeeded')
          throw new Error(
            `the clean run of ${name} did not succeed: ${clean.result.reason}\n${clean.result.violations.join('\n')}`,
          );
        log(`clean run of ${name}: ${clean.reference!.steps.length} steps (${seconds(started)} s)`);
        return { scenario, template, topology: clean.topology, reference: clean.reference! };
      }),
    );

    // The matrix: every step × every fault kind, n/a where the fault makes no sense.
    const queue: { prepared: Prepared; plan: FaultPlan }[] = [];
    const cells: CellResult[] = [];
    for (const each of prepared) {
      const { steps } = each.reference;
      steps.forEach((step, index) => {
        for (const kind of options.faults ?? FAULT_KINDS) {
          if (
            cellFilter &&
            !cellFilter.some(([s, st, f]) => s === each.scenario.name && st === step.name && f === kind)
          )
            continue;
          if (!cellFilter && options.steps && !options.steps.includes(step.name)) continue;
          const planned = planFault(kind, each.scenario.name, steps, index, each.topology, each.reference.start);
          if (planned.applicable) queue.push({ prepared: each, plan: planned.plan });
          else
            cells.push({
              scenario: each.scenario.name,
              step: step.name,
              fault: kind,
              status: 'n/a',
              reason: planned.why,
              violations: [],
            });
        }
      });
    }
    log(`${queue.length} cells to run (${cells.length} n/a), ${options.concurrency ?? 3} at a time`);
    let done = 0;
    const total = queue.length;
    const next = async (): Promise<void> => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const { prepared: each, plan } = item;
        const { result } = await runCell(context, each.scenario, each.template, plan, each.reference).catch(
          (error: unknown): { result: CellResult } => ({
            result: {
              scenario: each.scenario.name,
              step: plan.step,
              fault: plan.kind,
              status: 'violated' as const,
              reason: `the cell could not run: ${(error as Error).message}`,
              violations: [`the cell could not run: ${(error as Error).stack ?? String(error)}`],
            },
          }),
        );
        cells.push(result);
        done++;
        log(
          `[${done}/${total}] ${result.scenario} × ${result.step} × ${result.fault}: ${result.status} — ${result.reason}${result.seconds !== undefined ? ` (${result.seconds} s)` : ''}`,
        );
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 3 }, () => next()));
    return {
      cells,
      steps: Object.fromEntries(
        prepared.map((each) => [each.scenario.name, each.reference.steps.map((step) => step.name)]),
      ),
      references: Object.fromEntries(prepared.map((each) => [each.scenario.name, each.reference.steps])),
      seconds: seconds(began),
    };
  } finally {
    await hosts.close();
    if (!options.keep && !options.workDir) rmSync(workDir, { recursive: true, force: true });
  }
}

interface Context extends CampaignOptions {
  workDir: string;
  hosts: HostPool;
  log: (line: string) => void;
  cellTimeoutMs: number;
}

const seconds = (since: number) => Math.round((Date.now() - since) / 1000);
const uniqueName = (label: string) =>
  `${label.replace(/[^a-z0-9-]+/gi, '-').toLowerCase()}-${randomUUID().slice(0, 8)}`;

/** The scenario's starting point: a fresh estate (or a copy of the template it builds on), prepared, then closed. */
async function buildTemplate(
  context: Context,
  scenario: Scenario,
  templates: Map<ScenarioName, Template>,
): Promise<Template> {
  const name = uniqueName(`template-${scenario.name}`);
  const dir = path.join(context.workDir, name);
  const fqdn = `${name}.sim.local`;
  const base = scenario.after ? templates.get(scenario.after)! : null;
  const estate = base ? await cloneEstate(base, dir, fqdn) : await freshEstate(dir, fqdn);
  const worker = cellWorker(context, name, estate.topologyFile, context.hosts, async () => 'go');
  let facts: TemplateFacts;
  try {
    await worker.start();
    const operator = new Operator(context.client, noFaults());
    let runs = 0;
    facts = await scenario.prepare(
      {
        estate,
        run: async (runbook, runOptions) => {
          const handle = await start(context.client, runbook, runOptions, estate.fqdn, name, `${name}-${++runs}`);
          const driven = await operator.drive(handle, Date.now() + context.cellTimeoutMs);
          if (!driven.report) throw new Error(`${runbook} did not end while preparing ${scenario.name}`);
          return driven.report;
        },
      },
      base?.facts ?? { acknowledged: [] },
    );
  } finally {
    await worker.stop();
    await estate.close();
  }
  return saveTemplate(estate, facts);
}

/** A cell's worker on its own task queue (the cell's name), serving the campaign's namespace. */
function cellWorker(
  context: Context,
  cell: string,
  estateFile: string,
  pool: HostPool | null,
  onPause: ConstructorParameters<typeof CellWorker>[0]['onPause'],
): CellWorker {
  return new CellWorker({
    cell,
    address: context.address,
    namespace: context.client.options.namespace,
    taskQueue: cell,
    estateFile,
    workflowBundle: context.workflowBundle,
    pool,
    onPause,
  });
}

function noFaults(): OperatorPolicy {
  return {
    acceptDataLoss: () => ({ approve: false, why: 'nothing was lost on purpose' }),
    beforeRetry: async () => undefined,
    tick: async () => undefined,
  };
}

async function start(
  client: Client,
  runbook: RunbookName,
  options: object,
  pool: string,
  taskQueue: string,
  workflowId: string,
): Promise<WorkflowHandle> {
  const input: RunbookInput = {
    pool,
    initiator: 'erin',
    reason: `fault campaign: ${runbook}`,
    options: options as Record<string, unknown>,
  };
  return client.workflow.start(WORKFLOW_TYPES[runbook], { taskQueue, workflowId, args: [input] });
}

/** The step the run is in now (the last one running), as the run itself says. */
async function runningStep(handle: WorkflowHandle): Promise<string | null> {
  const progress = await withTimeout(handle.query(progressQuery), 10_000, 'a query').catch(() => null);
  const running = progress?.steps.filter((step) => step.status === 'running') ?? [];
  return running.length > 0 ? running[running.length - 1].name : null;
}

/**
 * One cell: a copy of the template, a worker, the run, the fault at its step, the operator, the checks. Without a
 * plan it is the scenario's clean run, which also records what each step did (its reference).
 */
async function runCell(
  context: Context,
  scenario: Scenario,
  template: Template,
  plan: FaultPlan | null,
  reference: Reference | null,
): Promise<{ result: CellResult; reference?: Reference; topology: Topology }> {
  const name = uniqueName(`c-${scenario.name}-${plan ? `${plan.step}-${plan.kind}` : 'clean'}`)
    .slice(-60)
    .replace(/^-+/, '');
  const dir = path.join(context.workDir, name);
  const estate = await cloneEstate(template, dir, `${name}.sim.local`);
  const start0 = estate.estate.snapshot();
  const fault = plan ? new ActiveFault(plan, estate) : null;
  let handle: WorkflowHandle | null = null;
  let injectedAt: string | null = null;
  // The clean run: every statement is attributed to the step that ran it, and the mirroring sessions at each
  // step's start are noted.
  const attributed: { step: string | null; index: number }[] = [];
  const sessionsAt = new Map<string, [string, string][]>();
  const onPause = async (pause: ActivityPause): Promise<'go' | 'kill'> => {
    if (!handle) return 'go';
    if (!plan) {
      if (pause.when === 'before') {
        const step = await runningStep(handle);
        attributed.push({ step, index: estate.statements.length });
        if (step && !sessionsAt.has(step)) sessionsAt.set(step, mirroringSessions(estate.estate.snapshot()));
      }
      return 'go';
    }
    if (fault!.injectedAt !== null) return 'go';
    if ((plan.kind === 'worker-killed') !== (pause.when === 'after')) return 'go';
    const step = await runningStep(handle);
    if (step !== plan.step) return 'go';
    injectedAt = step;
    await fault!.inject();
    return plan.kind === 'worker-killed' ? 'kill' : 'go';
  };
  // A worker to be killed has a process of its own; the others share the hosts.
  const worker = cellWorker(
    context,
    name,
    estate.topologyFile,
    plan?.kind === 'worker-killed' ? null : context.hosts,
    onPause,
  );
  const began = Date.now();
  try {
    await worker.start();
    estate.chat.start(500);
    handle = await start(context.client, scenario.runbook, scenario.options, estate.fqdn, name, `${name}-run`);
    const operator = new Operator(context.client, policyFor(scenario, fault));
    const driven = await operator.drive(handle, began + context.cellTimeoutMs, 1_000);
    await estate.chat.stop();
    if (!driven.report)
      await handle.terminate('the fault campaign: the run did not end in time').catch(() => undefined);
    // The people end the outage once the run is over: what is checked is what the run did, not the fault.
    await fault?.undo();
    // The clean run's statements, step by step.
    let steps: ReferenceStep[] | undefined;
    if (!plan && driven.report) {
      steps = driven.report.steps.map((step) => ({
        name: step.name,
        ...(step.target ? { target: step.target } : {}),
        statements: [],
        mirroring: [],
      }));
      // A session that exists when the step starts or that the step makes (the next step finds it).
      steps.forEach((step, index) => {
        const during = [...(sessionsAt.get(step.name) ?? []), ...(sessionsAt.get(steps![index + 1]?.name) ?? [])];
        step.mirroring = [...new Set(during.map((pair) => pair.join(' ')))].map(
          (pair) => pair.split(' ') as [string, string],
        );
      });
      attributed.forEach((mark, index) => {
        const until = attributed[index + 1]?.index ?? estate.statements.length;
        const step = steps!.find((each) => each.name === mark.step);
        for (const statement of estate.statements.slice(mark.index, until))
          step?.statements.push({ instance: statement.instance, text: statement.text });
      });
    }
    const template0 = template.facts.acknowledged;
    const violations = await checkInvariants(context.client, {
      scenario,
      estate,
      report: driven.report,
      progress: driven.progress,
      fault,
      acknowledged: [...template0, ...estate.chat.acknowledged],
      startedAt: began,
      cleanCounts: reference?.counts ?? null,
    });
    const outcome = driven.report?.outcome ?? 'did not end';
    const notable = driven.actions.filter((action) => !/^approve (?!accept-data-loss)/.test(action));
    const lostUnseen = fault && fault.lost.length > 0 && unknowable({ scenario, report: driven.report, fault });
    const result: CellResult = {
      scenario: scenario.name,
      step: plan?.step ?? '(clean)',
      fault: plan?.kind ?? ('none' as FaultKind),
      status: violations.length > 0 ? 'violated' : 'held',
      reason:
        violations[0] ??
        [
          `${outcome}${driven.report?.outcomeReason && outcome !== 'succeeded' ? `: ${driven.report.outcomeReason.slice(0, 160)}` : ''}`,
          ...(notable.length > 0 ? [`operator: ${notable.join(', ')}`] : []),
          ...(lostUnseen
            ? ['the log was lost before the run first listed the share, with DC1 gone: never shipped, to the run']
            : []),
          ...(plan && injectedAt === null ? ['the step never ran with the fault'] : []),
        ].join('; '),
      violations,
      outcome,
      seconds: seconds(began),
      injectedAt,
      actions: driven.actions,
      ...(context.keep ? { report: driven.report } : {}),
    };
    return {
      result,
      topology: estate.topology,
      ...(steps ? { reference: { steps, counts: effectfulCounts(estate, began), start: start0 } } : {}),
    };
  } finally {
    await estate.chat.stop();
    await worker.stop();
    if (handle) await handle.terminate('the fault campaign: cell finished').catch(() => undefined);
    await fault?.undo().catch(() => undefined);
    await estate.close();
    if (!context.keep) rmSync(dir, { recursive: true, force: true });
    await sleep(0);
  }
}

/** The operator's judgement in this cell: what its fault destroyed, and how to undo it. */
function policyFor(scenario: Scenario, fault: ActiveFault | null): OperatorPolicy {
  return {
    acceptDataLoss: (gate) => {
      if (scenario.name === 'failover-planned')
        return { approve: false, why: 'a switchover loses nothing: go back to DC1 instead' };
      const lost = fault?.lost ?? [];
      const evidence = [gate.question, ...(gate.evidence?.summary ?? [])].join('\n');
      const named = lost.find((file) => evidence.includes(file));
      return named
        ? { approve: true, why: `the evidence names ${named}, which is lost in every copy` }
        : {
            approve: false,
            why: `no real gap: the evidence names no file the fault destroyed (${lost.join(', ') || 'none'})`,
          };
    },
    beforeRetry: async () => {
      await fault?.undo();
    },
    tick: async () => {
      await fault?.expire();
    },
  };
}

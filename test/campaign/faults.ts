/**
 * The fault kinds of the campaign, and where each applies. A fault is planned for one step of a runbook (from what
 * that step did in the scenario's clean run: its target, the statements it ran and where), injected when the step
 * starts, and undone by the operator at a decision gate or, for an outage, after FAULT_LIFETIME_MS (someone
 * restarts the instance, the network heals). A damaged or deleted log stays lost unless a decision gate asks for
 * it back: that is what accept-data-loss is for.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { EstateSnapshot } from '../../simulator/estate-snapshot';
import type { Topology } from '../../topology/schema';
import type { CampaignEstate } from './estates';
import type { ScenarioName } from './scenarios';

export const FAULT_KINDS = [
  'worker-killed',
  'statement-fails',
  'instance-stopped',
  'partition',
  'log-backup-lost',
  'agent-stopped',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** How long an outage lasts when no decision gate asks for it to end. */
export const FAULT_LIFETIME_MS = 45_000;
/** The error a failing statement returns (a user-defined error: nothing in the product expects it). */
export const INJECTED_ERROR = 50000;

/** What one step did in the scenario's clean run. */
export interface ReferenceStep {
  name: string;
  target?: string;
  /** Statements it ran, in order, with the instance each ran on. */
  statements: { instance: string; text: string }[];
  /** The mirroring sessions when it started (pairs of instances). */
  mirroring: [string, string][];
}

export interface FaultPlan {
  kind: FaultKind;
  step: string;
  /** One line: what is done to the estate. */
  what: string;
  instance?: string;
  partner?: string;
  /** statement-fails: the statement to fail (a case-insensitive regular expression). */
  pattern?: string;
  /** log-backup-lost: damaged in every copy, or deleted from every copy. */
  loss?: 'damaged' | 'deleted';
  /** log-backup-lost: which backup file is lost. */
  backup?: RegExp;
}

export type Planned = { applicable: true; plan: FaultPlan } | { applicable: false; why: string };

/** Reads, variables and session options (the driver sets its own on every new connection). */
const READ_ONLY =
  /^\s*(SELECT|DECLARE|SET\s|USE|PRINT|WAITFOR|RESTORE\s+(VERIFYONLY|HEADERONLY|FILELISTONLY)|EXEC(UTE)?\s+(\S+\.)?sp_help)/i;

export function isActing(text: string): boolean {
  return !READ_ONLY.test(text);
}

/** What uses SQL Server Agent: its jobs, their schedules and runs, and log shipping, which is made of jobs. */
const USES_AGENT =
  /sp_start_job|sp_stop_job|sp_update_job|sp_add_job|sp_delete_job|sp_add_schedule|sp_attach_schedule|sysjobactivity|sysjobhistory|syssessions|sp_add_log_shipping|sp_delete_log_shipping/i;

/** What reads or changes a mirroring session. */
const MIRRORING = /database_mirroring|SET\s+PARTNER/i;

/** What a step's own work looks like: anything but the session options a new connection sets. */
export function isStepStatement(text: string): boolean {
  return !/^\s*SET\s+(?!@)/i.test(text);
}

/** The statement's text as a pattern: its first line, with numbers (session ids, LSNs) left open. */
function patternOf(text: string): string {
  const line = text.trim().split('\n')[0].slice(0, 100);
  return `^\\s*${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\d+/g, '\\d+')}`;
}

/** The instance a step acts on: its target when that is an instance, else where its statements ran. */
function instanceOfStep(step: ReferenceStep, topology: Topology): string | null {
  if (step.target && topology.instances.some((instance) => instance.name === step.target)) return step.target;
  const statement =
    step.statements.find((each) => isActing(each.text)) ?? step.statements.find((each) => isStepStatement(each.text));
  return statement?.instance ?? null;
}

/** The instance's mirroring partner in the topology (primary and mirror, backup and backupMirror). */
function partnerOf(instance: string, topology: Topology): string | null {
  for (const roles of Object.values(topology.databases)) {
    if (!roles) continue;
    if (roles.primary === instance) return roles.mirror;
    if (roles.mirror === instance) return roles.primary;
    if (roles.backup === instance && roles.backupMirror) return roles.backupMirror;
    if (roles.backupMirror === instance) return roles.backup;
  }
  return null;
}

/**
 * The backup file a later step reads, which the log-backup-lost fault destroys, for each scenario: the newest log
 * (the tail, once taken) until the logs are applied; the failback's full backup between taking and restoring it.
 */
function backupAt(scenario: ScenarioName, steps: ReferenceStep[], index: number): RegExp | string {
  const position = (name: string) => steps.findIndex((step) => step.name === name);
  switch (scenario) {
    case 'failover-disaster':
    case 'failover-planned':
      return index <= position('apply-logs')
        ? /^mgc_\d{14}(_tail)?\.trn$/
        : 'every log is applied by then: no later step reads a log backup';
    case 'failback':
      return index > position('full-backup') && index <= position('restore-primary')
        ? /^mgc_failback_\d{14}\.bak$/
        : 'no backup file that a later step reads exists at this step (the failback reads only its own full backup)';
    case 'mirror-failover':
      return 'mirror-failover reads no backup file';
  }
}

export function planFault(
  kind: FaultKind,
  scenario: ScenarioName,
  steps: ReferenceStep[],
  index: number,
  topology: Topology,
  start: EstateSnapshot,
): Planned {
  const step = steps[index];
  const plan = (fields: Omit<FaultPlan, 'kind' | 'step'>): Planned => ({
    applicable: true,
    plan: { kind, step: step.name, ...fields },
  });
  const down = (name: string) => !start.instances.find((instance) => instance.name === name)?.running;
  const instance = instanceOfStep(step, topology);
  switch (kind) {
    case 'worker-killed':
      return plan({ what: 'the worker is SIGKILLed after the step’s first activity ran, before it reported' });
    case 'statement-fails': {
      const statement =
        step.statements.find((each) => isActing(each.text)) ??
        step.statements.find((each) => isStepStatement(each.text));
      if (!statement)
        return { applicable: false, why: 'the step runs no SQL statement (a cmdlet, files or a child run)' };
      return plan({
        what: `the next "${statement.text.trim().split('\n')[0].slice(0, 60)}" on ${statement.instance} fails (${INJECTED_ERROR})`,
        instance: statement.instance,
        pattern: patternOf(statement.text),
      });
    }
    case 'instance-stopped': {
      if (!instance) return { applicable: false, why: 'the step acts on no SQL Server instance' };
      if (down(instance)) return { applicable: false, why: `${instance} is already down (DC1 is lost)` };
      return plan({ what: `${instance} stops`, instance });
    }
    case 'agent-stopped': {
      // The Agent matters to a step that runs, waits for, creates or deletes jobs (log shipping is jobs).
      const agent = step.statements.find((each) => USES_AGENT.test(each.text))?.instance;
      if (!agent)
        return { applicable: false, why: 'the step uses no SQL Server Agent (no job, no log-shipping procedure)' };
      return plan({ what: `SQL Server Agent on ${agent} stops`, instance: agent });
    }
    case 'partition': {
      // The simulated network carries mirroring only: a partition matters to a step that reads or changes a
      // mirroring session that runs (or that the step makes).
      if (!instance) return { applicable: false, why: 'the step acts on no SQL Server instance' };
      if (!step.statements.some((each) => MIRRORING.test(each.text)))
        return { applicable: false, why: 'the step neither reads nor changes mirroring' };
      const partner = partnerOf(instance, topology);
      if (!partner) return { applicable: false, why: `${instance} has no mirroring partner to be cut off from` };
      if (down(instance) || down(partner))
        return { applicable: false, why: `${down(instance) ? instance : partner} is already down (DC1 is lost)` };
      if (!step.mirroring.some((pair) => pair.includes(instance) && pair.includes(partner)))
        return {
          applicable: false,
          why: `no mirroring session between ${instance} and ${partner} when the step starts`,
        };
      return plan({ what: `${instance} and ${partner} cannot reach each other`, instance, partner });
    }
    case 'log-backup-lost': {
      const backup = backupAt(scenario, steps, index);
      if (typeof backup === 'string') return { applicable: false, why: backup };
      const loss = index % 2 === 0 ? 'damaged' : 'deleted';
      return plan({ what: `the newest ${backup.source} ${loss} in every copy`, loss, backup });
    }
  }
}

/** A planned fault in one cell's estate: injected once, undone at most once. */
export class ActiveFault {
  injectedAt: number | null = null;
  undoneAt: number | null = null;
  /** log-backup-lost: the files lost (basenames). */
  readonly lost: string[] = [];
  private readonly kept: string;

  constructor(
    readonly plan: FaultPlan,
    private readonly estate: CampaignEstate,
  ) {
    this.kept = path.join(estate.dir, 'kept-by-the-campaign');
  }

  async inject(): Promise<void> {
    if (this.injectedAt !== null) return;
    this.injectedAt = Date.now();
    const { estate } = this.estate;
    const { plan } = this;
    switch (plan.kind) {
      case 'worker-killed':
        return;
      case 'statement-fails':
        estate.failNext(plan.instance!, plan.pattern!, {
          number: INJECTED_ERROR,
          message: `the fault campaign failed this statement at step ${plan.step}`,
        });
        return;
      case 'instance-stopped':
        await estate.stopInstance(plan.instance!);
        return;
      case 'agent-stopped':
        estate.setAgentRunning(plan.instance!, false);
        return;
      case 'partition':
        estate.partition(plan.instance!, plan.partner!);
        return;
      case 'log-backup-lost':
        this.loseBackup();
        return;
    }
  }

  private loseBackup(): void {
    const { topology, estate } = this.estate;
    const share = topology.backupShare.workerPath;
    const newest = readdirSync(share)
      .filter((name) => this.plan.backup!.test(name))
      .sort()
      .pop();
    if (!newest) return;
    this.lost.push(newest);
    mkdirSync(this.kept, { recursive: true });
    copyFileSync(path.join(share, newest), path.join(this.kept, newest));
    for (const folder of [share, topology.copyFolder.workerPath]) {
      const file = path.join(folder, newest);
      if (!existsSync(file)) continue;
      if (this.plan.loss === 'damaged') estate.corruptBackupFile(file);
      else rmSync(file);
    }
  }

  /** Ends the fault (a lost backup comes back from the copy the campaign kept). */
  async undo(): Promise<void> {
    if (this.injectedAt === null || this.undoneAt !== null) return;
    this.undoneAt = Date.now();
    const { estate, topology } = this.estate;
    const { plan } = this;
    switch (plan.kind) {
      case 'statement-fails':
        estate.instance(plan.instance!).faults.statements = [];
        return;
      case 'instance-stopped':
        await estate.startInstance(plan.instance!);
        return;
      case 'agent-stopped':
        estate.setAgentRunning(plan.instance!, true);
        return;
      case 'partition':
        estate.heal(plan.instance!, plan.partner!);
        return;
      case 'log-backup-lost':
        // A good copy in both folders: the copy folder may hold a damaged copy made meanwhile, which nothing re-copies.
        for (const name of this.lost)
          for (const folder of [topology.backupShare.workerPath, topology.copyFolder.workerPath])
            copyFileSync(path.join(this.kept, name), path.join(folder, name));
        return;
      case 'worker-killed':
        return;
    }
  }

  /** An outage ends by itself after its lifetime; a lost backup does not. */
  async expire(): Promise<void> {
    if (
      this.injectedAt !== null &&
      this.plan.kind !== 'log-backup-lost' &&
      Date.now() - this.injectedAt > FAULT_LIFETIME_MS
    )
      await this.undo();
  }
}

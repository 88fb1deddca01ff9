/**
 * The campaign's scenarios, one per runbook run it tries: where each starts (its template, built once by running
 * the runbooks that lead there), how it is started, and what its end state must be given what its report says
 * (the estate "as the report describes").
 */
import path from 'node:path';
import sql from 'mssql';
import { logBackupName } from '../../contracts/log-shipping';
import { nextLogBackupTime } from '../helpers/log-chain';
import type { RunbookReport } from '../../contracts/run-record';
import type { RunbookName } from '../../contracts/runbooks';
import type { DatabaseSnapshot, EstateSnapshot } from '../../simulator/estate-snapshot';
import { driverEncryption } from '../../topology/encryption';
import { resolveSecret } from '../../topology/secrets';
import type { CampaignEstate, TemplateFacts } from './estates';

export const SCENARIO_NAMES = ['failover-disaster', 'failover-planned', 'mirror-failover', 'failback'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** What a template's preparation may do: run a runbook to its end (every gate approved), as people would. */
export interface Preparation {
  estate: CampaignEstate;
  run(runbook: RunbookName, options: object): Promise<RunbookReport>;
}

export interface Scenario {
  name: ScenarioName;
  runbook: RunbookName;
  options: object;
  /** The scenario this one's template starts from (null: a fresh estate). */
  after: ScenarioName | null;
  /** Brings a copy of `after`'s template (or a fresh estate) to this scenario's starting point. */
  prepare(preparation: Preparation, inherited: TemplateFacts): Promise<TemplateFacts>;
  /** Mismatches between the estate and what the report says was done (empty: the estate is as described). */
  described(report: RunbookReport, snapshot: EstateSnapshot, estate: CampaignEstate): string[];
}

const DC1 = ['dc1-sql-a', 'dc1-sql-b'];

// ------------------------------------------------------------------------------------------------ preparations

async function setUpLogShipping(preparation: Preparation): Promise<void> {
  const report = await preparation.run('setup-log-shipping', {});
  if (report.outcome !== 'succeeded') throw new Error(`setup-log-shipping ${report.outcome}: ${report.outcomeReason}`);
}

/** DC2 stops copying and restoring by itself: the run under test copies and applies what was shipped. */
async function pauseDc2Jobs(estate: CampaignEstate): Promise<void> {
  const jobs = () => instanceOf(estate.estate.snapshot(), 'dc2-sql-a').jobs;
  for (const job of jobs()) estate.estate.setJobEnabled('dc2-sql-a', job.name, false);
  await until(() => jobs().every((job) => !job.running), 'DC2 jobs to finish');
}

/**
 * Log backups of mgc on the primary, named as log shipping names them (each a second after the newest file on the
 * share, so none replaces another), with chat messages between them; the primary's own backup job paused first.
 */
async function takeLogBackups(estate: CampaignEstate, count: number, messagesBetween: number): Promise<void> {
  const { topology } = estate;
  const job = () => instanceOf(estate.estate.snapshot(), 'dc1-sql-a').jobs.find((each) => each.name === 'LSBackup_mgc');
  if (job()) {
    estate.estate.setJobEnabled('dc1-sql-a', 'LSBackup_mgc', false);
    await until(() => !job()!.running, 'the backup job to finish');
  }
  let at = nextLogBackupTime(topology.backupShare.workerPath);
  const instance = estate.topology.instances.find((candidate) => candidate.name === 'dc1-sql-a')!;
  const connection = await new sql.ConnectionPool({
    server: instance.host,
    port: instance.port,
    user: instance.login,
    password: resolveSecret(instance.password),
    database: 'master',
    options: driverEncryption(instance),
  }).connect();
  try {
    for (let index = 0; index < count; index++, at += 1_000) {
      await estate.chat.postMany(messagesBetween);
      const file = path.join(topology.backupShare.sqlPath, logBackupName('mgc', new Date(at)));
      await connection.request().input('file', file).query('BACKUP LOG [mgc] TO DISK = @file WITH INIT');
    }
  } finally {
    await connection.close();
  }
}

/** A disaster: log shipping set up, four logs shipped but not copied, three messages written after the last. */
async function prepareDisaster(preparation: Preparation): Promise<TemplateFacts> {
  const { estate } = preparation;
  await estate.chat.postMany(3);
  await setUpLogShipping(preparation);
  await pauseDc2Jobs(estate);
  await takeLogBackups(estate, 4, 2);
  // Written after the newest log backup: no log carries them, they are lost with DC1 (and only they are).
  await estate.chat.postMany(3);
  await Promise.all(DC1.map((name) => estate.estate.stopInstance(name)));
  return { acknowledged: [...estate.chat.acknowledged] };
}

/** A switchover: log shipping set up, three logs shipped but not copied; DC1 serves, chat goes on during the run. */
async function preparePlanned(preparation: Preparation): Promise<TemplateFacts> {
  const { estate } = preparation;
  await estate.chat.postMany(3);
  await setUpLogShipping(preparation);
  await pauseDc2Jobs(estate);
  await takeLogBackups(estate, 3, 2);
  return { acknowledged: [...estate.chat.acknowledged] };
}

/** A deployed pool, mirrored and SYNCHRONIZED, with some chat. */
async function prepareMirror(preparation: Preparation): Promise<TemplateFacts> {
  await preparation.estate.chat.postMany(5);
  return { acknowledged: [...preparation.estate.chat.acknowledged] };
}

/**
 * After a disaster failover: DC2 serves (and chat goes on there), DC1 is back with what it had, including what the
 * disaster lost. The failback must keep every message DC2 holds; DC1's extra ones are kept only in its COPY_ONLY backup.
 */
async function prepareFailback(preparation: Preparation, inherited: TemplateFacts): Promise<TemplateFacts> {
  const { estate } = preparation;
  const report = await preparation.run('failover', { mode: 'disaster' });
  if (report.outcome !== 'succeeded') throw new Error(`failover ${report.outcome}: ${report.outcomeReason}`);
  await estate.chat.postMany(5);
  await Promise.all(DC1.map((name) => estate.estate.startInstance(name)));
  const onDc2 = new Set(
    estate.estate
      .instance('dc2-sql-a')
      .database('mgc')!
      .messages.map((message) => message.clientId),
  );
  const acknowledged = [...inherited.acknowledged, ...estate.chat.acknowledged].filter((message) =>
    onDc2.has(message.id),
  );
  return { acknowledged };
}

// ------------------------------------------------------------------------------------------------ what reports say

/** Whether a step of the report took effect: it acted, or found the estate already as asked. */
function done(report: RunbookReport, step: string): boolean {
  return report.steps.some((each) => each.name === step && (each.status === 'acted' || each.status === 'skipped'));
}

/** The last of these steps that took effect, in report order. */
function lastDone(report: RunbookReport, steps: string[]): string | null {
  const taken = report.steps.filter(
    (each) => steps.includes(each.name) && (each.status === 'acted' || each.status === 'skipped'),
  );
  return taken.length > 0 ? taken[taken.length - 1].name : null;
}

function instanceOf(snapshot: EstateSnapshot, name: string) {
  return snapshot.instances.find((candidate) => candidate.name === name)!;
}

function mgcOf(snapshot: EstateSnapshot, name: string): DatabaseSnapshot | undefined {
  return instanceOf(snapshot, name).databases.find((database) => database.name === 'mgc');
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((item, index) => item === b[index]);

/** The pool's state and active servers as the steps that set them say, from where the scenario started. */
function poolAsReported(
  report: RunbookReport,
  snapshot: EstateSnapshot,
  estate: CampaignEstate,
  start: { poolState: string; active: 'dc1' | 'dc2' },
  setters: { state: Record<string, string>; servers: Record<string, 'dc1' | 'dc2' | 'none'> },
): string[] {
  const problems: string[] = [];
  const stateStep = lastDone(report, Object.keys(setters.state));
  const expectedState = stateStep ? setters.state[stateStep] : start.poolState;
  if (snapshot.pool.poolState !== expectedState)
    problems.push(
      `the pool is ${snapshot.pool.poolState}, the report says ${expectedState} (${stateStep ?? 'as it started'})`,
    );
  const serversStep = lastDone(report, Object.keys(setters.servers));
  const expectedServers = serversStep ? setters.servers[serversStep] : start.active;
  const expected = expectedServers === 'none' ? [] : estate.topology.pool.servers[expectedServers];
  if (!sameList([...snapshot.pool.activeServers].sort(), [...expected].sort()))
    problems.push(
      `the active servers are ${snapshot.pool.activeServers.join(', ') || 'none'}, the report says ${expected.join(', ') || 'none'} (${serversStep ?? 'as it started'})`,
    );
  return problems;
}

function stateIs(snapshot: EstateSnapshot, instance: string, expected: string, why: string): string[] {
  const state = mgcOf(snapshot, instance)?.state ?? 'missing';
  return state === expected ? [] : [`mgc on ${instance} is ${state}, the report says ${expected} (${why})`];
}

function describedFailover(report: RunbookReport, snapshot: EstateSnapshot, estate: CampaignEstate): string[] {
  const problems = poolAsReported(
    report,
    snapshot,
    estate,
    { poolState: 'Normal', active: 'dc1' },
    {
      state: { 'pool-failed-over': 'FailedOver', 'rollback-pool-normal': 'Normal' },
      servers: {
        'clear-active-servers': 'none',
        'activate-dc2': 'dc2',
        'rollback-activate-dc1': 'dc1',
      },
    },
  );
  const recovered = done(report, 'recover');
  const reseeded = done(report, 'rollback-log-shipping');
  if (!reseeded)
    problems.push(
      ...stateIs(
        snapshot,
        'dc2-sql-a',
        recovered ? 'ONLINE' : 'RESTORING',
        recovered ? 'recover' : 'no recover step took effect',
      ),
    );
  if (report.options.mode === 'planned') {
    const fenced = done(report, 'tail-log-backup');
    const back = done(report, 'rollback-recover-dc1');
    problems.push(
      ...stateIs(
        snapshot,
        'dc1-sql-a',
        fenced && !back ? 'RESTORING' : 'ONLINE',
        fenced ? (back ? 'rolled back' : 'fenced by the tail-log backup') : 'never fenced',
      ),
    );
  }
  return problems;
}

function describedMirrorFailover(report: RunbookReport, snapshot: EstateSnapshot): string[] {
  const moved = done(report, 'planned-failover') || done(report, 'force-service');
  const principal = moved ? 'dc1-sql-b' : 'dc1-sql-a';
  const database = mgcOf(snapshot, principal);
  const running = instanceOf(snapshot, principal).running;
  if (running && (database?.state !== 'ONLINE' || database.mirroring?.role !== 'PRINCIPAL'))
    return [
      `mgc on ${principal} is ${database?.state} ${database?.mirroring?.role ?? 'unmirrored'}, the report says it is the principal (${moved ? 'failed over' : 'no failover took effect'})`,
    ];
  return [];
}

function describedFailback(report: RunbookReport, snapshot: EstateSnapshot, estate: CampaignEstate): string[] {
  const problems = poolAsReported(
    report,
    snapshot,
    estate,
    { poolState: 'FailedOver', active: 'dc2' },
    {
      state: { 'pool-normal': 'Normal' },
      servers: { 'clear-active-servers': 'none', 'activate-dc1': 'dc1' },
    },
  );
  if (done(report, 'restore-primary')) problems.push(...stateIs(snapshot, 'dc1-sql-a', 'ONLINE', 'restore-primary'));
  if (done(report, 'setup-log-shipping'))
    problems.push(...stateIs(snapshot, 'dc2-sql-a', 'RESTORING', 'setup-log-shipping re-seeded it'));
  else if (!instanceOf(snapshot, 'dc2-sql-a').running) problems.push('dc2-sql-a is down');
  else problems.push(...stateIs(snapshot, 'dc2-sql-a', 'ONLINE', 'log shipping was not set up again'));
  return problems;
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  'failover-disaster': {
    name: 'failover-disaster',
    runbook: 'failover',
    options: { mode: 'disaster', jobWaitSeconds: 60 },
    after: null,
    prepare: prepareDisaster,
    described: describedFailover,
  },
  'failover-planned': {
    name: 'failover-planned',
    runbook: 'failover',
    options: { mode: 'planned', jobWaitSeconds: 60 },
    after: null,
    prepare: preparePlanned,
    described: describedFailover,
  },
  'mirror-failover': {
    name: 'mirror-failover',
    runbook: 'mirror-failover',
    options: { to: 'mirror' },
    after: null,
    prepare: prepareMirror,
    described: describedMirrorFailover,
  },
  failback: {
    name: 'failback',
    runbook: 'failback',
    options: {},
    after: 'failover-disaster',
    prepare: prepareFailback,
    described: describedFailback,
  },
};

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * What must hold after every cell, whatever its fault (docs/reliability.md states each one and how it is checked):
 *
 * 1. the run ended (succeeded, or failed / aborted / rejected saying why) or waits at a gate saying why;
 * 2. the estate is as the report describes;
 * 3. no copy of mgc is ONLINE past a log it never applied, unless the run gated it (accept-data-loss approved) and
 *    the log was really lost;
 * 4. every message acknowledged before the recovery point is on the copy that serves;
 * 5. no step's effect doubled: no backup restored twice, no changing cmdlet run twice, no changing statement run
 *    more often than in the clean run;
 * 6. no workflow task failed (other than for an unhandled command, which is the SDK's normal retry).
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { incidentLockId } from '../../contracts/runbooks';
import type { Progress, RunbookReport } from '../../contracts/run-record';
import type { Row } from '../../simulator/engine/msdb';
import type { EstateSnapshot } from '../../simulator/estate-snapshot';
import type { CampaignEstate } from './estates';
import type { ActiveFault } from './faults';
import { isActing } from './faults';
import type { Acknowledged } from './messages';
import type { Scenario } from './scenarios';

export interface CellFacts {
  scenario: Scenario;
  estate: CampaignEstate;
  report: RunbookReport | null;
  progress: Progress | null;
  fault: ActiveFault | null;
  /** Messages that must be on the serving copy when acknowledged before the recovery point. */
  acknowledged: Acknowledged[];
  /** When the cell's run started (ms): restores and backups before it are the template's. */
  startedAt: number;
  /** Effectful statements of the clean run, counted by key (statementKey). */
  cleanCounts: Map<string, number> | null;
}

export async function checkInvariants(client: Client, facts: CellFacts): Promise<string[]> {
  const snapshot = facts.estate.estate.snapshot();
  const violations: string[] = [];
  violations.push(...ended(facts));
  if (facts.report) violations.push(...facts.scenario.described(facts.report, snapshot, facts.estate));
  violations.push(...noUnreadLog(facts, snapshot));
  violations.push(...messagesKept(facts, snapshot));
  violations.push(...notDoubled(facts));
  if (facts.report) violations.push(...(await noWorkflowTaskFailure(client, facts.report, facts.estate.fqdn)));
  return violations;
}

// ------------------------------------------------------------------------------------------------ 1. it ended

function ended({ report, progress }: CellFacts): string[] {
  if (!report) {
    const running = progress?.steps.filter((step) => step.status === 'running').map((step) => step.name);
    return [
      `the run did not end: phase ${progress?.phase ?? 'unknown'}, ${running?.length ? `running ${running.join(', ')}` : 'no step running'}, open gates: ${progress?.openGates.map((gate) => gate.id).join(', ') || 'none'}`,
    ];
  }
  if (report.outcome === 'running') return ['the run returned a report that says it is still running'];
  if (!['succeeded', 'no-change'].includes(report.outcome) && !report.outcomeReason?.trim())
    return [`the run ended ${report.outcome} without saying why`];
  return [];
}

// ------------------------------------------------------------------------------------------------ 3. no unread log

const bigint = (value: unknown) => BigInt(String(value));

interface LogBackup {
  file: string;
  firstLsn: bigint;
  lastLsn: bigint;
}

/** Every log backup of mgc DC1 took (not copies from restores or LOADHISTORY): the chain DC2 restores. */
function logBackups(estate: CampaignEstate): LogBackup[] {
  const logs = new Map<string, LogBackup>();
  const { primary, mirror } = estate.topology.databases.mgc;
  for (const instance of [primary, mirror].map((name) => estate.estate.instance(name))) {
    const msdb = instance.msdb;
    const devices = new Map(
      msdb.rows('backupmediafamily').map((row) => [row.media_set_id, String(row.physical_device_name)]),
    );
    const restored = new Set(msdb.rows('restorehistory').map((row) => row.backup_set_id));
    for (const row of msdb.rows('backupset')) {
      if (row.database_name !== 'mgc' || row.type !== 'L' || row.server_name !== instance.serverName) continue;
      if (restored.has(row.backup_set_id) || logs.has(String(row.backup_set_uuid))) continue;
      logs.set(String(row.backup_set_uuid), {
        file: path.basename(devices.get(row.media_set_id) ?? ''),
        firstLsn: bigint(row.first_lsn),
        lastLsn: bigint(row.last_lsn),
      });
    }
  }
  return [...logs.values()];
}

/** The backup sets restored into mgc on an instance since its last full restore, oldest first, with their files. */
function restoredChain(estate: CampaignEstate, instance: string): (Row & { file: string })[] {
  const msdb = estate.estate.instance(instance).msdb;
  const devices = new Map(
    msdb.rows('backupmediafamily').map((row) => [row.media_set_id, String(row.physical_device_name)]),
  );
  const sets = new Map(msdb.rows('backupset').map((row) => [row.backup_set_id, row]));
  const restores = msdb
    .rows('restorehistory')
    .filter((row) => row.destination_database_name === 'mgc')
    .map((row) => {
      const set = sets.get(row.backup_set_id)!;
      return { ...set, restore_type: row.restore_type, file: path.basename(devices.get(set.media_set_id) ?? '') };
    });
  const lastFull = restores.map((row) => row.restore_type).lastIndexOf('D');
  return restores.slice(Math.max(0, lastFull));
}

function accepted(report: RunbookReport | null): boolean {
  return Boolean(report?.gates.some((gate) => gate.gate === 'accept-data-loss' && gate.status === 'approved'));
}

function noUnreadLog(facts: CellFacts, snapshot: EstateSnapshot): string[] {
  if (facts.scenario.runbook !== 'failover') return [];
  const backup = snapshot.instances.find((instance) => instance.name === 'dc2-sql-a')!;
  const mgc = backup.databases.find((database) => database.name === 'mgc');
  if (mgc?.state !== 'ONLINE') return [];
  const chain = restoredChain(facts.estate, 'dc2-sql-a');
  if (chain.length === 0) return ['mgc is ONLINE on dc2-sql-a with no restore recorded'];
  const redo = chain.map((row) => bigint(row.last_lsn)).reduce((a, b) => (a > b ? a : b));
  const unread = logBackups(facts.estate).filter((log) => log.firstLsn <= redo && log.lastLsn > redo);
  return unread.flatMap((log) => {
    const lost = facts.fault?.lost.includes(log.file) ?? false;
    if (accepted(facts.report) && lost) return [];
    if (lost && unknowable(facts)) return [];
    return [
      `mgc is ONLINE on dc2-sql-a past ${log.file} (LSN ${log.firstLsn}–${log.lastLsn}), which it never applied${accepted(facts.report) ? ' although that log was not lost' : ' and the run did not gate (accept-data-loss)'}`,
    ];
  });
}

/**
 * A log lost before the run first listed the share, with DC1 (whose msdb records it) gone: to the run it was never
 * shipped, like the writes after the newest log backup; the RPO's upper bound covers it (docs/reliability.md).
 */
export function unknowable(facts: Pick<CellFacts, 'scenario' | 'report' | 'fault'>): boolean {
  const firstEvidence = facts.report?.steps.find((step) => step.name === 'gather-evidence')?.finishedAt;
  const injectedAt = facts.fault?.injectedAt;
  return (
    facts.scenario.name === 'failover-disaster' &&
    injectedAt != null &&
    (!firstEvidence || injectedAt < Date.parse(firstEvidence))
  );
}

// ------------------------------------------------------------------------------------------------ 4. messages kept

/** The copy chat servers write to now: the ONLINE principal of the store the pool uses, when a server is active. */
function servingCopy(facts: CellFacts, snapshot: EstateSnapshot): string | null {
  if (snapshot.pool.activeServers.length === 0) return null;
  const roles = facts.estate.topology.databases.mgc;
  const store =
    snapshot.pool.poolState === 'Normal' ? [roles.primary, roles.mirror] : [roles.backup, roles.backupMirror];
  for (const name of store.filter((each): each is string => Boolean(each))) {
    const instance = snapshot.instances.find((candidate) => candidate.name === name);
    const mgc = instance?.databases.find((database) => database.name === 'mgc');
    if (instance?.running && mgc?.state === 'ONLINE' && (!mgc.mirroring || mgc.mirroring.role === 'PRINCIPAL'))
      return name;
  }
  return null;
}

function messagesKept(facts: CellFacts, snapshot: EstateSnapshot): string[] {
  const serving = servingCopy(facts, snapshot);
  if (!serving) return [];
  // A copy recovered from shipped logs after a disaster (or with the loss accepted) holds what its last log held.
  let cutoff = Infinity;
  let basis = 'nothing may be lost';
  const recoveredFromLogs =
    serving === facts.estate.topology.databases.mgc.backup &&
    (facts.scenario.name === 'failover-disaster' || accepted(facts.report));
  if (recoveredFromLogs) {
    const chain = restoredChain(facts.estate, serving);
    const last = chain[chain.length - 1];
    cutoff = last ? new Date(last.backup_finish_date as Date).getTime() : -Infinity;
    basis = `the recovery point ${last ? new Date(cutoff).toISOString() : '(none)'} (${last?.file ?? 'no log'})`;
  }
  const held = new Set(
    facts.estate.estate
      .instance(serving)
      .requireDatabase('mgc')
      .messages.map((m) => m.clientId),
  );
  const missing = facts.acknowledged.filter((message) => message.at < cutoff && !held.has(message.id));
  if (missing.length === 0) return [];
  return [
    `${missing.length} message(s) acknowledged before ${basis} are not on ${serving}, the serving copy (first: ${missing[0].id} at ${new Date(missing[0].at).toISOString()})`,
  ];
}

// ------------------------------------------------------------------------------------------------ 5. nothing doubled

/**
 * A statement's identity for counting: instance, text (numbers in it, such as session ids, left open) and
 * parameter values (a file is a file), with the estate's own folder left out so a cell compares with the clean run.
 */
export function statementKey(
  statement: { instance: string; text: string; parameters: Record<string, unknown> },
  estateDir: string,
): string {
  const values = Object.entries(statement.parameters)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${String(value).replaceAll(estateDir, '<estate>')}`)
    .join(',');
  return `${statement.instance}: ${statement.text.trim().replace(/\d+/g, '#')} [${values}]`;
}

/** Statements that change something and ran without error, counted by key. */
export function effectfulCounts(estate: CampaignEstate, since: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const statement of estate.statements) {
    if (statement.error !== null || statement.at.getTime() < since || !isActing(statement.text)) continue;
    // Ending sessions and running jobs repeat by design: a chat server that reconnects is ended again, and each run
    // of a log-shipping job ships what is new.
    if (/^\s*KILL\b|sp_start_job/i.test(statement.text)) continue;
    const key = statementKey(statement, estate.dir);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function notDoubled(facts: CellFacts): string[] {
  const problems: string[] = [];
  for (const instance of facts.estate.estate.instances.values()) {
    const msdb = instance.msdb;
    const devices = new Map(
      msdb.rows('backupmediafamily').map((row) => [row.media_set_id, String(row.physical_device_name)]),
    );
    const sets = new Map(msdb.rows('backupset').map((row) => [row.backup_set_id, row]));
    const restores = new Map<string, number>();
    for (const row of msdb.rows('restorehistory')) {
      if (new Date(row.restore_date as Date).getTime() < facts.startedAt) continue;
      const set = sets.get(row.backup_set_id);
      const key = `${row.destination_database_name} from ${path.basename((set && devices.get(set.media_set_id)) ?? '?')}`;
      restores.set(key, (restores.get(key) ?? 0) + 1);
    }
    for (const [key, count] of restores)
      if (count > 1) problems.push(`${instance.label} restored ${key} ${count} times`);
  }
  const invocations = path.join(facts.estate.dir, '.sim', 'pool.json.invocations.jsonl');
  if (existsSync(invocations)) {
    const runs = new Map<string, number>();
    for (const line of readFileSync(invocations, 'utf8').split('\n').filter(Boolean)) {
      const { script, exitCode } = JSON.parse(line) as { script: string; exitCode: number };
      if (exitCode !== 0 || !/^(Set|Install|Invoke)-/.test(script)) continue;
      runs.set(script, (runs.get(script) ?? 0) + 1);
    }
    for (const [script, count] of runs) if (count > 1) problems.push(`the cmdlet ran ${count} times: ${script}`);
  }
  if (facts.cleanCounts) {
    for (const [key, count] of effectfulCounts(facts.estate, facts.startedAt))
      if (count > Math.max(1, facts.cleanCounts.get(key) ?? 0))
        problems.push(`ran ${count} times (the clean run: ${facts.cleanCounts.get(key) ?? 0}): ${key.slice(0, 200)}`);
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------ 6. workflow tasks

/** The run, its children (and theirs) and the pool's lock: every workflow the run made. */
async function workflowsOf(client: Client, report: RunbookReport, fqdn: string): Promise<string[]> {
  const ids = [report.workflowId, incidentLockId(fqdn)];
  const queue = [...report.children];
  while (queue.length > 0) {
    const child = queue.shift()!;
    ids.push(child.workflowId);
    const childReport = (await client.workflow
      .getHandle(child.workflowId)
      .result()
      .catch(() => null)) as RunbookReport | null;
    if (childReport) queue.push(...childReport.children);
  }
  return ids;
}

async function noWorkflowTaskFailure(client: Client, report: RunbookReport, fqdn: string): Promise<string[]> {
  const problems: string[] = [];
  for (const workflowId of await workflowsOf(client, report, fqdn)) {
    const history = await client.workflow
      .getHandle(workflowId)
      .fetchHistory()
      .catch(() => null);
    if (!history) continue;
    const events = (JSON.parse(historyToJSON(history)) as { events: Record<string, unknown>[] }).events;
    for (const event of events) {
      if (event.eventType !== 'EVENT_TYPE_WORKFLOW_TASK_FAILED') continue;
      const attributes = event.workflowTaskFailedEventAttributes as { cause?: string; failure?: { message?: string } };
      if (attributes.cause === 'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND') continue;
      problems.push(
        `workflow task failed in ${workflowId} (${attributes.cause}): ${attributes.failure?.message?.slice(0, 200) ?? ''}`,
      );
    }
  }
  return problems;
}

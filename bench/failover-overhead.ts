/**
 * What the orchestration adds to a failover, the thing an operator waits for during an outage. The failover runbook
 * (disaster, and planned) on a fresh simulated estate per round, its gates approved in-process the moment they open,
 * beside a bare script that sends the same statements and cmdlets in the same order (built with
 * activities/statements.ts, straight through mssql and the pool-control command) on an identical estate. With 0 and
 * with N pending log backups: each round runs all four on fresh estates, in an order that rotates from round to
 * round; every figure is a median of this one run.
 *
 * Pending logs are copied to the copy folder but not restored (the backlog a restore delay or a lagging restore job
 * leaves). The bare script reads only what a script must (which logs are still to restore, which sessions to end);
 * the difference is the runbook's own reads (evidence for the gates, read-before-act, verification), Temporal's round
 * trips and the Management Shell processes those reads start. Both use one connection pool per instance with the
 * socket-only validation the worker uses. Targets: ≤ 1.5x at 0 logs, ≤ 1.1x at N = 100.
 *
 *   npm run build && [BARE_SHELL=kept-open] node dist/bench/failover-overhead.js [rounds] [pending-logs] [disaster|planned]
 */
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import sql from 'mssql';
import { ACTIVITY_KINDS, type ActivityName } from '../workflows/activity-kinds';
import { processRunner } from '../activities/dependencies';
import { ManagementShells } from '../activities/management-shell-sessions';
import { sqlPathIn } from '../activities/files';
import {
  backupTailLog,
  deleteLogShippingSecondaryDatabase,
  installMirrorDatabase,
  killSession,
  partnerOff,
  recoverDatabase,
  restoreLog,
  setPersistentChatActiveServer,
  setPersistentChatState,
  type CmdletLine,
  type Statement,
} from '../activities/statements';
import { approveUpdate, pendingGatesQuery } from '../contracts/messages';
import { isLogBackupOf, tailLogBackupName } from '../contracts/log-shipping';
import type { RunbookReport } from '../contracts/run-record';
import { durationMs } from '../topology/durations';
import { driverEncryption } from '../topology/encryption';
import { resolveSecret } from '../topology/secrets';
import type { Topology } from '../topology/schema';
import type { TestEstate } from '../test/helpers/estate';
import { freshEstate, median, Meter, prepareLogShipping, startRig, type Rig } from './rig';

type Mode = 'disaster' | 'planned';

interface Run {
  ms: number;
  sqlStatements: number;
  restoreLogMs: number;
  headerMs: number;
  /** Management Shell scripts, and the time spent waiting for their answers. */
  spawns: number;
  spawnMs: number;
  /** Management Shell processes that ran them (one per script, or one kept open: poolControl.keepOpen). */
  shells?: number;
  /** Runbook only: time inside activities, split into read-only ones (evidence, checks) and acting ones. */
  readMs?: number;
  actMs?: number;
  activities?: number;
  /** From the gate opening (as the approver saw it) to the last approval counted. */
  gateMs?: number;
  workflowTasks?: number;
}

// ------------------------------------------------------------------------------------------------ the bare script

/**
 * How the bare script runs its cmdlets: a process per cmdlet through the pool-control command (`process`, the
 * default: what a script calling the command does), or in one shell kept open as the topology's keepOpen says
 * (`kept-open`: the same adapter as the runbook's, so the ratio is the orchestration's alone).
 */
const BARE_SHELL = (process.env.BARE_SHELL ?? 'process') as 'process' | 'kept-open';
const bareShells = new ManagementShells(processRunner);

/** The failover as a script: the statements and cmdlets the runbook sends, in its order, and nothing else. */
async function bareFailover(env: TestEstate, mode: Mode, meter: Meter): Promise<void> {
  const { topology } = env;
  const pools: sql.ConnectionPool[] = [];
  const connect = async (name: string) => {
    const instance = topology.instances.find((candidate) => candidate.name === name)!;
    const pool = new sql.ConnectionPool({
      server: instance.host,
      port: instance.port,
      user: instance.login,
      password: resolveSecret(instance.password),
      database: 'master',
      validateConnection: 'socket',
      options: driverEncryption(instance),
    } as sql.config);
    pools.push(pool);
    return pool.connect();
  };
  const send = async (pool: sql.ConnectionPool, statement: Statement) => {
    const request = pool.request();
    for (const [name, value] of Object.entries(statement.parameters)) request.input(name, value);
    return meter.sql(statement.text, request.query(statement.text));
  };
  const cmdlet = async (line: CmdletLine) => {
    const keepOpenMs = BARE_SHELL === 'kept-open' && topology.poolControl.keepOpen;
    const options = {
      timeoutMs: durationMs(topology.poolControl.timeout),
      keepOpenMs: keepOpenMs ? durationMs(keepOpenMs) : 0,
      pool: topology.pool.fqdn,
    };
    const result = await meter.spawn(bareShells.run(topology.poolControl.command, line.text, options));
    if (result.exitCode !== 0) throw new Error(`${line.cmdlet} failed: ${result.stderr}`);
  };
  // Microsoft: sp_who2, then KILL each session using the database.
  const endSessions = async (pool: sql.ConnectionPool) => {
    const sessions = await send(pool, {
      text: `SELECT s.session_id FROM sys.dm_exec_sessions s
              WHERE s.database_id = DB_ID(@database) AND s.session_id <> @@SPID AND s.is_user_process = 1`,
      parameters: { database: 'mgc' },
    });
    for (const row of sessions.recordset as { session_id: number }[]) await send(pool, killSession(row.session_id));
  };
  const identity = topology.pool.identity ?? `service:${topology.pool.fqdn}`;
  const { backupShare: share, copyFolder } = topology;
  try {
    let tail: string | null = null;
    if (mode === 'planned') {
      await cmdlet(setPersistentChatActiveServer(identity, []));
      const principal = await connect('dc1-sql-a');
      await send(principal, partnerOff('mgc'));
      await endSessions(principal);
      tail = tailLogBackupName('mgc', new Date());
      await send(principal, backupTailLog('mgc', sqlPathIn(share.sqlPath, tail)));
    }
    const backup = await connect('dc2-sql-a');
    const lastRestored = (
      await send(backup, {
        text: 'SELECT last_restored_file FROM msdb.dbo.log_shipping_monitor_secondary WHERE secondary_database = @database',
        parameters: { database: 'mgc' },
      })
    ).recordset[0]?.last_restored_file as string | undefined;
    await send(backup, deleteLogShippingSecondaryDatabase('mgc'));
    const copied = new Set(await readdir(copyFolder.workerPath));
    for (const name of (await readdir(share.workerPath)).filter((file) => isLogBackupOf(file, 'mgc')))
      if (!copied.has(name)) await copyFile(path.join(share.workerPath, name), path.join(copyFolder.workerPath, name));
    const after = lastRestored ? path.basename(lastRestored.replace(/\\/g, '/')) : '';
    const logs = (await readdir(copyFolder.workerPath))
      .filter((name) => isLogBackupOf(name, 'mgc') && name > after && name !== tail)
      .sort();
    for (const name of tail ? [...logs, tail] : logs)
      await send(backup, restoreLog('mgc', sqlPathIn(copyFolder.sqlPath, name)));
    await endSessions(backup);
    await send(backup, recoverDatabase('mgc'));
    await cmdlet(setPersistentChatState(identity, 'FailedOver'));
    const dc2 = topology.instances.find((candidate) => candidate.name === 'dc2-sql-a')!;
    await cmdlet(installMirrorDatabase('PersistentChat', dc2.host, dc2.instanceName, share.sqlPath));
    await cmdlet(setPersistentChatActiveServer(identity, topology.pool.servers.dc2));
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
}

// ------------------------------------------------------------------------------------------------ the runbook

/** Approves every gate of the run the moment it shows up (polling every 25 ms), as its first required approvers. */
async function approver(handle: WorkflowHandle, done: () => boolean): Promise<number> {
  const answered = new Set<string>();
  let gateMs = 0;
  while (!done()) {
    const gates = await handle.query(pendingGatesQuery).catch(() => []);
    for (const gate of gates.filter((candidate) => !answered.has(candidate.id))) {
      const seen = performance.now();
      answered.add(gate.id);
      const version = gate.evidence?.version ?? 'none';
      for (const by of gate.approvers.slice(0, gate.required))
        await handle.executeUpdate(approveUpdate, { args: [{ gate: gate.id, by, evidenceVersion: version }] });
      gateMs += performance.now() - seen;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return gateMs;
}

async function runbookFailover(rig: Rig, env: TestEstate, mode: Mode): Promise<Run> {
  rig.serve([env]);
  rig.meter.reset();
  const started = performance.now();
  const handle = await rig.start('failover', env, { mode });
  let finished = false;
  const approving = approver(handle, () => finished);
  const report = (await handle.result().finally(() => (finished = true))) as RunbookReport;
  const ms = performance.now() - started;
  const gateMs = await approving;
  if (report.outcome !== 'succeeded') throw new Error(`failover ${report.outcome}: ${report.outcomeReason}`);
  const { meter } = rig;
  const isRead = (name: string) => ['read', 'long-read'].includes(ACTIVITY_KINDS[name as ActivityName]);
  const sum = (read: boolean) =>
    meter.activities.filter((entry) => isRead(entry.name) === read).reduce((total, entry) => total + entry.ms, 0);
  let workflowTasks = 0;
  for (const event of (await handle.fetchHistory()).events ?? [])
    if (event.workflowTaskCompletedEventAttributes) workflowTasks++;
  return {
    ms,
    sqlStatements: meter.sqlStatements,
    restoreLogMs: meter.restoreLogMs,
    headerMs: meter.headerMs,
    spawns: meter.spawns,
    spawnMs: meter.spawnMs,
    readMs: sum(true),
    actMs: sum(false),
    activities: meter.activities.length,
    gateMs,
    workflowTasks,
  };
}

// ------------------------------------------------------------------------------------------------ rounds

async function prepare(rig: Rig, mode: Mode, logs: number): Promise<TestEstate> {
  const env = await freshEstate(`bench-${mode}`);
  rig.serve([env]);
  await prepareLogShipping(rig, env, logs);
  if (mode === 'disaster') await Promise.all(['dc1-sql-a', 'dc1-sql-b'].map((name) => env.estate.stopInstance(name)));
  return env;
}

/** Both ended where a failover ends: DC2 serves mgc, mirrored, the pool failed over to DC2's servers. */
function checkFailedOver(env: TestEstate, topology: Topology, who: string): void {
  const snapshot = env.estate.snapshot();
  const mgc = snapshot.instances
    .find((instance) => instance.name === 'dc2-sql-a')!
    .databases.find((database) => database.name === 'mgc');
  if (mgc?.state !== 'ONLINE' || mgc.mirroring?.role !== 'PRINCIPAL' || snapshot.pool.poolState !== 'FailedOver')
    throw new Error(`${who} did not fail over: ${JSON.stringify({ mgc, pool: snapshot.pool })}`);
  if (JSON.stringify([...snapshot.pool.activeServers].sort()) !== JSON.stringify([...topology.pool.servers.dc2].sort()))
    throw new Error(`${who}: active servers ${snapshot.pool.activeServers.join(', ')}`);
}

/** The stand-in shell's processes that ran this estate's scripts: its invocation log records each one's pid. */
function shellProcesses(env: TestEstate): number {
  const log = `${env.estate.poolStateFile}.invocations.jsonl`;
  if (!existsSync(log)) return 0;
  const lines = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  return new Set(lines.map((line) => (JSON.parse(line) as { pid: number }).pid)).size;
}

type Results = { runbook: Run[]; bare: Run[] };

/**
 * `rounds` rounds of four runs on four fresh estates: the runbook and the bare script, with 0 and with `pending`
 * logs, in an order that rotates each round; so each round also gives what the pending logs added to each side.
 */
async function measure(rig: Rig, mode: Mode, pending: number, rounds: number): Promise<Map<number, Results>> {
  const results = new Map([0, pending].map((logs) => [logs, { runbook: [] as Run[], bare: [] as Run[] }]));
  for (let round = 0; round < rounds; round++) {
    const runs: (() => Promise<void>)[] = [];
    const estates: TestEstate[] = [];
    for (const logs of [0, pending]) {
      const [forRunbook, forBare] = [await prepare(rig, mode, logs), await prepare(rig, mode, logs)];
      estates.push(forRunbook, forBare);
      const into = results.get(logs)!;
      runs.push(async () => {
        const run = await runbookFailover(rig, forRunbook, mode);
        into.runbook.push({ ...run, shells: shellProcesses(forRunbook) });
        checkFailedOver(forRunbook, forRunbook.topology, 'the runbook');
      });
      runs.push(async () => {
        rig.meter.reset();
        const started = performance.now();
        await bareFailover(forBare, mode, rig.meter);
        const { sqlStatements, restoreLogMs, headerMs, spawns, spawnMs } = rig.meter;
        const ms = performance.now() - started;
        into.bare.push({ ms, sqlStatements, restoreLogMs, headerMs, spawns, spawnMs, shells: shellProcesses(forBare) });
        checkFailedOver(forBare, forBare.topology, 'the bare script');
      });
    }
    for (let index = 0; index < runs.length; index++) {
      // A fresh worker-side state for each: no connection pool carried over from the preparation.
      await rig.deps.sql.closeAll();
      await runs[(index + round) % runs.length]();
    }
    await rig.deps.sql.closeAll();
    await Promise.all(estates.map((env) => env.close()));
    const last = (logs: number, side: keyof Results) => s(results.get(logs)![side].at(-1)!.ms);
    process.stderr.write(
      `  ${mode} round ${round + 1}: 0 logs runbook ${last(0, 'runbook')}, bare ${last(0, 'bare')}; ${pending} logs runbook ${last(pending, 'runbook')}, bare ${last(pending, 'bare')}\n`,
    );
  }
  return results;
}

const m = (runs: Run[], key: keyof Run) => median(runs.map((run) => run[key] ?? 0));
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function print(mode: Mode, logs: number, { runbook, bare }: Results, target: number): void {
  const ratio = m(runbook, 'ms') / m(bare, 'ms');
  console.log(`\n${mode} failover, ${logs} pending log backup(s), ${runbook.length} rounds (medians)`);
  console.log(`  runbook      ${s(m(runbook, 'ms')).padStart(8)}   bare script ${s(m(bare, 'ms')).padStart(8)}`);
  console.log(`  ratio runbook / bare script: ${ratio.toFixed(2)}x (target ≤ ${target}x)`);
  console.log(
    `  SQL statements        ${String(m(runbook, 'sqlStatements')).padStart(5)} vs ${m(bare, 'sqlStatements')}`,
  );
  console.log(
    `  Management Shell      ${String(m(runbook, 'spawns')).padStart(5)} vs ${m(bare, 'spawns')} scripts in ${m(runbook, 'shells')} vs ${m(bare, 'shells')} processes (${s(m(runbook, 'spawnMs'))} vs ${s(m(bare, 'spawnMs'))} waiting for them)`,
  );
  console.log(
    `  activities            ${String(m(runbook, 'activities')).padStart(5)}, workflow tasks ${m(runbook, 'workflowTasks')}`,
  );
  const rest = median(runbook.map((run) => run.ms - run.readMs! - run.actMs! - run.gateMs!));
  console.log(`  where the runbook's time goes (the bare script's is all acting):`);
  console.log(`    read-only steps (evidence, checks)  ${s(m(runbook, 'readMs'))}`);
  console.log(`    acting steps (with their own reads) ${s(m(runbook, 'actMs'))}`);
  console.log(`    gates (updates to two approvals)    ${s(m(runbook, 'gateMs'))}`);
  console.log(`    Temporal round trips and the rest   ${s(rest)}`);
}

/**
 * What each pending log costs, timed statement by statement within the runs with N logs (the wall times of single
 * runs vary by more than N logs take): the runbook restores it and, once, verifies and reads its header before the
 * declaration (docs/runbooks.md rule 9); the script only restores it.
 */
function perLog(mode: Mode, logs: number, none: Results, many: Results): void {
  const per = (runs: Run[], key: 'restoreLogMs' | 'headerMs') => m(runs, key) / logs;
  const statements = (side: keyof Results) => (m(many[side], 'sqlStatements') - m(none[side], 'sqlStatements')) / logs;
  const runbook = per(many.runbook, 'restoreLogMs') + per(many.runbook, 'headerMs');
  const bare = per(many.bare, 'restoreLogMs');
  console.log(
    `\n${mode} failover, each pending log: runbook ${runbook.toFixed(1)} ms (restore ${per(many.runbook, 'restoreLogMs').toFixed(1)}, header verified and read ${per(many.runbook, 'headerMs').toFixed(1)}), bare script ${bare.toFixed(1)} ms (restore): ${(runbook / bare).toFixed(2)}x; SQL statements ${statements('runbook')} vs ${statements('bare')}`,
  );
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const pending = Number(process.argv[3] ?? 100);
  const modes = (process.argv[4] ? [process.argv[4]] : ['disaster', 'planned']) as Mode[];
  console.log(`the bare script's cmdlets: ${BARE_SHELL === 'process' ? 'a process each' : 'in one shell kept open'}`);
  const first = await freshEstate('bench-warm-up');
  const rig = await startRig(first);
  try {
    // Warm-up: JIT, the workflow bundle's isolate, the dev server's caches; not measured.
    await prepare(rig, 'planned', 0).then(async (env) => {
      await runbookFailover(rig, env, 'planned');
      await env.close();
    });
    await first.close();
    for (const mode of modes) {
      const results = await measure(rig, mode, pending, rounds);
      print(mode, 0, results.get(0)!, 1.5);
      print(mode, pending, results.get(pending)!, 1.1);
      perLog(mode, pending, results.get(0)!, results.get(pending)!);
    }
  } finally {
    bareShells.closeAll();
    await rig.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

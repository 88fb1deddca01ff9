/**
 * One worker for a fleet: a `pchat-dr worker` process serving N simulated pools (N = 1, 10, 50), a planned mirror
 * failover started on every pool at once, then one back to the primary (two waves). Per N it prints the p50 and p95
 * step latency (a step from the workflow task that schedules it to the one that sees it finish, as the run's report
 * times it: queueing included), the time of a wave, the worker's peak RSS and CPU, and where a step's time goes
 * (from the runs' histories). Rounds rotate the order of N; every figure comes from this run. Target: p95 at N = 50
 * within 2x N = 1, peak RSS ≤ 1 GiB. CPU pressure is the share of the time some runnable task of the machine waited
 * for a CPU (Linux PSI): on a shared machine, what the others left.
 *
 * Every estate runs in this process: 4N simulated instances on one Node thread, which caps the simulator at one of
 * the machine's cores and leaves the other to the worker and the Temporal server. More simulator processes would
 * only take CPU from the worker being measured. The mirror failover's gate is waived in these estates (nobody to
 * wait for); the run still gathers the gate's evidence.
 *
 *   npm run build && node dist/bench/fleet.js [sizes, default 1,10,50] [rounds, default 2] [worker flags...]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { WORKFLOW_TYPES, type RunbookInput } from '../contracts/runbooks';
import type { RunbookReport } from '../contracts/run-record';
import { PROJECT_ROOT } from '../runtime/package';
import { startDevServer, type DevServer } from '../scripts/dev-server';
import { ensureTemporalCli } from '../scripts/temporal-cli';
import { startTestEstate, type TestEstate } from '../test/helpers/estate';
import { median, percentile } from './rig';

/** Where a step's time goes, from the runs' histories (ms). */
interface Phases {
  /** Activity scheduled → started: the server matching it and the worker polling it. */
  activityQueue: number[];
  /** Activity started → completed: the step's own work in the worker (SQL against the simulated estate). */
  activityRun: number[];
  /** Workflow task scheduled → started, and started → completed (in the worker). */
  workflowTaskQueue: number[];
  workflowTaskRun: number[];
}

interface Sample {
  n: number;
  stepMs: number[];
  /** Step latencies by step name. */
  byStep: Map<string, number[]>;
  phases: Phases;
  /** Median time of a wave. */
  waveMs: number;
  peakRssMiB: number;
  /** CPU over the waves, % of one core: the worker, this process (every simulated estate), the Temporal server. */
  workerCpu: number;
  simulatorCpu: number;
  serverCpu: number;
  /** Share of the waves' time in which some runnable task of the machine waited for a CPU (Linux PSI). */
  cpuPressure: number;
}

const CLOCK_TICKS = 100;

/** A process's CPU seconds so far (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A process's peak resident set (VmHWM), MiB. */
function peakRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((candidate) => candidate.startsWith('VmHWM:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** Microseconds so far in which some runnable task waited for a CPU (/proc/pressure/cpu), or NaN without PSI. */
function cpuStalledMicros(): number {
  try {
    return Number(/^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'))![1]);
  } catch {
    return Number.NaN;
  }
}

/** `pchat-dr worker` serving these estates; resolves once it says it is ready. */
async function startWorker(address: string, taskQueue: string, estates: TestEstate[], flags: string[]) {
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(PROJECT_ROOT, 'dist', 'client', 'cli.js'), 'worker', '--task-queue', taskQueue, ...flags],
    {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: address,
        PCHAT_DR_METRICS_ADDRESS: 'off',
        PCHAT_DR_ESTATES: estates.map((env) => env.topologyFile).join(path.delimiter),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (!seen.includes('"msg":"worker ready"')) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      resolve();
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`the worker exited (${code}) before it was ready:\n${seen}`)));
  });
  return { child, exited };
}

/** N fresh estates, one worker for them all, and a mirror failover on every pool at once: to the mirror, then back. */
async function round(client: Client, server: DevServer, n: number, flags: string[]): Promise<Sample> {
  // The approval of a planned mirror failover is waived: the fleet's runs wait for nobody.
  const waive = (yaml: string) =>
    yaml.replace(/^ {2}gates:\n/m, '  gates:\n    approve-mirror-failover:\n      waived: true\n');
  const estates: TestEstate[] = [];
  for (let index = 0; index < n; index++) {
    const fqdn = `fleet-${n}-${index}-${Date.now()}.sim.local`;
    estates.push(await startTestEstate({ edit: (yaml) => waive(yaml.replaceAll('pchat.sim.local', fqdn)) }));
  }
  const taskQueue = `fleet-${n}-${Date.now()}`;
  const worker = await startWorker(server.address, taskQueue, estates, flags);
  const failOver = async (env: TestEstate, to: string, workflowId: string) => {
    const input: RunbookInput = {
      pool: env.topology.pool.fqdn,
      initiator: 'erin',
      reason: 'fleet benchmark',
      options: { to },
    };
    const handle = await client.workflow.start(WORKFLOW_TYPES['mirror-failover'], {
      taskQueue,
      workflowId,
      args: [input],
    });
    return (await handle.result()) as RunbookReport;
  };
  const phases: Phases = { activityQueue: [], activityRun: [], workflowTaskQueue: [], workflowTaskRun: [] };
  const readPhases = async (workflowId: string) => {
    const at = new Map<number, number>();
    for (const event of (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? []) {
      const time = tsToMs(event.eventTime);
      at.set(Number(event.eventId), time);
      const since = (id: unknown) => time - at.get(Number(id))!;
      if (event.activityTaskStartedEventAttributes)
        phases.activityQueue.push(since(event.activityTaskStartedEventAttributes.scheduledEventId));
      if (event.activityTaskCompletedEventAttributes)
        phases.activityRun.push(since(event.activityTaskCompletedEventAttributes.startedEventId));
      if (event.workflowTaskStartedEventAttributes) phases.workflowTaskQueue.push(since(Number(event.eventId) - 1));
      if (event.workflowTaskCompletedEventAttributes)
        phases.workflowTaskRun.push(since(event.workflowTaskCompletedEventAttributes.startedEventId));
    }
  };
  try {
    // Warm-up, not measured: the first run of a fresh worker pays for cold code paths (about a second here).
    for (const to of ['mirror', 'primary']) await failOver(estates[0], to, `${taskQueue}-warm-up-${to}`);
    const pid = worker.child.pid!;
    const before = {
      worker: cpuSeconds(pid),
      server: cpuSeconds(server.process.pid!),
      own: process.cpuUsage(),
      stalled: cpuStalledMicros(),
    };
    const stepMs: number[] = [];
    const byStep = new Map<string, number[]>();
    const waveMs: number[] = [];
    for (const to of ['mirror', 'primary']) {
      const started = performance.now();
      const reports = await Promise.all(estates.map((env, index) => failOver(env, to, `${taskQueue}-${to}-${index}`)));
      waveMs.push(performance.now() - started);
      const failed = reports.filter((report) => report.outcome !== 'succeeded');
      if (failed.length > 0)
        throw new Error(`${failed.length} run(s) did not succeed: ${failed[0].outcome} ${failed[0].outcomeReason}`);
      for (const report of reports)
        for (const step of report.steps) {
          if (!step.startedAt || !step.finishedAt) continue;
          const ms = Date.parse(step.finishedAt) - Date.parse(step.startedAt);
          stepMs.push(ms);
          byStep.set(step.name, [...(byStep.get(step.name) ?? []), ms]);
        }
    }
    const busy = waveMs.reduce((sum, ms) => sum + ms, 0) / 1000;
    const own = process.cpuUsage(before.own);
    const sample: Sample = {
      n,
      stepMs,
      byStep,
      phases,
      waveMs: median(waveMs),
      peakRssMiB: peakRssMiB(pid),
      workerCpu: (100 * (cpuSeconds(pid) - before.worker)) / busy,
      simulatorCpu: (100 * (own.user + own.system)) / 1e6 / busy,
      serverCpu: (100 * (cpuSeconds(server.process.pid!) - before.server)) / busy,
      cpuPressure: (100 * (cpuStalledMicros() - before.stalled)) / 1e6 / busy,
    };
    for (const to of ['mirror', 'primary'])
      await Promise.all(estates.map((_, index) => readPhases(`${taskQueue}-${to}-${index}`)));
    return sample;
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
    await Promise.all(estates.map((env) => env.close()));
  }
}

function print(samples: Sample[], sizes: number[], rounds: number, flags: string[]): void {
  const of = (n: number) => samples.filter((sample) => sample.n === n);
  const all = <T>(n: number, pick: (sample: Sample) => T[]) => of(n).flatMap(pick);
  const ms = (value: number) => `${value.toFixed(0)} ms`;
  console.log(
    `planned mirror failover started on N pools at once, one worker process${flags.length ? ` (${flags.join(' ')})` : ''}, ${rounds} round(s) of two waves`,
  );
  console.log(
    '      N   steps   p50 step   p95 step   one wave   peak RSS   CPU: worker / estates / Temporal   CPU pressure',
  );
  for (const n of sizes) {
    const steps = all(n, (sample) => sample.stepMs);
    const cpu = (pick: (sample: Sample) => number) => `${median(of(n).map(pick)).toFixed(0)}%`;
    console.log(
      `  ${String(n).padStart(5)} ${String(steps.length).padStart(7)} ${ms(percentile(steps, 50)).padStart(10)} ${ms(percentile(steps, 95)).padStart(10)} ${`${(median(of(n).map((sample) => sample.waveMs)) / 1000).toFixed(1)} s`.padStart(10)} ${`${Math.max(...of(n).map((sample) => sample.peakRssMiB)).toFixed(0)} MiB`.padStart(10)}   ${`${cpu((sample) => sample.workerCpu)} / ${cpu((sample) => sample.simulatorCpu)} / ${cpu((sample) => sample.serverCpu)} of a core`.padEnd(32)} ${cpu((sample) => sample.cpuPressure)}`,
    );
  }
  console.log(`  where a step's time goes, p50 / p95 (N = ${sizes.join(' / ')}, from the histories):`);
  const labels = {
    activityQueue: 'activity scheduled → started',
    activityRun: 'activity started → completed',
    workflowTaskQueue: 'workflow task scheduled → started',
    workflowTaskRun: 'workflow task started → completed',
  } as const;
  for (const [phase, label] of Object.entries(labels) as [keyof Phases, string][]) {
    const figures = sizes.map((n) => {
      const values = all(n, (sample) => sample.phases[phase]);
      return `${median(values).toFixed(0)} / ${ms(percentile(values, 95))}`;
    });
    console.log(`    ${label.padEnd(34)} ${figures.join('   ')}`);
  }
  const [smallest, largest] = [Math.min(...sizes), Math.max(...sizes)];
  const byStep = (n: number) => {
    const merged = new Map<string, number[]>();
    for (const sample of of(n))
      for (const [name, values] of sample.byStep) merged.set(name, [...(merged.get(name) ?? []), ...values]);
    return merged;
  };
  const [few, many] = [byStep(smallest), byStep(largest)];
  console.log(`  p50 by step, N = ${smallest} → N = ${largest}:`);
  // A step the runs at one size did not take (the mirror already synchronized: no wait) shows as a dash.
  const p50 = (values: number[] | undefined) => (values?.length ? ms(median(values)) : '—');
  for (const [name, values] of few)
    console.log(`    ${name.padEnd(24)} ${p50(values).padStart(8)} → ${p50(many.get(name))}`);
  const p95 = (n: number) =>
    percentile(
      all(n, (sample) => sample.stepMs),
      95,
    );
  const peak = Math.max(...samples.map((sample) => sample.peakRssMiB));
  console.log(
    `  ratio p95 step N = ${largest} / N = ${smallest}: ${(p95(largest) / p95(smallest)).toFixed(2)}x (target ≤ 2x); peak RSS ${peak.toFixed(0)} MiB (target ≤ 1024 MiB)`,
  );
}

async function main(): Promise<void> {
  const sizes = (process.argv[2] ?? '1,10,50').split(',').map(Number);
  const rounds = Number(process.argv[3] ?? 2);
  const flags = process.argv.slice(4);
  const server = await startDevServer({ cli: await ensureTemporalCli() });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const samples: Sample[] = [];
  try {
    for (let index = 0; index < rounds; index++) {
      // Rotate which N goes first, so a noisy neighbour does not always hit the same one.
      for (let turn = 0; turn < sizes.length; turn++) {
        const n = sizes[(turn + index) % sizes.length];
        const sample = await round(client, server, n, flags);
        samples.push(sample);
        process.stderr.write(
          `  round ${index + 1}, N = ${n}: wave ${(sample.waveMs / 1000).toFixed(1)} s, p95 step ${percentile(sample.stepMs, 95)} ms, peak RSS ${sample.peakRssMiB.toFixed(0)} MiB\n`,
        );
      }
    }
  } finally {
    await connection.close();
    await server.stop();
  }
  print(samples, sizes, rounds, flags);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * `pchat-dr demo`, run as a user runs it: the built CLI in its own process, with its own Temporal dev server, Web UI,
 * simulated estate and worker. The whole story with --keep (every runbook succeeds; the summary has RTO, RPO and
 * messages lost; the runs are in the Web UI's HTTP API and answer the CLI while it keeps running; Ctrl+C then ends it
 * cleanly, exit 0); and Ctrl+C in the middle of the story (--interactive, at a gate, after answering one gate with
 * the command it printed) stops everything: exit 130, no instance port and no dev server left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTemporalCli } from '../../scripts/temporal-cli';
import { CLI_PATH, runCli } from '../helpers/cli';
import { eventually } from '../helpers/estate';

interface DemoProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Waits until stdout matches (or fails with what the demo printed, if it ended or took too long). */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
}

let temporalCli: string;
const started: DemoProcess[] = [];

beforeAll(async () => {
  // Built (or found) once by the suite's global setup: the demo must not build it again.
  temporalCli = await ensureTemporalCli();
});

afterEach(async () => {
  // A failed test must not leave a demo (and its dev server) running.
  for (const demo of started.splice(0)) {
    if (demo.child.exitCode !== null || demo.child.signalCode !== null) continue;
    demo.child.kill('SIGINT');
    const timer = setTimeout(() => demo.child.kill('SIGKILL'), 60_000);
    await demo.exited;
    clearTimeout(timer);
  }
});

function startDemo(args: string[]): DemoProcess {
  const child = spawn(process.execPath, [CLI_PATH, 'demo', ...args], {
    env: { ...process.env, TEMPORAL_CLI: temporalCli },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    waiters.forEach((wake) => wake());
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => waiters.forEach((wake) => wake()));
  const waitFor = (pattern: RegExp, timeoutMs: number) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`the demo did not print ${pattern} within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      const check = () => {
        const match = stdout.match(pattern);
        if (match) return finish(null, match);
        if (child.exitCode !== null || child.signalCode !== null)
          finish(new Error(`the demo ended (${child.exitCode ?? child.signalCode}) before printing ${pattern}`));
      };
      const finish = (error: Error | null, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        const index = waiters.indexOf(check);
        if (index >= 0) waiters.splice(index, 1);
        if (error)
          reject(
            new Error(
              `${error.message}\n--- stdout ---\n${stdout.slice(-6000)}\n--- stderr ---\n${stderr.slice(-3000)}`,
            ),
          );
        else resolve(match!);
      };
      waiters.push(check);
      check();
    });
  const demo = { child, stdout: () => stdout, stderr: () => stderr, exited, waitFor };
  started.push(demo);
  return demo;
}

/** Whether something accepts connections on the loopback port. */
function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Processes whose command line is a Temporal dev server on this gRPC port (Linux: /proc). */
function devServersOn(port: number): number[] {
  if (!existsSync('/proc')) return [];
  const found: number[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes('start-dev') && args[args.indexOf('--port') + 1] === String(port)) found.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

/** What the demo printed about where its parts listen. */
function addressesOf(stdout: string) {
  const ui = stdout.match(/^ {2}Temporal Web UI +(http:\/\/127\.0\.0\.1:(\d+))$/m);
  const server = stdout.match(/^ {2}Temporal dev server +127\.0\.0\.1:(\d+) /m);
  const instances = [...stdout.matchAll(/^ {4}(dc\d-sql-[ab]) +(127\.0\.0\.\d+):(\d+) /gm)].map((match) => ({
    name: match[1],
    host: match[2],
    port: Number(match[3]),
  }));
  expect(ui, stdout).toBeTruthy();
  expect(server, stdout).toBeTruthy();
  expect(instances.map((instance) => instance.name)).toEqual(['dc1-sql-a', 'dc1-sql-b', 'dc2-sql-a', 'dc2-sql-b']);
  return {
    uiUrl: ui![1],
    uiPort: Number(ui![2]),
    grpcPort: Number(server![1]),
    address: `127.0.0.1:${server![1]}`,
    instances,
  };
}

async function expectEverythingStopped(addresses: ReturnType<typeof addressesOf>): Promise<void> {
  for (const { name, host, port } of addresses.instances)
    expect(await listening(port, host), `${name} still listens on ${host}:${port}`).toBe(false);
  expect(await listening(addresses.grpcPort), 'the dev server still listens').toBe(false);
  expect(await listening(addresses.uiPort), 'the Web UI still listens').toBe(false);
  expect(devServersOn(addresses.grpcPort)).toEqual([]);
}

describe('pchat-dr demo', () => {
  it(
    'tells the whole story, keeps the runs browsable in the Web UI (--keep), and stops cleanly on Ctrl+C',
    { timeout: 900_000 },
    async () => {
      const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-demo-')), 'demo');
      const demo = startDemo(['--keep', '--state', state]);
      // The last line of what --keep prints: the output read below then holds all of it (it arrives in chunks).
      await demo.waitFor(/^Still running \(--keep\)[\s\S]*^ {4}npx pchat-dr sim status -f /m, 720_000);
      const out = demo.stdout();
      const addresses = addressesOf(out);

      // It used the Temporal CLI it was given, and did not build one.
      expect(out).toContain(`Temporal CLI         ${temporalCli}`);
      expect(out).not.toMatch(/Building the Temporal CLI/);

      // Every runbook of the story ran and succeeded, in the story's order.
      const ended = [...out.matchAll(/^ {2}(\S+) (\S+) ended (\S+)$/gm)].map((match) => [match[1], match[3]]);
      expect(ended).toEqual([
        ['setup-log-shipping', 'succeeded'],
        ['setup-mirror-log-shipping', 'succeeded'],
        ['mirror-failover', 'succeeded'],
        ['mirror-failover', 'succeeded'],
        ['failover', 'succeeded'],
        ['failback', 'succeeded'],
      ]);
      expect(out).toContain('The story is done: every runbook succeeded.');
      // The gates were answered by named people; the on-call initiator approved none.
      expect(out).toMatch(/^ {2}carol approves declare-disaster \(".*", signed\): .*1 of 2/m);
      expect(out).toMatch(
        /^ {2}dave approves declare-disaster \(".*", signed\): declare-disaster approved \(2 of 2\)/m,
      );
      expect(out).not.toMatch(/^ {2}erin approves/m);

      // The summary: one block per run, with RTO, RPO, service interruption and messages lost.
      const summary = out.slice(out.indexOf('\nSummary: '));
      // A run's time may have several parts ("1m 5s" on a busy machine): the rest of its line.
      const runs = [
        ...summary.matchAll(
          /^ {2}\[(\d)\] (\S+)((?: --\S+ \S+)*) (\S+) (\S+) in [^\n]+\n +RTO (.+?) \| RPO (.+?) \| service interruption (.+?) \| messages lost (\d+)$/gm,
        ),
      ].map((match) => ({
        runbook: match[2],
        options: match[3].trim(),
        workflowId: match[4],
        outcome: match[5],
        rto: match[6],
        rpo: match[7],
        interruption: match[8],
        lost: Number(match[9]),
      }));
      expect(runs.map((run) => [run.runbook, run.options, run.outcome])).toEqual([
        ['setup-log-shipping', '', 'succeeded'],
        ['setup-mirror-log-shipping', '', 'succeeded'],
        ['mirror-failover', '--to mirror', 'succeeded'],
        ['mirror-failover', '--to primary', 'succeeded'],
        ['failover', '--mode disaster', 'succeeded'],
        ['failback', '', 'succeeded'],
      ]);
      const duration = /^\d+(\.\d+)?(ms|s|m)\b/;
      const [, , toMirror, toPrimary, failover, failback] = runs;
      // The planned parts lose nothing.
      for (const planned of [runs[0], runs[1], toMirror, toPrimary, failback])
        expect(planned.lost, `${planned.runbook} ${planned.options}`).toBe(0);
      expect(failover.rto).toMatch(duration);
      expect(failover.rto).toMatch(/objective 10m: met/);
      // The data-loss window as bounds: from the recovery point to the newest log backup, and to DC1's last sighting.
      expect(failover.rpo).toMatch(/^between \d+(\.\d+)?(ms|s|m) and \d+(\.\d+)?(ms|s|m) \(objective 1m: /);
      expect(failover.rpo).toMatch(/recovery point \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
      expect(failback.interruption).toMatch(duration);
      // The disaster's loss is counted and explained by the recovery point.
      expect(out).toMatch(
        new RegExp(
          `^ {2}\\d+ messages were acknowledged to chat clients before DC1 was lost; dc2-sql-a holds \\d+ of them; ${failover.lost} lost$`,
          'm',
        ),
      );
      expect(out).toContain('verified: every lost message was posted after the recovery point');

      // While it keeps running, the runs are in the Temporal Web UI (UI server 2.x: its HTTP API under /api/v1).
      const query = encodeURIComponent('WorkflowType="failover"');
      const listed = await eventually(
        async () => {
          const response = await fetch(`${addresses.uiUrl}/api/v1/namespaces/default/workflows?query=${query}`);
          if (!response.ok || !response.headers.get('content-type')?.includes('application/json')) return null;
          const body = (await response.json()) as {
            executions?: { execution: { workflowId: string }; type: { name: string }; status: string }[];
          };
          return body.executions?.find((execution) => execution.execution.workflowId === failover.workflowId);
        },
        30_000,
        `the failover run in the Web UI's workflow list`,
      );
      expect(listed).toMatchObject({ type: { name: 'failover' }, status: 'WORKFLOW_EXECUTION_STATUS_COMPLETED' });
      const page = await fetch(
        `${addresses.uiUrl}/namespaces/default/workflows/${encodeURIComponent(failover.workflowId)}`,
      );
      expect(page.status).toBe(200);

      // ... and the CLI works against it, as the demo says.
      expect(out).toContain(`export TEMPORAL_ADDRESS=${addresses.address} PCHAT_DR_TASK_QUEUE=pchat-dr-demo`);
      const env = {
        TEMPORAL_ADDRESS: addresses.address,
        PCHAT_DR_TASK_QUEUE: 'pchat-dr-demo',
        TEMPORAL_CONFIG_FILE: path.join(state, 'temporal.toml'),
      };
      const report = await runCli(['report', failover.workflowId], { env });
      expect(report.code, report.stderr).toBe(0);
      expect(report.stdout).toMatch(/\*\*RTO\*\* /);
      expect(report.stdout).toMatch(/declare-disaster: approved/);
      // Signed: the start by erin, both declarations; every signature verifies again against the demo's signers.
      expect(report.stdout).toMatch(/^ {2}- carol at .*; signed, ED25519 SHA256:\S+\)$/m);
      expect(report.stdout).toContain('## Signed messages');
      const verify = await runCli(
        ['report', failover.workflowId, '--verify', '--allowed-signers', path.join(state, 'allowed_signers')],
        { env },
      );
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(verify.stdout).toMatch(
        /^ok {6}start by erin: .*\nok {6}approve declare-disaster by carol: .*\nok {6}approve declare-disaster by dave: /m,
      );
      // Each run's Markdown report is in the state folder too.
      expect(readFileSync(path.join(state, 'reports', `${failback.workflowId}.md`), 'utf8')).toMatch(
        /^# failback on pchat\.sim\.local: succeeded/,
      );

      // Ctrl+C ends it: after the story (--keep), that is the normal end, exit 0.
      demo.child.kill('SIGINT');
      expect(await demo.exited, demo.stderr()).toBe(0);
      expect(demo.stderr()).toMatch(/Ctrl\+C: stopping the worker, the simulated estate and the Temporal dev server/);
      expect(demo.stdout()).toMatch(/Stopped the worker, the simulated estate and the Temporal dev server\.\n$/);
      await expectEverythingStopped(addresses);
    },
  );

  it(
    'stops everything on Ctrl+C in the middle of the story (--interactive, at a gate): exit 130',
    { timeout: 300_000 },
    async () => {
      const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-demo-')), 'demo');
      const demo = startDemo(['--interactive', '--state', state]);

      // At the first gate it prints the exact commands, with the address and task queue, and waits for them.
      const first = await demo.waitFor(
        /^ {7}export (TEMPORAL_ADDRESS=\S+ PCHAT_DR_TASK_QUEUE=\S+)\n {7}npx pchat-dr approve (\S+) --gate approve-mirror-log-shipping --as (\w+) --comment "([^"]*)" --sign (\S+)$/m,
        240_000,
      );
      const addresses = addressesOf(demo.stdout());
      expect(first[1]).toBe(`TEMPORAL_ADDRESS=${addresses.address} PCHAT_DR_TASK_QUEUE=pchat-dr-demo`);
      const [, , id, person, comment, key] = first;
      expect(['alice', 'bob', 'carol', 'dave']).toContain(person);
      expect(key).toBe(path.join(state, 'keys', person));
      const answer = await runCli(
        ['approve', id, '--gate', 'approve-mirror-log-shipping', '--as', person, '--comment', comment, '--sign', key],
        {
          env: {
            TEMPORAL_ADDRESS: addresses.address,
            PCHAT_DR_TASK_QUEUE: 'pchat-dr-demo',
            TEMPORAL_CONFIG_FILE: path.join(state, 'temporal.toml'),
          },
        },
      );
      expect(answer.code, answer.stderr).toBe(0);
      expect(answer.stdout).toMatch(/approval counted: approve-mirror-log-shipping approved \(1 of 1\)/);
      await demo.waitFor(/^ {2}answered: the run goes on$/m, 60_000);

      // The next gate: the story is under way (chat load, worker, runs); Ctrl+C stops it all.
      await demo.waitFor(/--gate approve-mirror-failover --as/, 180_000);
      demo.child.kill('SIGINT');
      expect(await demo.exited, `${demo.stdout().slice(-3000)}\n${demo.stderr()}`).toBe(130);
      expect(demo.stderr()).toMatch(
        /Ctrl\+C: stopping the worker, the simulated estate and the Temporal dev server\.\.\./,
      );
      expect(demo.stdout()).not.toMatch(/The story is done/);
      expect(demo.stdout()).toMatch(/Stopped the worker, the simulated estate and the Temporal dev server\.\n$/);
      await expectEverythingStopped(addresses);
    },
  );
});

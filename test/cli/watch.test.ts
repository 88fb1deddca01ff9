/**
 * `pchat-dr watch` on a terminal (a pseudo-terminal made by util-linux `script`) redraws the step list in place with
 * ANSI cursor movements; piped, it prints one plain line per step change; Ctrl+C stops following with exit 130 while
 * the run goes on.
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH, type CliResult } from '../helpers/cli';
import { eventually } from '../helpers/estate';
import { result, runbookHarness, type RunbookHarness } from '../helpers/runbooks';
import { cli, cliEnv } from './cli-env';

let harness: RunbookHarness;
afterEach(async () => harness?.close());

const hasScript = spawnSync('script', ['--version']).status === 0;
const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** Runs the CLI with a pseudo-terminal as its stdout (script -e returns the command's exit code). */
function runOnTerminal(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, CLI_PATH, ...args].map(quote).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...process.env, ...cliEnv(harness), SHELL: '/bin/sh' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('pchat-dr watch', () => {
  it.skipIf(!hasScript)(
    'redraws in place on a terminal, prints plain lines when piped, and stops on Ctrl+C with 130',
    { timeout: 120_000 },
    async () => {
      harness = await runbookHarness({ label: 'cli-watch' });
      const file = harness.env.topologyFile;
      await harness.withWorker(async () => {
        // Slower statements on the backup, so the run has many steps still to come when watch starts.
        harness.env.estate.setLatency('dc2-sql-a', 200);
        const first = `${harness.taskQueue}-tty`;
        expect((await cli(harness, ['run', 'setup-log-shipping', '-f', file, '--id', first])).code).toBe(0);
        const terminal = await runOnTerminal(['watch', first]);
        expect(terminal.code, terminal.stdout).toBe(0);
        // Redrawn: the cursor goes back up over the previous frame and clears it.
        expect(terminal.stdout).toMatch(/\x1b\[\d+A\r?\x1b\[J/);
        expect(terminal.stdout).toMatch(/STATUS\s+STEP\s+TARGET/);
        expect(terminal.stdout).toContain(`setup-log-shipping ${first} ended succeeded`);

        // Ctrl+C: following stops with 130, the run carries on.
        const second = `${harness.taskQueue}-sigint`;
        expect((await cli(harness, ['run', 'setup-log-shipping', '-f', file, '--id', second])).code).toBe(0);
        const child = spawn(process.execPath, [CLI_PATH, 'watch', second], {
          env: { ...process.env, ...cliEnv(harness) },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
        await eventually(
          () => stdout.includes(`setup-log-shipping ${second} on pool`),
          20_000,
          'watch to print its first line',
        );
        child.kill('SIGINT');
        expect(await closed).toBe(130);
        expect(stderr).toContain(
          `interrupted: stopped following ${second}; the run goes on (pchat-dr watch ${second})`,
        );

        // Piped: one plain line per step change, no escape sequences.
        const piped = await cli(harness, ['watch', second]);
        expect(piped.code, piped.stderr).toBe(0);
        expect(piped.stdout).not.toContain('\x1b');
        const [header, ...rest] = piped.stdout.split('\n');
        expect(header).toMatch(new RegExp(`^setup-log-shipping ${second} on pool \\S+; started .* by `));
        const stepLines = rest.slice(0, rest.indexOf(''));
        expect(stepLines.length).toBeGreaterThan(5);
        for (const line of stepLines)
          expect(line).toMatch(
            /^(\d\d:\d\d:\d\d|--:--:--)  (pending|running|acted|skipped|observed|failed|decided|planned)\s+\S+( on \S+)?: /,
          );
        stepLines.forEach((line, index) =>
          expect(line, 'a line repeats a step that did not change').not.toBe(stepLines[index - 1]),
        );
        expect(piped.stdout).toContain(`setup-log-shipping ${second} ended succeeded`);
        expect((await result(harness.client.workflow.getHandle(second))).outcome).toBe('succeeded');
      });
    },
  );
});

/**
 * The pool's Management Shell kept open between scripts (poolControl.keepOpen), against the simulator's stand-in
 * shell: one process serves a pool's scripts in order, a script's answer ends at its own marker, and a shell that
 * hangs, dies or is cancelled never answers for the next script.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManagementShells, MAX_OPEN_SESSIONS } from '../../activities/management-shell-sessions';
import { processRunner } from '../../activities/dependencies';
import { type PoolTarget } from '../../contracts/estate';
import { readPoolState } from '../../simulator/pool/pool-state';
import { activityHarness, type ActivityHarness } from '../helpers/activities';
import { startTestEstate, type TestEstate } from '../helpers/estate';

let env: TestEstate;
let harness: ActivityHarness;
const shells: ManagementShells[] = [];

afterEach(async () => {
  for (const runner of shells.splice(0)) runner.closeAll();
  await harness?.close();
  await env?.close();
});

async function start() {
  env = await startTestEstate();
  harness = activityHarness(env);
}

function pool(overrides: Partial<PoolTarget['poolControl']> = {}): PoolTarget {
  return {
    poolControl: { ...env.topology.poolControl, ...overrides },
    fqdn: env.topology.pool.fqdn,
    identity: env.topology.pool.identity!,
  };
}

/** A worker's pool-control runner of the test's own, closed after the test. */
function newRunner(): ManagementShells {
  const runner = new ManagementShells(processRunner);
  shells.push(runner);
  return runner;
}

/**
 * The script that holds `text`, which must have run in a process of its own: not in the shell kept open (the first
 * script's), and its whole text one argument, as without keepOpen.
 */
function ranInOwnProcess(text: string) {
  const [kept, ...rest] = invocations();
  const own = rest.find((script) => script.script.includes(text))!;
  expect(own.pid).not.toBe(kept.pid);
  expect(own.argv.at(-1)).toBe(own.script);
  return own;
}

function invocations(): { pid: number; argv: string[]; script: string; exitCode: number }[] {
  return readFileSync(`${env.estate.poolStateFile}.invocations.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

/** Where a stand-in shell of the test writes its process id: a folder of the test's own. */
function pidFileOf(name: string): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-shell-')), `${name}.pid`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !check(); waited += 50) {
    if (waited > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a Management Shell kept open (poolControl.keepOpen)', () => {
  it("serves a failover's pool steps in one shell, each step's answer its own, and ends when the worker closes it", async () => {
    await start();
    expect(env.topology.poolControl.keepOpen).toBeDefined();
    const dc2 = ['pchat-fe3.sim.local', 'pchat-fe4.sim.local'];
    expect((await harness.run('readPoolState', { pool: pool() })).found.poolState).toBe('Normal');
    expect((await harness.run('setActiveServers', { pool: pool(), servers: [] })).outcome).toBe('acted');
    expect((await harness.run('setPoolState', { pool: pool(), state: 'FailedOver' })).outcome).toBe('acted');
    const activated = await harness.run('setActiveServers', { pool: pool(), servers: dc2 });
    expect(activated.figures).toEqual({ pool: { poolState: 'FailedOver', activeServers: dc2 } });
    expect(readPoolState(env.estate.poolStateFile)).toMatchObject({ poolState: 'FailedOver', activeServers: dc2 });

    const scripts = invocations();
    expect(scripts).toHaveLength(7); // a read; then for each change, a read before it and the change with its read-back
    expect(new Set(scripts.map((script) => script.pid)).size).toBe(1);
    expect(scripts[0].argv.at(-1)).toBe('-'); // `-Command -`: the scripts came on stdin
    expect(scripts.every((script) => script.exitCode === 0)).toBe(true);

    // A cmdlet's error record fails its own script, and the shell goes on serving the next one.
    await expect(
      harness.run('setPoolState', {
        pool: { ...pool(), identity: 'service:PersistentChatServer:nowhere' },
        state: 'Normal',
      }),
    ).rejects.toMatchObject({ type: 'PoolControlFailed' });
    expect((await harness.run('readPoolState', { pool: pool() })).found.poolState).toBe('FailedOver');
    expect(new Set(invocations().map((script) => script.pid)).size).toBe(1);

    const pid = scripts[0].pid;
    expect(alive(pid)).toBe(true);
    harness.deps.poolControl.closeAll!();
    await until(() => !alive(pid), 'the shell to exit at the end of its input');
  });

  it('starts a new shell for the next script when the one kept open died in between', async () => {
    await start();
    await harness.run('readPoolState', { pool: pool() });
    const [first] = invocations();
    process.kill(first.pid, 'SIGKILL');
    await until(() => !alive(first.pid), 'the shell to die');
    expect((await harness.run('setPoolState', { pool: pool(), state: 'FailedOver' })).outcome).toBe('acted');
    const later = invocations().slice(1);
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((script) => script.pid !== first.pid)).toBe(true);
    expect(readPoolState(env.estate.poolStateFile).poolState).toBe('FailedOver');
  });

  it('runs a script with a line break in a process of its own: to a shell reading stdin, a line is a script', async () => {
    await start();
    await harness.run('readPoolState', { pool: pool() });
    await expect(
      harness.run('setActiveServers', { pool: pool(), servers: ['fe1.sim.local\nSet-CsPersistentChatState'] }),
    ).rejects.toMatchObject({ type: 'PoolControlFailed' });
    ranInOwnProcess('\n');
    expect(readPoolState(env.estate.poolStateFile).poolState).toBe('Normal');
  });

  it('kills a shell that does not answer within the timeout, and says so; the next script gets a new shell', async () => {
    const runner = newRunner();
    // A shell that reads its input and never answers (a Management Shell stuck on a prompt, say).
    const hung = ['sh', '-c', 'echo $$ > "$0"; exec sleep 60', pidFileOf('hung')];
    const result = await runner.run(hung, "Get-CsPersistentChatState -Identity 'x'", {
      timeoutMs: 500,
      keepOpenMs: 60_000,
    });
    expect(result).toMatchObject({ timedOut: true, exitCode: null });
    const pid = Number(readFileSync(hung[3], 'utf8'));
    await until(() => !alive(pid), 'the hung shell to be killed');
    expect(runner.openSessions).toBe(0);
  });

  it('kills the shell when its step is cancelled, without waiting for the timeout', async () => {
    const runner = newRunner();
    const pidFile = pidFileOf('cancelled');
    const controller = new AbortController();
    // The shell says when the script has reached it: the step is cancelled while its script runs.
    const running = runner.run(
      ['sh', '-c', 'read script; echo $$ > "$0"; exec sleep 60', pidFile],
      "Get-CsService -Identity 'x'",
      { timeoutMs: 60_000, keepOpenMs: 60_000, signal: controller.signal },
    );
    await until(() => {
      try {
        return Number(readFileSync(pidFile, 'utf8')) > 0;
      } catch {
        return false;
      }
    }, 'the script to reach the shell');
    controller.abort();
    expect(await running).toMatchObject({ timedOut: false, exitCode: null });
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await until(() => !alive(pid), 'the cancelled shell to be killed');
  });

  it('says the kept-open command is not found, as a process of its own would', async () => {
    await start();
    const missing = pool({ command: ['/nonexistent/pwsh', '-Command'] });
    await expect(harness.run('readPoolState', { pool: missing })).rejects.toMatchObject({
      type: 'PoolControlUnavailable',
      message: expect.stringContaining('cannot run the pool-control command /nonexistent/pwsh: not found'),
    });
  });

  it('fails the script of a command that ends at once instead of reading it, without starting it again and again', async () => {
    const runner = newRunner();
    const starts = pidFileOf('starts');
    const result = await runner.run(
      ['sh', '-c', 'echo started >> "$0"; exit 3', starts],
      "Get-CsService -Identity 'x'",
      {
        timeoutMs: 10_000,
        keepOpenMs: 60_000,
      },
    );
    expect(result.exitCode).toBe(3);
    expect(readFileSync(starts, 'utf8').trim().split('\n').length).toBeLessThanOrEqual(2);
  });

  it("runs a step's script in a process of its own while another step's holds the pool's shell: none waits behind another", async () => {
    await start();
    await harness.run('readPoolState', { pool: pool() });
    const [kept] = invocations();
    await Promise.all([harness.run('readPoolState', { pool: pool() }), harness.run('readPoolState', { pool: pool() })]);
    const both = invocations().slice(1);
    expect(both).toHaveLength(2);
    expect(both.map((script) => script.pid === kept.pid).sort()).toEqual([false, true]);
  });

  it('runs a script holding a letter outside ASCII in a process of its own: a shell decodes stdin in its own code page', async () => {
    await start();
    await harness.run('readPoolState', { pool: pool() });
    await expect(
      harness.run('setActiveServers', { pool: pool(), servers: ['pchat-fé1.sim.local'] }),
    ).rejects.toMatchObject({
      type: 'PoolControlFailed',
    });
    ranInOwnProcess('pchat-fé1');
    expect(readPoolState(env.estate.poolStateFile).activeServers).toEqual([
      'pchat-fe1.sim.local',
      'pchat-fe2.sim.local',
    ]);
  });

  it('answers a script whose output ends without a line break, and a shell that dies while a child holds its pipes', async () => {
    const runner = newRunner();
    // A shell that prints without a final line break, then the markers it is sent (as `'marker'` and the stderr line).
    const noNewline = [
      'sh',
      '-c',
      `read script; read out; read err; printf 'partial%s\\n' "$(echo "$out" | tr -d "'")"; echo "$err" | sed "s/.*('\\(.*\\)')/\\1/" >&2; exec sleep 60`,
      'shell',
    ];
    const answered = await runner.run(noNewline, "Get-CsService -Identity 'x'", {
      timeoutMs: 5_000,
      keepOpenMs: 60_000,
    });
    expect(answered).toMatchObject({ timedOut: false, exitCode: 0, stdout: 'partial', stderr: '' });

    // A shell that dies at once, leaving a child that holds stdout and stderr open for a minute.
    const dead = await runner.run(['sh', '-c', '(sleep 60 &) ; exit 4', 'shell'], "Get-CsService -Identity 'x'", {
      timeoutMs: 30_000,
      keepOpenMs: 60_000,
    });
    expect(dead).toMatchObject({ timedOut: false, exitCode: 4 }); // answered by the shell's exit, not the timeout
    runner.closeAll();
  });

  it(`keeps at most ${MAX_OPEN_SESSIONS} shells open, closing the least recently used idle one`, async () => {
    const runner = newRunner();
    // Each command is a shell of its own (its own pool-state file): more pools than the worker keeps shells for.
    env = await startTestEstate();
    const [program, script, ...rest] = env.topology.poolControl.command;
    for (let index = 0; index <= MAX_OPEN_SESSIONS; index++) {
      const command = [program, script, ...rest.map((arg) => (arg.endsWith('pool.json') ? `${arg}.${index}` : arg))];
      const result = await runner.run(command, "Get-CsService -Identity 'x'", {
        timeoutMs: 10_000,
        keepOpenMs: 60_000,
      });
      expect(result.stdout + result.stderr).not.toBe('');
    }
    expect(runner.openSessions).toBe(MAX_OPEN_SESSIONS);
  });
});

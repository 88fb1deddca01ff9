/**
 * The simulated estate as an operator drives it: `pchat-dr sim start|status|fault|chat` in separate processes, the
 * faults a rehearsal needs, and state that survives a restart of the simulator.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { config as SqlConfig } from 'mssql';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTopology } from '../../topology/load';
import { SimulatedEstate } from '../../simulator/estate';
import { CLI_PATH, runCli } from '../helpers/cli';
import { errorNumbers, eventually, startTestEstate, writeSimulatedTopology, type TestEstate } from '../helpers/estate';

let env: TestEstate | undefined;
let simulator: ChildProcess | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
  if (simulator && simulator.exitCode === null) {
    simulator.kill('SIGTERM');
    await new Promise((resolve) => simulator!.once('exit', resolve));
  }
  simulator = undefined;
});

/**
 * Starts `pchat-dr sim start -o json` and resolves with the JSON it prints once every instance accepts connections.
 * The process is the test's `simulator` from the moment it is spawned: one that never gets ready is stopped too.
 */
function startSimulatorProcess(
  file: string,
  extra: string[] = [],
): Promise<{ process: ChildProcess; ready: Record<string, unknown>; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, 'sim', 'start', '-f', file, '-o', 'json', ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    simulator = child;
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      try {
        resolve({ process: child, ready: JSON.parse(stdout) as Record<string, unknown>, output: () => stdout });
      } catch {
        // not the whole document yet
      }
    });
    child.once('exit', (code) => reject(new Error(`sim start exited with ${code}: ${stderr}`)));
  });
}

describe('pchat-dr sim', () => {
  it('starts the estate, prints every instance once they accept connections (never a password), and obeys status, fault and chat', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-sim-'));
    const file = await writeSimulatedTopology(dir);
    const started = await startSimulatorProcess(file);
    const instances = started.ready.instances as {
      name: string;
      serverName: string;
      roles: string[];
      host: string;
      port: number;
      login: string;
    }[];
    expect(instances.map((instance) => instance.name)).toEqual(['dc1-sql-a', 'dc1-sql-b', 'dc2-sql-a', 'dc2-sql-b']);
    expect(instances[0]).toMatchObject({
      serverName: 'SQLDC1A',
      roles: ['primary of mgc', 'primary of mgccomp'],
      host: loadTopology(file).topology.instances[0].host,
      login: 'sa',
    });
    expect(started.output()).not.toContain('Sim-Passw0rd');

    const chat = await runCli(['sim', 'chat', 'start', '--rate', '20', '-f', file]);
    expect(chat.code).toBe(0);
    const fault = await runCli(['sim', 'fault', 'stop', 'dc1-sql-a', '-f', file]);
    expect(fault).toMatchObject({ code: 0, stdout: 'dc1-sql-a stopped: its port refuses connections\n' });
    const status = await runCli(['sim', 'status', '-f', file, '-o', 'json']);
    const snapshot = JSON.parse(status.stdout);
    expect(snapshot.instances[0]).toMatchObject({ name: 'dc1-sql-a', running: false });
    expect(snapshot.chat.running).toBe(true);

    // The faults of a bad night, through the CLI: logins refused while the port answers, slow jobs; a database state
    // only where a database can have one.
    const refused = await runCli(['sim', 'fault', 'refuse-logins', 'dc1-sql-b', '--error', '18451', '-f', file]);
    expect(refused).toMatchObject({
      code: 0,
      stdout: 'logins to dc1-sql-b fail with error 18451; its port still answers\n',
    });
    const slow = await runCli(['sim', 'fault', 'slow-jobs', 'dc2-sql-a', '5000', '-f', file]);
    expect(slow).toMatchObject({ code: 0, stdout: 'every job step on dc2-sql-a runs 5000 ms longer\n' });
    const onMirror = await runCli(['sim', 'fault', 'db-state', 'dc1-sql-b', 'mgc', 'suspect', '-f', file]);
    expect(onMirror.code).toBe(2);
    expect(onMirror.stderr).toContain('mgc on dc1-sql-b is RESTORING (a mirror)');
    const badState = await runCli(['sim', 'fault', 'db-state', 'dc1-sql-b', 'mgc', 'BROKEN', '-f', file]);
    expect(badState).toMatchObject({
      code: 2,
      stderr: 'sim fault db-state: BROKEN is not one of SUSPECT, EMERGENCY, OFFLINE, ONLINE\n',
    });

    const unknown = await runCli(['sim', 'fault', 'stop', 'dc9-sql-z', '-f', file]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no instance named dc9-sql-z in this estate');
    const usage = await runCli(['sim', 'fault', 'fail-next', 'dc1-sql-b', 'RESTORE LOG', '-f', file]);
    expect(usage).toMatchObject({
      code: 2,
      stderr: 'sim fault fail-next: give the error to raise with --error <number>\n',
    });
    const second = await runCli(['sim', 'start', '-f', file]);
    expect(second.code).toBe(3);
    expect(second.stderr).toContain('a simulator is already running');
  });

  it('says so when no simulator runs for the topology, and refuses a real estate', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-sim-'));
    const file = await writeSimulatedTopology(dir);
    const status = await runCli(['sim', 'status', '-f', file]);
    expect(status.code).toBe(3);
    expect(status.stderr).toContain('no simulator is running for state folder');
    const real = await runCli(['sim', 'start', '-f', 'examples/production.yaml']);
    expect(real.code).toBe(2);
    expect(real.stderr).toContain('describes a real estate (simulated: false)');
  });

  it('keeps its state across a restart: data, mirroring, log shipping, and which instances are down', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-sim-'));
    const { file, topology } = loadTopology(await writeSimulatedTopology(dir));
    const stateDir = path.join(dir, '.sim');
    let estate = await SimulatedEstate.start({ topology, topologyFile: file, stateDir });
    for (let index = 0; index < 3; index++) await estate.chat.postOne();
    await estate.stopInstance('dc1-sql-a');
    await estate.close();

    estate = await SimulatedEstate.start({ topology, topologyFile: file, stateDir });
    try {
      const snapshot = estate.snapshot();
      const [primary, mirror] = snapshot.instances;
      expect(primary).toMatchObject({ name: 'dc1-sql-a', running: false });
      expect(mirror.databases.find((database) => database.name === 'mgc')).toMatchObject({
        state: 'RESTORING',
        messages: 3,
        mirroring: { role: 'MIRROR', state: 'DISCONNECTED' },
      });
      await estate.startInstance('dc1-sql-a');
      await eventually(
        () => estate.snapshot().instances[1].databases[0].mirroring?.state === 'SYNCHRONIZED',
        5_000,
        'mirroring back',
      );
    } finally {
      await estate.close();
    }
    // --fresh forgets it all.
    estate = await SimulatedEstate.start({ topology, topologyFile: file, stateDir, fresh: true });
    try {
      expect(estate.snapshot().instances[0].databases[0].messages).toBe(0);
    } finally {
      await estate.close();
    }
  });

  it('injects the faults a rehearsal needs: partition, latency, a failing statement, a stopped Agent, a rebuilt instance', async () => {
    env = await startTestEstate();
    const mirrorState = () => env!.estate.snapshot().instances[0].databases[0].mirroring?.state;

    env.estate.partition('dc1-sql-a', 'dc1-sql-b');
    await eventually(() => mirrorState() === 'DISCONNECTED', 5_000, 'DISCONNECTED');
    env.estate.heal('dc1-sql-a', 'dc1-sql-b');
    await eventually(() => mirrorState() === 'SYNCHRONIZED', 5_000, 'SYNCHRONIZED');

    // An established connection, then a slow server: the request times out on the client.
    const slow = await env.connect('dc2-sql-a', {
      requestTimeout: 300,
      pool: { min: 1, max: 1 },
      validateConnection: false,
    } as Partial<SqlConfig>);
    await slow.request().query('SELECT 1 AS one');
    env.estate.setLatency('dc2-sql-a', 2_000);
    await expect(slow.request().query('SELECT 1 AS one')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    env.estate.setLatency('dc2-sql-a', 0);

    env.estate.failNext('dc2-sql-a', '^RESTORE LOG', {
      number: 3201,
      message: "Cannot open backup device 'x'. Operating system error 5(Access is denied.).",
    });
    const failed = await env
      .query('dc2-sql-a', "RESTORE LOG [mgc] FROM DISK = N'/nowhere.trn' WITH NORECOVERY")
      .catch((err: unknown) => err);
    expect(errorNumbers(failed)).toEqual([3201, 3013]);
    const next = await env
      .query('dc2-sql-a', "RESTORE LOG [mgc] FROM DISK = N'/nowhere.trn' WITH NORECOVERY")
      .catch((err: unknown) => err);
    expect(errorNumbers(next)).toEqual([3118, 3013]); // the fault was used up: the real error again

    env.estate.setAgentRunning('dc1-sql-a', false);
    const services = (
      await env.query(
        'dc1-sql-a',
        `SELECT status_desc FROM sys.dm_server_services WHERE servicename LIKE N'SQL Server Agent%'`,
      )
    ).recordset;
    expect(services).toEqual([{ status_desc: 'Stopped' }]);

    await env.estate.rebuildInstance('dc1-sql-b');
    const rebuilt = env.estate.snapshot().instances[1];
    expect(rebuilt).toMatchObject({ running: true, databases: [], jobs: [] });
  });
});

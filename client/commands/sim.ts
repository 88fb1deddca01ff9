/**
 * `pchat-dr sim start|status|fault|chat`: run the simulated estate of a topology file and drive it (faults, chat
 * load) from another terminal, through the control API the running simulator serves.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { loadTopology, TopologyError, type LoadedTopology } from '../../topology/load';
import { ROLES, type Topology } from '../../topology/schema';
import {
  ControlClient,
  controlFileOf,
  FAULT_KINDS,
  serveControl,
  SimulatorNotRunning,
  type ControlEndpoint,
  type Fault,
} from '../../simulator/control';
import {
  EstateNotStartable,
  FAULT_DATABASE_STATES,
  SimulatedEstate,
  type FaultDatabaseState,
} from '../../simulator/estate';
import type { EstateSnapshot } from '../../simulator/estate-snapshot';
import { CliError, EXIT } from '../../runtime/exit';
import { PROJECT_ROOT } from '../../runtime/package';
import { bundledExampleCopy, CLI_COMMAND, INSTALLED_BY_NPM, runnableTopologyFile } from '../../runtime/state-dirs';
import { writeSimulatedExample } from '../../simulator/example-topology';
import { formatTable, parseOutputFormat, printJson, printLine, type OutputFormat } from '../output';
import { positiveNumber, wholeNumber } from '../flag-values';
import { untilStopped } from '../until-stopped';

interface CommonOptions {
  file: string;
  state?: string;
  output: OutputFormat;
}

export function simCommand(): Command {
  const sim = new Command('sim').description(
    'run and drive the simulated estate (SQL Server instances, pool, chat load) of a topology file',
  );
  const common = (command: Command) =>
    command
      .requiredOption('-f, --file <file>', 'topology file of a simulated estate (simulated: true)')
      .option('--state <dir>', 'state folder (default: .sim next to the topology file)')
      .addOption(new Option('-o, --output <format>', 'text or json').default('text').argParser(parseOutputFormat));

  common(sim.command('start').description('start every instance of the estate and run until stopped (Ctrl+C)'))
    .option('--fresh', 'forget saved state and deploy the estate anew')
    .option(
      '--control-port <port>',
      'port of the control API (default: a free one)',
      wholeNumber('--control-port', 'give a TCP port (1-65535)', 1, 65535),
    )
    .option(
      '--chat <rate>',
      'start chat load at this many messages per second',
      positiveNumber('--chat', 'give messages per second, more than 0'),
    )
    .action((options: CommonOptions & { fresh?: boolean; controlPort?: number; chat?: number }) =>
      startSimulator(options),
    );

  sim
    .command('example')
    .description(
      'write the simulated example estate (examples/simulated.yaml, runnable: the stand-in Management Shell by its path) into a folder of yours',
    )
    .argument('[dir]', 'where to write simulated.yaml and its password file (default: ./pchat-dr-sim)', 'pchat-dr-sim')
    .option('--free-ports', "free ports instead of the example's 14331-14334")
    .option('--force', 'replace a simulated.yaml already there')
    .action(async (dir: string, options: { freePorts?: boolean; force?: boolean }) => {
      const target = path.resolve(dir);
      if (existsSync(path.join(target, 'simulated.yaml')) && !options.force)
        throw new CliError(
          `${path.join(target, 'simulated.yaml')} exists: start it (${CLI_COMMAND} sim start -f ${path.join(dir, 'simulated.yaml')}), or give another folder, or --force`,
        );
      const file = await writeSimulatedExample(target, options.freePorts === true);
      printLine(`wrote ${file} (and simulated.secret); its state will be in ${path.join(target, '.sim')}`);
      printLine(`start it:  ${CLI_COMMAND} sim start -f ${file}`);
      printLine(`serve it:  ${CLI_COMMAND} worker --estate ${file}`);
    });

  common(
    sim.command('status').description('show instances, databases, mirroring, log shipping, jobs, pool and chat load'),
  ).action(async (options: CommonOptions) => showStatus(options));

  common(sim.command('fault').description(`inject or clear a fault: ${FAULT_KINDS.join(', ')}`))
    .argument('<kind>', 'what to do (see the list above)')
    .argument('[args...]', 'instance names, a file, a pattern ...')
    .option(
      '--error <number>',
      'fail-next, refuse-logins: the SQL Server error number to raise',
      wholeNumber('--error', 'give a SQL Server error number, e.g. 3201'),
    )
    .option('--message <text>', 'fail-next: the error text')
    .option(
      '--count <n>',
      'fail-next: how many matching statements fail',
      wholeNumber('--count', 'give how many statements, e.g. 1'),
    )
    .action(
      async (
        kind: string,
        args: string[],
        options: CommonOptions & { error?: number; message?: string; count?: number },
      ) => {
        const fault = parseFault(kind, args, options);
        const done = await withClient(options, (client) => client.fault(fault));
        if (options.output === 'json') printJson({ done });
        else printLine(done);
      },
    );

  common(sim.command('chat').description('start or stop chat load (messages posted by the active chat servers)'))
    .argument('<action>', 'start or stop')
    .option(
      '--rate <n>',
      'messages per second (start)',
      positiveNumber('--rate', 'give messages per second, more than 0'),
    )
    .action(async (action: string, options: CommonOptions & { rate?: number }) => {
      if (action !== 'start' && action !== 'stop')
        throw new CliError(`sim chat ${action}: unknown action (use start or stop)`);
      const stats = await withClient(options, (client) =>
        client.chat(action === 'start' ? { action, rate: options.rate } : { action }),
      );
      if (options.output === 'json') printJson(stats);
      else printLine(action === 'start' ? `chat load started at ${options.rate ?? 5} messages/s` : 'chat load stopped');
    });
  return sim;
}

function load(file: string): LoadedTopology {
  try {
    const loaded = loadTopology(file);
    if (!loaded.topology.simulated) {
      throw new CliError(
        `${file} describes a real estate (simulated: false); the simulator only runs rehearsal estates (simulated: true)`,
      );
    }
    return loaded;
  } catch (err) {
    if (err instanceof TopologyError) throw new CliError(err.message);
    throw err;
  }
}

function stateDirOf(loaded: LoadedTopology, state?: string): string {
  return path.resolve(state ?? path.join(path.dirname(loaded.file), '.sim'));
}

async function withClient<T>(options: CommonOptions, use: (client: ControlClient) => Promise<T>): Promise<T> {
  const stateDir = stateDirOf(load(runnableTopologyFile(options.file)), options.state);
  try {
    return await use(ControlClient.forStateDir(stateDir));
  } catch (err) {
    if (err instanceof SimulatorNotRunning) throw new CliError(err.message, EXIT.refused);
    throw new CliError((err as Error).message);
  }
}

function loginOf(topology: Topology, instance: string): string {
  return topology.instances.find((candidate) => candidate.name === instance)!.login;
}

function rolesOf(topology: Topology, instance: string): string[] {
  return (['mgc', 'mgccomp'] as const).flatMap((kind) =>
    ROLES.filter((role) => topology.databases[kind]?.[role] === instance).map((role) => `${role} of ${kind}`),
  );
}

async function startSimulator(
  given: CommonOptions & { fresh?: boolean; controlPort?: number; chat?: number },
): Promise<void> {
  const options = { ...given, file: await exampleCopyOf(given.file) };
  const loaded = load(options.file);
  refuseInsideInstalledPackage(loaded.file);
  const stateDir = stateDirOf(loaded, options.state);
  refuseIfRunning(stateDir);
  let estate: SimulatedEstate;
  try {
    estate = await SimulatedEstate.start({
      topology: loaded.topology,
      topologyFile: loaded.file,
      stateDir,
      fresh: options.fresh,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new CliError(
        `a port of the estate is already in use (${(err as Error).message}): stop what holds it, or change the ports in ${options.file}`,
        EXIT.refused,
      );
    if (code === 'EADDRNOTAVAIL')
      throw new CliError(
        `this machine does not answer an address of the estate (${(err as Error).message}): give every instance host 127.0.0.1 in ${options.file} (their ports differ), or add the address to the loopback interface`,
        EXIT.refused,
      );
    if (err instanceof EstateNotStartable) throw new CliError(`${options.file}: ${err.message}`);
    throw err;
  }
  const control = await serveControl(estate, stateDir, options.controlPort);
  if (options.chat) estate.chat.start(options.chat);

  const topology = loaded.topology;
  if (options.output === 'json') {
    printJson({
      pool: topology.pool.fqdn,
      state: stateDir,
      control: control.url,
      instances: estate.snapshot().instances.map((instance) => ({
        name: instance.name,
        serverName: instance.serverName,
        roles: rolesOf(topology, instance.name),
        host: instance.host,
        port: instance.port,
        login: loginOf(topology, instance.name),
      })),
    });
  } else {
    printLine(`pchat-dr simulator: estate ${topology.pool.fqdn} (${options.file})`);
    formatTable(
      estate
        .snapshot()
        .instances.map((instance) => [
          instance.name,
          instance.serverName,
          `${instance.host}:${instance.port}`,
          rolesOf(topology, instance.name).join(', ') || '-',
          `login ${loginOf(topology, instance.name)}`,
        ]),
      '  ',
    ).forEach((line) => printLine(line));
    const pool = estate.snapshot().pool;
    printLine(`  pool     ${pool.poolState}, active servers: ${pool.activeServers.join(', ') || 'none'}`);
    printLine(`  state    ${stateDir} (a restart continues from here; --fresh starts over)`);
    printLine(`  control  ${control.url} (pchat-dr sim status|fault|chat -f ${options.file})`);
    printLine('Running. Ctrl+C stops it.');
  }

  await untilStopped();
  await control.close();
  await estate.close();
  if (options.output === 'text') printLine('Simulator stopped; state saved.');
}

/**
 * Installed by npm, the bundled simulated example runs as a copy in the user's state folder (runtime/state-dirs.ts),
 * written the first time and kept, with its state, for the next start; said on stderr. Any other file is itself.
 */
async function exampleCopyOf(file: string): Promise<string> {
  const copy = bundledExampleCopy(file);
  if (!copy) return file;
  const made = !existsSync(copy);
  if (made) await writeSimulatedExample(path.dirname(copy));
  process.stderr.write(
    `${file} is the installed package's example: running ${made ? 'a new copy of it' : 'its copy'}, ${copy} (its state in ${path.join(path.dirname(copy), '.sim')}); ${CLI_COMMAND} sim status|fault|chat and worker --estate take either file\n`,
  );
  return copy;
}

/**
 * The examples an npm install ships are for reading and copying: a simulator started on one would write its state,
 * backups and certificates next to it, inside the installed package (root's, or replaced on the next upgrade).
 */
function refuseInsideInstalledPackage(file: string): void {
  const inside = path.relative(PROJECT_ROOT, path.resolve(file));
  if (!INSTALLED_BY_NPM || inside.startsWith('..') || path.isAbsolute(inside)) return;
  throw new CliError(
    `${file} is inside the installed pchat-dr package, where its state would be written: write a copy with \`pchat-dr sim example DIR\` and start that`,
  );
}

/** One simulator per state folder: a second one would fight the first over ports and files. */
function refuseIfRunning(stateDir: string): void {
  const file = controlFileOf(stateDir);
  if (!existsSync(file)) return;
  const endpoint = JSON.parse(readFileSync(file, 'utf8')) as ControlEndpoint;
  // In a fresh container the new simulator often gets the pid the old one had: that one is us, not a rival.
  if (endpoint.pid === process.pid) return;
  try {
    process.kill(endpoint.pid, 0);
  } catch {
    return; // left behind by a simulator that did not stop cleanly
  }
  throw new CliError(
    `a simulator is already running for ${stateDir} (pid ${endpoint.pid}, control ${endpoint.url}); stop it first`,
    EXIT.refused,
  );
}

function parseFault(
  kind: string,
  args: string[],
  options: { error?: number; message?: string; count?: number },
): Fault {
  const need = (count: number, usage: string) => {
    if (args.length !== count) throw new CliError(`sim fault ${kind}: expected ${usage}`);
  };
  switch (kind) {
    case 'stop':
    case 'start':
    case 'rebuild':
    case 'stop-agent':
    case 'start-agent':
    case 'accept-logins':
    case 'clear':
      need(1, '<instance>');
      return { kind, instance: args[0] };
    case 'refuse-logins':
      need(1, '<instance> [--error <number>]');
      return { kind, instance: args[0], error: options.error };
    case 'db-state': {
      need(3, `<instance> <database> <${FAULT_DATABASE_STATES.join('|')}>`);
      const state = args[2].toUpperCase() as FaultDatabaseState;
      if (!FAULT_DATABASE_STATES.includes(state))
        throw new CliError(`sim fault db-state: ${args[2]} is not one of ${FAULT_DATABASE_STATES.join(', ')}`);
      return { kind, instance: args[0], database: args[1], state };
    }
    case 'partition':
    case 'heal':
      need(2, '<instance> <other-instance>');
      return { kind, instance: args[0], other: args[1] };
    case 'latency':
    case 'slow-jobs': {
      need(2, '<instance> <milliseconds>');
      const ms = Number(args[1]);
      if (!Number.isInteger(ms) || ms < 0)
        throw new CliError(`sim fault ${kind}: ${args[1]} is not a number of milliseconds`);
      return { kind, instance: args[0], ms };
    }
    case 'fail-next':
      need(2, '<instance> <statement-pattern> --error <number>');
      if (options.error === undefined)
        throw new CliError('sim fault fail-next: give the error to raise with --error <number>');
      try {
        new RegExp(args[1]);
      } catch (err) {
        throw new CliError(`sim fault fail-next: ${args[1]} is not a valid pattern (${(err as Error).message})`);
      }
      return {
        kind,
        instance: args[0],
        pattern: args[1],
        error: options.error,
        message: options.message,
        count: options.count,
      };
    case 'delete-backup':
    case 'corrupt-backup':
      need(1, '<backup file>');
      return { kind, file: path.resolve(args[0]) };
    case 'pause-job':
    case 'resume-job':
      need(2, '<instance> <job name>');
      return { kind, instance: args[0], job: args[1] };
    default:
      throw new CliError(`sim fault ${kind}: unknown fault (use one of ${FAULT_KINDS.join(', ')})`);
  }
}

async function showStatus(options: CommonOptions): Promise<void> {
  const snapshot: EstateSnapshot = await withClient(options, (client) => client.state());
  if (options.output === 'json') {
    printJson(snapshot);
    return;
  }
  for (const instance of snapshot.instances) {
    printLine(
      `${instance.name} (${instance.serverName}) ${instance.host}:${instance.port} ${instance.running ? 'up' : 'DOWN'}, Agent ${instance.agentRunning ? 'running' : 'STOPPED'}, ${instance.sessions} session(s)`,
    );
    const rows = instance.databases.map((database) => [
      database.name,
      database.state,
      database.mirroring
        ? `${database.mirroring.role} ${database.mirroring.state} safety ${database.mirroring.safety} (partner ${database.mirroring.partner})`
        : 'not mirrored',
      `${database.messages} messages`,
    ]);
    formatTable(rows, '  ').forEach((line) => printLine(line));
    for (const job of instance.jobs) {
      printLine(
        `  job ${job.name}: ${job.enabled ? 'enabled' : 'DISABLED'}${job.running ? ', running' : ''}, last outcome ${job.lastOutcome ?? 'none'}`,
      );
    }
  }
  if (snapshot.partitions.length > 0)
    printLine(`partitions: ${snapshot.partitions.map(([a, b]) => `${a} / ${b}`).join(', ')}`);
  printLine(
    `pool ${snapshot.pool.fqdn}: ${snapshot.pool.poolState}, active servers: ${snapshot.pool.activeServers.join(', ') || 'none'}`,
  );
  const chat = snapshot.chat;
  printLine(
    `chat load: ${chat.running ? `running at ${chat.ratePerSecond}/s` : 'stopped'}; ${chat.acknowledged} acknowledged, ${chat.failed} failed${chat.lastError ? ` (last error: ${chat.lastError})` : ''}`,
  );
}

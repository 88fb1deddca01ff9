/**
 * `pchat-dr topology check -f FILE [--connect]`: validates a topology file and prints a summary of the estate, or
 * every problem found (exit 2). With --connect it then reaches every instance and the pool shell, read-only, and
 * says what answered (exit 3 when something did not).
 */
import { Command, Option } from 'commander';
import { loadPasskeys } from '../../signatures/passkeys';
import { loadAllowedSigners, signerNames } from '../../signatures/allowed-signers';
import { decisionMakers, gatePolicy } from '../../topology/approvals';
import { GATE_NAMES } from '../../topology/gates';
import { loadTopology, TopologyError } from '../../topology/load';
import { ROLES, type Topology } from '../../topology/schema';
import { CliError, EXIT } from '../../runtime/exit';
import { formatTable, parseOutputFormat, printJson, printLine, type OutputFormat } from '../output';

export function topologyCommand(): Command {
  const topology = new Command('topology').description('work with topology files (the description of an estate)');
  topology
    .command('check')
    .description('validate a topology file and summarise the estate it describes')
    .requiredOption('-f, --file <file>', 'topology file (YAML)')
    .option('--connect', 'also reach every SQL Server instance and the pool shell (read-only) and say what answered')
    .addOption(new Option('-o, --output <format>', 'text or json').default('text').argParser(parseOutputFormat))
    .action((options: { file: string; output: OutputFormat; connect?: boolean }) =>
      checkTopology(options.file, options.output, options.connect === true),
    );
  return topology;
}

async function checkTopology(file: string, output: OutputFormat, connect: boolean): Promise<void> {
  let loaded;
  try {
    loaded = loadTopology(file);
  } catch (err) {
    if (!(err instanceof TopologyError)) throw err;
    if (output === 'json') {
      printJson({ valid: false, file, problems: err.problems });
      throw new CliError('', EXIT.badInput);
    }
    const count = err.problems.length;
    throw new CliError(
      `${err.message}\n${count} problem${count === 1 ? '' : 's'} in ${file}; nothing was checked against the estate`,
    );
  }
  if (!connect) {
    if (output === 'json') printJson({ valid: true, file: loaded.file, topology: loaded.topology });
    else printSummary(file, loaded.topology);
    return;
  }
  // Loaded on use: the SQL Server driver is needed only here.
  const { probeEstate } = require('../reachability') as typeof import('../reachability');
  if (output === 'text') {
    printSummary(file, loaded.topology);
    printLine();
    printLine('Reaching the estate (read-only):');
  }
  const reached = await probeEstate(loaded.topology);
  const silent = reached.filter((reach) => !reach.answered);
  if (output === 'json')
    printJson({ valid: true, file: loaded.file, topology: loaded.topology, reachable: silent.length === 0, reached });
  else {
    const instances = reached.filter((reach) => reach.kind === 'instance');
    const rows = [
      ['INSTANCE', 'ADDRESS', 'ANSWERED', 'SERVER NAME', 'DATABASES'],
      ...instances.map((reach) => [
        reach.name,
        reach.address,
        reach.answered ? 'yes' : 'NO',
        reach.identity ?? '-',
        reach.detail,
      ]),
    ];
    formatTable(rows, '  ').forEach((line) => printLine(line));
    for (const shell of reached.filter((reach) => reach.kind === 'pool')) {
      printLine(`  pool shell ${shell.answered ? 'answered' : 'did NOT answer'}: ${shell.detail}`);
    }
  }
  if (silent.length > 0) {
    throw new CliError(
      output === 'json'
        ? ''
        : `${silent.length} of ${reached.length} did not answer: ${silent.map((reach) => reach.name).join(', ')}`,
      EXIT.refused,
    );
  }
  if (output === 'text') printLine(`all ${reached.length} answered`);
}

function address(instance: Topology['instances'][number]): string {
  const named = instance.instanceName ? `\\${instance.instanceName}` : '';
  return `${instance.host}${named}${instance.port ? `:${instance.port}` : ''}`;
}

function printSummary(file: string, topology: Topology): void {
  printLine(`${file}: valid${topology.simulated ? ' (simulated rehearsal estate)' : ''}`);
  printLine();
  const pool = topology.pool;
  printLine(`Pool ${pool.fqdn} (identity ${pool.identity ?? `service:${pool.fqdn}`})`);
  printLine(`  DC1 servers: ${pool.servers.dc1.join(', ')}`);
  printLine(`  DC2 servers: ${pool.servers.dc2.join(', ')}`);
  printLine();

  const instances = new Map(topology.instances.map((instance) => [instance.name, instance]));
  const rows = [['DATABASE', 'ROLE', 'INSTANCE', 'ADDRESS', 'LOGIN']];
  for (const kind of ['mgc', 'mgccomp'] as const) {
    const roles = topology.databases[kind];
    if (!roles) continue;
    const label = roles.name && roles.name !== kind ? `${kind} (${roles.name})` : kind;
    ROLES.filter((role) => roles[role]).forEach((role, index) => {
      const instance = instances.get(roles[role]!)!;
      rows.push([index === 0 ? label : '', role, instance.name, address(instance), instance.login]);
    });
  }
  formatTable(rows).forEach((line) => printLine(line));
  printLine();

  const ls = topology.logShipping;
  printLine(`Backup share: ${topology.backupShare.sqlPath} (SQL Server) = ${topology.backupShare.workerPath} (worker)`);
  printLine(`Copy folder:  ${topology.copyFolder.sqlPath} (SQL Server) = ${topology.copyFolder.workerPath} (worker)`);
  printLine(
    `Log shipping: backup every ${ls.backupEvery}, copy every ${ls.copyEvery}, restore every ${ls.restoreEvery}; ` +
      `delete files older than ${ls.deleteFilesOlderThan}; alert after ${ls.backupAlertAfter} without backup, ` +
      `${ls.restoreAlertAfter} without restore`,
  );
  printLine(`Pool control: ${topology.poolControl.command.join(' ')} (timeout ${topology.poolControl.timeout})`);
  printLine();

  printLine('Approval gates:');
  const gateRows = GATE_NAMES.map((gate) => {
    const policy = gatePolicy(topology.approvals, gate);
    if (policy.waived) return [gate, 'waived'];
    const parts = [`${policy.required} of ${policy.people.join(', ')}`];
    if (policy.twoPersonRule) parts.push('two-person rule');
    const escalation = policy.escalation
      ? `, escalate after ${policy.escalation.after} to ${policy.escalation.people.join(', ')}`
      : '';
    parts.push(`timeout ${policy.timeout}${escalation}, then abort`);
    return [gate, parts.join('; ')];
  });
  formatTable(gateRows, '  ').forEach((line) => printLine(line));
  printLine();
  signatureLines(topology).forEach((line) => printLine(line));
  printLine(`Objectives: RPO ${topology.objectives.rpo}, RTO ${topology.objectives.rto}`);
}

/**
 * Who signs (docs/operations.md "Approvals and identity"): the policy, the signers file as this machine reads it (the
 * worker reads its own copy, and refuses to start without one that loads), and approvers who hold no key there.
 */
function signatureLines(topology: Topology): string[] {
  const signatures = topology.signatures;
  if (!signatures) return ['Signatures: none (answers are claims; see docs/operations.md, Approvals and identity)'];
  const head = `Signatures: ${signatures.policy}; signers ${signatures.allowedSigners}`;
  let signers;
  try {
    signers = loadAllowedSigners(signatures.allowedSigners);
  } catch (error) {
    return [`${head} (not readable here: ${(error as Error).message.split('\n')[0]})`];
  }
  const names = signerNames(signers);
  const approvers = new Set([
    ...decisionMakers(topology.approvals),
    ...GATE_NAMES.flatMap((gate) => gatePolicy(topology.approvals, gate).people),
  ]);
  // A passkey signs too (the approval console): its holders are not keyless.
  const passkeyHolders = (() => {
    try {
      return topology.signatures?.passkeys
        ? loadPasskeys(topology.signatures.passkeys).passkeys.map((key) => key.person)
        : [];
    } catch {
      return [];
    }
  })();
  const keyless = [...approvers].filter((person) => !names.includes(person) && !passkeyHolders.includes(person));
  // A key several people hold counts as one of them at a gate (workflows/run-messages.ts): say which.
  const holders = new Map<string, Set<string>>();
  for (const signer of signers.signers) {
    const people = holders.get(signer.key.fingerprint) ?? new Set<string>();
    signer.principals.forEach((person) => people.add(person));
    holders.set(signer.key.fingerprint, people);
  }
  const shared = [...holders].filter(([, people]) => people.size > 1);
  return [
    `${head}: ${names.join(', ')} (${signers.signers.length} key${signers.signers.length === 1 ? '' : 's'})`,
    ...passkeyLines(topology),
    ...(keyless.length > 0 ? [`  approvers with no key there (they cannot sign): ${keyless.join(', ')}`] : []),
    ...shared.map(
      ([fingerprint, people]) =>
        `  one key for several people (it counts as one person at a gate): ${[...people].join(', ')} (${fingerprint})`,
    ),
  ];
}

/** The passkeys of the approval console (docs/console.md): who has one, for which console, or why the file does not load. */
function passkeyLines(topology: Topology): string[] {
  const file = topology.signatures?.passkeys;
  if (!file) return [];
  const head = `  passkeys ${file}, for the console at ${topology.console?.url ?? '(no console.url)'}`;
  try {
    const { passkeys } = loadPasskeys(file);
    const people = [...new Set(passkeys.map((passkey) => passkey.person))];
    return [
      `${head}: ${people.join(', ') || 'nobody yet'} (${passkeys.length} credential${passkeys.length === 1 ? '' : 's'})`,
    ];
  } catch (error) {
    return [`${head} (not readable here: ${(error as Error).message.split('\n')[0]})`];
  }
}

/**
 * `pchat-dr topology check` through the built CLI: the examples pass, and each kind of mistake an operator can make
 * is rejected with exit code 2 and a message naming the field and its line.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/package';
import { runCli } from '../helpers/cli';
import { makeKey, signerLine } from '../helpers/ssh-keys';

const SIMULATED = readFileSync(path.join(PROJECT_ROOT, 'examples', 'simulated.yaml'), 'utf8');

/** Writes a variant of the simulated example (the text with `from` replaced by `to`) and checks it. */
async function checkVariant(from: string | RegExp, to: string) {
  const text = SIMULATED.replace(from, to);
  expect(text, `the example no longer contains ${String(from)}`).not.toBe(SIMULATED);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-topology-'));
  const file = path.join(dir, 'estate.yaml');
  writeFileSync(file, text);
  const result = await runCli(['topology', 'check', '-f', file]);
  const lineOf = (needle: string) => text.split('\n').findIndex((line) => line.includes(needle)) + 1;
  return { ...result, file, lineOf };
}

describe('pchat-dr topology check', () => {
  it('accepts both examples and prints a summary of the estate', async () => {
    const simulated = await runCli(['topology', 'check', '-f', 'examples/simulated.yaml']);
    expect(simulated.stderr).toBe('');
    expect(simulated.code).toBe(0);
    expect(simulated.stdout).toContain('valid (simulated rehearsal estate)');
    expect(simulated.stdout).toMatch(/mgc\s+primary\s+dc1-sql-a\s+127\.0\.0\.11:14331/);
    expect(simulated.stdout).toMatch(/declare-disaster\s+2 of .*two-person rule/);
    expect(simulated.stdout).toContain('Objectives: RPO 1m, RTO 10m');

    const production = await runCli(['topology', 'check', '-f', 'examples/production.yaml']);
    expect(production.code).toBe(0);
    expect(production.stdout).toMatch(/backup\s+dc2-sql-a\s+sql-a\.dc2\.contoso\.com\\PCHAT/);
    expect(production.stdout).toMatch(/approve-mirror-failover\s+waived/);
  });

  it('shows the signature policy, the signers, approvers without a key and a key several people hold', async () => {
    const production = await runCli(['topology', 'check', '-f', 'examples/production.yaml']);
    expect(production.stdout).toMatch(
      /^Signatures: required; signers \/etc\/pchat-dr\/allowed_signers \(not readable here: .*no such file\)$/m,
    );
    const simulated = await runCli(['topology', 'check', '-f', 'examples/simulated.yaml']);
    expect(simulated.stdout).toMatch(/^Signatures: none \(answers are claims; see docs\/operations\.md/m);

    // An estate beside its signers file: alice has a key, bob and carol share one, dave has none.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-topology-signers-'));
    const alice = await makeKey(dir, 'alice');
    const shared = await makeKey(dir, 'shared');
    writeFileSync(
      path.join(dir, 'allowed_signers'),
      `${signerLine(alice)}${signerLine({ ...shared, name: 'bob,carol' })}`,
    );
    const file = path.join(dir, 'estate.yaml');
    writeFileSync(
      file,
      SIMULATED.replace(
        '\nobjectives:',
        '\nsignatures:\n  allowedSigners: allowed_signers\n  policy: critical\n\nobjectives:',
      ),
    );
    const signed = await runCli(['topology', 'check', '-f', file]);
    expect(signed.code, signed.stderr).toBe(0);
    const lines = signed.stdout.split('\n');
    const at = lines.findIndex((line) => line.startsWith('Signatures:'));
    expect(lines.slice(at, at + 3)).toEqual([
      `Signatures: critical; signers ${path.join(dir, 'allowed_signers')}: alice, bob, carol (2 keys)`,
      '  approvers with no key there (they cannot sign): dave',
      expect.stringMatching(
        /^  one key for several people \(it counts as one person at a gate\): bob, carol \(SHA256:\S+\)$/,
      ),
    ]);
  });

  it('prints the validated topology as JSON with -o json, relative paths made absolute', async () => {
    const result = await runCli(['topology', 'check', '-f', 'examples/simulated.yaml', '-o', 'json']);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout);
    expect(parsed.valid).toBe(true);
    expect(parsed.topology.backupShare.workerPath).toBe(path.join(PROJECT_ROOT, 'examples', '.sim', 'share'));
    expect(parsed.topology.instances[0].password).toBe(
      `file:${path.join(PROJECT_ROOT, 'examples', 'simulated.secret')}`,
    );
    expect(parsed.topology.logShipping.restoreDelay).toBe('0m');
  });

  it('rejects malformed YAML with the line of the error', async () => {
    const result = await checkVariant('  fqdn: pchat.sim.local', '  fqdn: [pchat.sim.local');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`estate\\.yaml:${result.lineOf('fqdn: [') + 1}:\\d+: YAML syntax:`));
    expect(result.stdout).toBe('');
  });

  it('rejects an unknown key, naming it and its line', async () => {
    const result = await checkVariant('    backupMirror: dc2-sql-b', '    backupMirorr: dc2-sql-b');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `estate.yaml:${result.lineOf('backupMirorr')}:5: databases.mgc.backupMirorr: unknown key (allowed here: name, primary, mirror, backup, backupMirror, restoreMove)`,
    );
  });

  it('rejects a missing role', async () => {
    const result = await checkVariant(
      /  mgc:\n    primary: dc1-sql-a\n    mirror: dc1-sql-b\n/,
      '  mgc:\n    primary: dc1-sql-a\n',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`estate.yaml:${result.lineOf('  mgc:')}:3: databases.mgc.mirror: is required`);
  });

  it('rejects a database name that is not a plain identifier', async () => {
    const result = await checkVariant('  mgc:\n', '  mgc:\n    name: "mgc]; DROP DATABASE x --"\n');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `estate.yaml:${result.lineOf('DROP DATABASE')}:5: databases.mgc.name: must be a plain identifier`,
    );
  });

  it('rejects an inline password without printing it', async () => {
    const result = await checkVariant(
      /(name: dc1-sql-b\n(?:.*\n)*?\s+)password: file:\.\/simulated\.secret/,
      '$1password: S3cret!Value',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`estate.yaml:${result.lineOf('S3cret!Value')}:`);
    expect(result.stderr).toContain(
      'instances[1].password: must be a secret reference (env:NAME or file:/path), never an inline password',
    );
    expect(result.stderr).not.toContain('S3cret!Value');
  });

  it('rejects a duplicate instance, by name and by address', async () => {
    const byName = await checkVariant('name: dc2-sql-b\n', 'name: dc2-sql-a\n');
    expect(byName.code).toBe(2);
    expect(byName.stderr).toContain(`estate.yaml:${byName.lineOf('port: 14334') - 2}:`);
    expect(byName.stderr).toContain('instances[3].name: duplicate instance "dc2-sql-a" (also instances[2])');

    const byAddress = await checkVariant('host: 127.0.0.14\n    port: 14334', 'host: 127.0.0.13\n    port: 14333');
    expect(byAddress.code).toBe(2);
    expect(byAddress.stderr).toContain(
      'instances[3].host: duplicate instance: same host, port and instance name as instances[2] (dc2-sql-a)',
    );
  });

  it('rejects a port out of range', async () => {
    const result = await checkVariant('port: 14331', 'port: 143310');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`estate.yaml:${result.lineOf('143310')}:`);
    expect(result.stderr).toContain('instances[0].port: must be a TCP port between 1 and 65535');
  });

  it('rejects a role naming an unknown instance, and policies nobody can satisfy', async () => {
    const unknown = await checkVariant(
      '    backup: dc2-sql-a\n    backupMirror',
      '    backup: dc3-sql-a\n    backupMirror',
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('databases.mgc.backup: unknown instance "dc3-sql-a"');

    const tooFew = await checkVariant(
      '      approvers: [group:incident-commanders]\n      required: 2',
      '      approvers: [carol]\n      required: 2',
    );
    expect(tooFew.code).toBe(2);
    expect(tooFew.stderr).toContain(
      'approvals.gates.override-split-brain-guard.required: gate override-split-brain-guard needs 2 distinct approvals but only 1 person may approve',
    );

    const waived = await checkVariant('    declare-disaster:\n', '    declare-disaster:\n      waived: true\n');
    expect(waived.stderr).toContain('declare-disaster accepts data loss or a datacenter switch and cannot be waived');
  });

  it('rejects a critical gate asking for fewer than two approvers or no two-person rule, naming the gate', async () => {
    // docs/runbooks.md rule 8: the floor of the gates that accept data loss or switch datacenters.
    const oneApprover = await checkVariant(
      '    declare-disaster:\n      approvers: [group:incident-commanders, group:dba]\n      required: 2',
      '    declare-disaster:\n      approvers: [group:incident-commanders, group:dba]\n      required: 1',
    );
    expect(oneApprover.code).toBe(2);
    expect(oneApprover.stderr).toMatch(
      new RegExp(
        `estate\\.yaml:${oneApprover.lineOf('required: 1')}:\\d+: approvals\\.gates\\.declare-disaster\\.required: declare-disaster accepts data loss or a datacenter switch: it needs at least 2 distinct approvers`,
      ),
    );
    const noTwoPerson = await checkVariant(
      '    accept-data-loss:\n      required: 2',
      '    accept-data-loss:\n      required: 2\n      twoPersonRule: false',
    );
    expect(noTwoPerson.code).toBe(2);
    expect(noTwoPerson.stderr).toContain(
      'approvals.gates.accept-data-loss.twoPersonRule: accept-data-loss accepts data loss or a datacenter switch: the person who starts a run may never approve it',
    );
    expect(noTwoPerson.stdout).toBe('');
  });

  it('says what to fix for a missing file, a missing flag and an unknown command', async () => {
    const missing = await runCli(['topology', 'check', '-f', 'no/such/estate.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no/such/estate.yaml: cannot read the topology file: no such file');

    const noFlag = await runCli(['topology', 'check']);
    expect(noFlag.code).toBe(2);
    expect(noFlag.stderr).toContain("required option '-f, --file <file>' not specified");

    const unknown = await runCli(['topology', 'chek']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'chek'");
  });

  it('reports problems as JSON with -o json, still with exit code 2', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-topology-'));
    const file = path.join(dir, 'estate.yaml');
    writeFileSync(file, SIMULATED.replace('port: 14331', 'port: 0'));
    const result = await runCli(['topology', 'check', '-f', file, '-o', 'json']);
    expect(result.code).toBe(2);
    const parsed = JSON.parse(result.stdout);
    expect(parsed.valid).toBe(false);
    expect(parsed.problems).toEqual([
      expect.objectContaining({ field: 'instances[0].port', message: 'must be a TCP port between 1 and 65535' }),
    ]);
  });
});

/**
 * Mistakes an operator makes, each answered with one line naming what to fix and the documented exit code (2):
 * an unknown runbook, a flag the runbook does not take, a missing or invalid topology file, an unknown run id.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/package';
import { cli, expectOneLineError } from './cli-env';

const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'simulated.yaml');

describe('pchat-dr bad input', () => {
  it('refuses an unknown runbook, a flag the runbook does not take, and a missing or invalid topology file', async () => {
    expectOneLineError(
      await cli(undefined, ['run', 'fail-over', '-f', EXAMPLE]),
      2,
      /^unknown runbook fail-over \(use one of: mirror-failover, setup-log-shipping, setup-mirror-log-shipping, failover, failback, drill\)$/,
    );
    expectOneLineError(
      await cli(undefined, ['run', 'failback', '-f', EXAMPLE, '--mode', 'planned']),
      2,
      /^--mode does not apply to failback \(it takes none of --mode, --database, --to\)$/,
    );
    expectOneLineError(
      await cli(undefined, ['run', 'failover', '-f', EXAMPLE, '--to', 'mirror']),
      2,
      /^--to does not apply to failover \(it takes --mode\)$/,
    );
    expectOneLineError(
      await cli(undefined, ['run', 'setup-log-shipping', '-f', EXAMPLE, '--to', 'mirror', '--mode', 'planned']),
      2,
      /^--mode, --to does not apply to setup-log-shipping \(it takes --database\)$/,
    );
    expectOneLineError(
      await cli(undefined, ['run', 'failover', '-f', 'no/such/estate.yaml']),
      2,
      /^no\/such\/estate\.yaml: cannot read the topology file: no such file$/,
    );

    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-cli-'));
    const invalid = path.join(dir, 'estate.yaml');
    const text = readFileSync(EXAMPLE, 'utf8')
      .replace('    backupMirror: dc2-sql-b', '    backupMirorr: dc2-sql-b')
      .replace('  rto: 10m', '  rto: soon');
    writeFileSync(invalid, text);
    const line = text.split('\n').findIndex((candidate) => candidate.includes('backupMirorr')) + 1;
    expectOneLineError(
      await cli(undefined, ['run', 'failover', '-f', invalid]),
      2,
      new RegExp(
        `^${invalid.replace(/[.\\/]/g, '\\$&')}:${line}:\\d+: databases\\.mgc\\.backupMirorr: unknown key .* \\(and 1 more problem: pchat-dr topology check -f .* lists them\\)$`,
      ),
    );
  });

  it('says "no run with id X" (exit 2) for an id Temporal does not know, in every command that takes one', async () => {
    const id = 'no-such-run-20260101T000000Z';
    for (const args of [
      ['status', id],
      ['watch', id],
      ['report', id],
      ['approve', id, '--gate', 'declare-disaster', '--as', 'bob'],
      ['reject', id, '--gate', 'declare-disaster', '--reason', 'x'],
      ['decide', id, 'retry', '--reason', 'x'],
      ['abort', id, '--reason', 'x'],
    ]) {
      expectOneLineError(await cli(undefined, args), 2, new RegExp(`^no run with id ${id}$`));
    }
    expectOneLineError(
      await cli(undefined, ['status', id, '--address', '127.0.0.1:1']),
      1,
      /^cannot reach Temporal at 127\.0\.0\.1:1: /,
    );
  });
});

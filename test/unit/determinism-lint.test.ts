/**
 * The lint rules that keep workflow code deterministic, and the floors of the import plan, really bite: probe files
 * are written into workflows/, contracts/, activities/, worker/ (and client/) of a copy of the checkout (the
 * checkout itself serves the other test files meanwhile) and linted with the project's own ESLint config.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/package';
import { copyOfCheckout } from '../helpers/checkout-copy';

const run = promisify(execFile);
const ESLINT = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'eslint');
const tag = randomUUID().slice(0, 8);
// The folders the rules are about (and what they import): a lint of the copy, `npm run lint` included, reads no more.
const checkout = copyOfCheckout({
  folders: ['runtime', 'contracts', 'topology', 'signatures', 'workflows', 'activities', 'worker'],
});
const ROOT = checkout.root;

function probe(folder: string, name: string, code: string): string {
  const file = path.join(ROOT, folder, `lint-probe-${tag}-${name}.ts`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, code);
  return file;
}

afterAll(() => checkout.remove());

interface LintResult {
  filePath: string;
  messages: { ruleId: string | null; message: string }[];
}

/** Workflow code: what the determinism rules refuse and allow. */
const WORKFLOW_PROBES = {
  fs: probe('workflows', 'fs', "import { readFileSync } from 'fs';\nexport const read = () => readFileSync('x');\n"),
  nodeFs: probe(
    'workflows',
    'node-fs',
    "import { readFileSync } from 'node:fs';\nexport const read = () => readFileSync('x');\n",
  ),
  mssql: probe('workflows', 'mssql', "import sql from 'mssql';\nexport const driver = sql;\n"),
  activityValue: probe(
    'workflows',
    'activity-value',
    "import { createActivities } from '../activities';\nexport const made = createActivities;\n",
  ),
  activityType: probe(
    'workflows',
    'activity-type',
    "import type { createActivities } from '../activities';\nexport type Made = typeof createActivities;\n",
  ),
  floating: probe(
    'client',
    'floating',
    'async function later(): Promise<void> {}\nexport function go(): void {\n  later();\n}\n',
  ),
};

/** The floors of the import plan. */
const FLOOR_PROBES = {
  contractsFs: probe('contracts', 'fs', "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n"),
  contractsActivityType: probe(
    'contracts',
    'activity-type',
    "import type { Activities } from '../activities';\nexport type Known = keyof Activities;\n",
  ),
  contractsWorkflow: probe(
    'contracts',
    'workflow',
    "import { Runbook } from '../workflows/runbook';\nexport const runner = Runbook;\n",
  ),
  activitiesUp: probe(
    'activities',
    'up',
    "import { Runbook } from '../workflows/runbook';\nexport const runner = Runbook;\n",
  ),
  workerUp: probe('worker', 'up', "import { main } from '../client/program';\nexport const cli = main;\n"),
  contractsDown: probe(
    'contracts',
    'down',
    "import { durationMs } from '../topology/durations';\nexport const ms = durationMs('1m');\n",
  ),
};

let linted: Promise<(file: string) => string[]> | undefined;
/**
 * Every probe linted in one ESLint run (building the typed program is most of a run's cost): each file's messages,
 * as "rule: message".
 */
function lintedProbes(): Promise<(file: string) => string[]> {
  linted ??= run(ESLINT, ['--format', 'json', ...Object.values(WORKFLOW_PROBES), ...Object.values(FLOOR_PROBES)], {
    cwd: ROOT,
  }).then(
    () => {
      throw new Error('ESLint passed every probe: the rules do not bite');
    },
    (err: { code: number; stdout: string }) => {
      expect(err.code).toBe(1);
      const byFile = new Map((JSON.parse(err.stdout) as LintResult[]).map((entry) => [entry.filePath, entry.messages]));
      return (file: string) => (byFile.get(file) ?? []).map((message) => `${message.ruleId}: ${message.message}`);
    },
  );
  return linted;
}

describe('determinism lint', () => {
  it('rejects Node built-ins, the SQL driver and activity values in workflows; allows activity types', async () => {
    const files = WORKFLOW_PROBES;
    const rules = await lintedProbes();

    expect(rules(files.fs)).toEqual([
      expect.stringMatching(/no-restricted-imports: 'fs' import is restricted.*no Node built-ins/),
    ]);
    expect(rules(files.nodeFs)).toEqual([expect.stringMatching(/'node:fs' import is restricted/)]);
    expect(rules(files.mssql)).toEqual([
      expect.stringMatching(/'mssql' import is restricted.*never talks to SQL Server/),
    ]);
    expect(rules(files.activityValue)).toEqual([
      expect.stringMatching(/'..\/activities' import is restricted.*import only types/),
    ]);
    expect(rules(files.activityType)).toEqual([]);
    expect(rules(files.floating)).toEqual([expect.stringMatching(/^@typescript-eslint\/no-floating-promises/)]);
  });

  it('keeps the floors: contracts/ takes no Node built-in and nothing from activities/ or workflows/; no import goes up', async () => {
    const files = FLOOR_PROBES;
    const rules = await lintedProbes();
    expect(rules(files.contractsFs)).toEqual([
      expect.stringMatching(/'node:fs' import is restricted.*no Node built-ins/),
    ]);
    expect(rules(files.contractsActivityType)).toEqual([
      expect.stringMatching(/'..\/activities' import is restricted.*contracts\/ is a lower floor/),
    ]);
    expect(rules(files.contractsWorkflow)).toEqual([expect.stringMatching(/contracts\/ is a lower floor/)]);
    expect(rules(files.activitiesUp)).toEqual([expect.stringMatching(/activities\/ is a lower floor/)]);
    expect(rules(files.workerUp)).toEqual([
      expect.stringMatching(/worker\/ is a lower floor: it may not import client/),
    ]);
    expect(rules(files.contractsDown)).toEqual([]);
  });

  // The whole lint takes about 45 s of CPU: on a loaded machine it needs more than the default minute.
  it('makes `npm run lint` fail when a workflow file imports fs', { timeout: 240_000 }, async () => {
    const file = probe(
      'workflows',
      'npm-run-lint',
      "import * as fs from 'fs';\nexport const exists = fs.existsSync;\n",
    );
    const failure = await run('npm', ['run', 'lint'], { cwd: ROOT }).then(
      () => undefined,
      (err: { code: number; stdout: string }) => err,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stdout).toContain(path.basename(file));
    expect(failure?.stdout).toContain("'fs' import is restricted");
  });
});

// Lint rules that keep the project honest. The workflow rules are what keeps workflow code deterministic: it runs
// in Temporal's sandbox and is replayed, so it may not touch Node, the SQL driver, or activity implementations.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.filter((name) => !name.startsWith('_')).flatMap((name) => [name, `node:${name}`]);

/** What code in Temporal's workflow sandbox may not import. */
const sandboxed = [
  ...nodeBuiltins.map((name) => ({
    name,
    message: 'workflow code is deterministic: no Node built-ins (do I/O in an activity)',
  })),
  ...['mssql', 'tedious'].map((name) => ({
    name,
    message: 'workflow code never talks to SQL Server: call an activity',
  })),
  ...['@temporalio/activity', '@temporalio/client', '@temporalio/worker'].map((name) => ({
    name,
    message: 'workflow code imports only @temporalio/workflow and @temporalio/common',
  })),
];
const workflowPatterns = [
  {
    group: ['**/activities', '**/activities/**'],
    allowTypeImports: true,
    message: 'import only types from activities/ (use proxyActivities to call them)',
  },
  {
    group: ['**/topology/load', '**/topology/schema', '**/topology/secrets'],
    allowTypeImports: true,
    message: 'workflows get the validated topology as input: import its types, not the loader or zod',
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', '.tmp/', 'coverage/', 'examples/'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An un-awaited activity, signal or query call is a bug in a runbook.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // Workflows and the contracts they share with everyone run in Temporal's deterministic sandbox.
    files: ['workflows/**/*.ts', 'contracts/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: sandboxed, patterns: workflowPatterns }] },
  },
  {
    // contracts/ is a floor below workflows/ and activities/: both import it, it imports neither.
    files: ['contracts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: sandboxed,
          patterns: [...workflowPatterns.slice(1), floor(['activities', 'workflows'], 'contracts/')],
        },
      ],
    },
  },
  // The floors, bottom up: topology → contracts → signatures, runtime → activities → workflows → worker → client. An
  // import may only go down: what two parts share lives below both.
  floorRule('topology/**/*.ts', ['contracts', 'runtime', 'activities', 'workflows', 'worker', 'client'], 'topology/'),
  floorRule('runtime/**/*.ts', ['activities', 'workflows', 'worker', 'client'], 'runtime/'),
  // SSH signatures (reading, verifying) sit on contracts/: the worker's activities and the CLI both use them.
  floorRule(
    'signatures/**/*.ts',
    ['topology', 'runtime', 'activities', 'workflows', 'worker', 'client'],
    'signatures/',
  ),
  floorRule('activities/**/*.ts', ['workflows', 'worker', 'client'], 'activities/'),
  floorRule('workflows/**/*.ts', ['worker', 'client'], 'workflows/'),
  floorRule('worker/**/*.ts', ['client'], 'worker/'),
  // The approval console is a client like the CLI: it reads and answers runs through Temporal, never the worker.
  floorRule('client/console/**/*.ts', ['worker'], 'the console (client/console/)'),
);

/** Forbids relative imports of the named top-level folders. */
function floor(folders, who) {
  return {
    regex: `^(\\.\\./)+(${folders.join('|')})(/|$)`,
    message: `${who} is a lower floor: it may not import ${folders.join(', ')} (move what both need below both)`,
  };
}

function floorRule(files, folders, who) {
  return { files: [files], rules: { 'no-restricted-imports': ['error', { patterns: [floor(folders, who)] }] } };
}

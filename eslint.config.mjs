// Lint rules that keep the project honest. The workflow rules are what keeps workflow code deterministic: it runs
// in Temporal's sandbox and is replayed, so it may not touch Node, the SQL driver, or activity implementations.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.filter((name) => !name.startsWith('_')).flatMap((name) => [name, `node:${name}`]);

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
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
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
          ],
          patterns: [
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
          ],
        },
      ],
    },
  },
);

/**
 * Step 4 of finding the Temporal CLI (scripts/temporal-cli.ts): the Temporal SDK's own way of getting a dev server,
 * the one @temporalio/testing and Temporal's samples use. `TestWorkflowEnvironment.createLocal` with a cached
 * download fetches the CLI release the SDK names as its default from temporal.download into DIR, starts it once
 * (which proves it runs here) and stops it. Its own process, so the SDK's native runtime never shares one with a
 * demo's worker.
 *
 *   node dist/scripts/temporal-download.js DIR
 *
 * The last line on stdout is `pchat-dr-download: ok FILE` or `pchat-dr-download: failed REASON` (one line).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';

async function download(dir: string): Promise<string> {
  const environment = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download', downloadDir: dir },
      ui: false,
      log: { format: 'pretty', level: 'error' },
    },
  });
  await environment.teardown();
  // The SDK names the file after itself: temporal-sdk-typescript-<sdk version>.
  const file = readdirSync(dir).find((name) => name.startsWith('temporal-') && !name.endsWith('.tmp'));
  if (!file) throw new Error(`the dev server ran, but no temporal binary is in ${dir}`);
  return path.join(dir, file);
}

const dir = process.argv[2];
if (!dir) {
  process.stdout.write('pchat-dr-download: failed usage: node dist/scripts/temporal-download.js DIR\n');
  process.exit(2);
}
download(path.resolve(dir)).then(
  (file) => {
    process.stdout.write(`pchat-dr-download: ok ${file}\n`);
    process.exit(0);
  },
  (error: Error) => {
    const reason = String(error?.message ?? error)
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .join(' ');
    process.stdout.write(`pchat-dr-download: failed ${reason}\n`);
    process.exit(1);
  },
);

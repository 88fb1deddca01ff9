/**
 * Builds the prebuilt workflow bundle the production worker loads (`npm run build` runs this after tsc): bundling
 * at build time means a worker starts in a second and runs exactly the workflow code that was built and tested,
 * instead of webpacking workflows/ on every start.
 *
 *   node dist/worker/bundle.js [out-file]      (default dist/workflow-bundle.js)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DEFAULT_WORKFLOW_BUNDLE } from './settings';

/** workflows/index: the compiled .js next to this file in dist/, the .ts source when run from source. */
const WORKFLOWS_MODULE = require.resolve('../workflows');

export async function buildWorkflowBundle(outFile = DEFAULT_WORKFLOW_BUNDLE): Promise<{ file: string; bytes: number }> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_MODULE,
    // webpack's progress chatter is noise in a build log; its warnings and errors are not.
    logger: { trace() {}, debug() {}, info() {}, log() {}, warn: console.warn, error: console.error },
  });
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, code);
  return { file: outFile, bytes: Buffer.byteLength(code) };
}

if (require.main === module) {
  const outFile = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
  buildWorkflowBundle(outFile).then(
    ({ file, bytes }) =>
      process.stdout.write(
        `workflow bundle: ${path.relative(process.cwd(), file) || file} (${Math.round(bytes / 1024)} KiB)\n`,
      ),
    (err: Error) => {
      process.stderr.write(`cannot bundle the workflows: ${err.message}\n`);
      process.exitCode = 1;
    },
  );
}

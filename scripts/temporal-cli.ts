/**
 * Makes a real `temporal` CLI available (it carries the dev server used by the tests and the demo).
 *
 * Order: $TEMPORAL_CLI if set; else .tools/temporal if it is the pinned version; else build it from its Go module
 * into .tools/ (minutes the first time, so every step is printed). Run directly, it prints the binary's path.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../runtime/package';

const execFileAsync = promisify(execFile);

/** v1.5.x is the newest tag whose go.mod has no `replace` directive, so `go install pkg@version` still works. */
export const TEMPORAL_CLI_VERSION = '1.5.1';

export type Say = (line: string) => void;
const toStderr: Say = (line) => process.stderr.write(`${line}\n`);

export async function ensureTemporalCli(say: Say = toStderr): Promise<string> {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new Error(
        `TEMPORAL_CLI=${fromEnv} is not an executable file: point it at a temporal CLI binary, or unset it`,
      );
    }
    return fromEnv;
  }

  const cached = path.join(PROJECT_ROOT, '.tools', 'temporal');
  const go = await findGo();
  if (isExecutable(cached)) {
    if (!go) return cached; // cannot check its version without Go, and could not rebuild it anyway
    const version = await builtModuleVersion(go, cached);
    if (version === TEMPORAL_CLI_VERSION) return cached;
    say(`temporal CLI in .tools/ is version ${version ?? 'unknown'}, pinned is ${TEMPORAL_CLI_VERSION}: rebuilding`);
  }
  if (!go) {
    throw new Error(
      'the Temporal CLI is needed (it runs the dev server) and Go was not found to build it. ' +
        'Install Go 1.22 or newer (https://go.dev/dl, or `apt-get install golang-go`) and run again, ' +
        'or set TEMPORAL_CLI to the path of a temporal binary.',
    );
  }
  const tools = path.dirname(cached);
  mkdirSync(tools, { recursive: true });
  const module = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`;
  say(`Building the Temporal CLI v${TEMPORAL_CLI_VERSION} into ${tools} (first time only; this takes a few minutes)`);
  say(`  GOBIN=${tools} go install ${module}`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    // Go prints its download and build progress on stderr; pass it through so a long first build is visibly alive.
    const child = spawn(go, ['install', module], {
      env: { ...process.env, GOBIN: tools },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`go install ${module} failed with exit code ${code}`)),
    );
  });
  const version = await builtModuleVersion(go, cached);
  if (version !== TEMPORAL_CLI_VERSION) {
    throw new Error(`built ${cached} but it reports version ${version ?? 'unknown'}, expected ${TEMPORAL_CLI_VERSION}`);
  }
  say(`Temporal CLI ready: ${cached} (built in ${Math.round((Date.now() - started) / 1000)} s)`);
  return cached;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A `go install`ed CLI reports "0.0.0-DEV" from `temporal --version`, so read the module version Go embedded in the
 * binary instead (`go version -m` prints a line "mod github.com/temporalio/cli v1.5.1 h1:...").
 */
async function builtModuleVersion(go: string, binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync(go, ['version', '-m', binary]);
    return /^\s*mod\s+github\.com\/temporalio\/cli\s+v(\S+)/m.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

async function findGo(): Promise<string | undefined> {
  for (const candidate of ['go', '/usr/local/go/bin/go', '/usr/lib/go/bin/go']) {
    try {
      await execFileAsync(candidate, ['version']);
      return candidate;
    } catch {
      // try the next place Go is commonly installed
    }
  }
  return undefined;
}

if (require.main === module) {
  ensureTemporalCli().then(
    (binary) => process.stdout.write(`${binary}\n`),
    (err: Error) => {
      process.stderr.write(`pchat-dr: ${err.message}\n`);
      process.exit(1);
    },
  );
}

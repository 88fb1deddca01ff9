/**
 * Finds a `temporal` CLI (it carries the dev server the demo and the tests run), the way users have one, saying each
 * step on stderr. In this order:
 *
 *   1. TEMPORAL_CLI, when set (used even when its version is not one pchat-dr supports: it says so);
 *   2. a `temporal` on the PATH, of a compatible version (an incompatible one is skipped, with why);
 *   3. pchat-dr's own copy: `.tools/temporal` in a checkout, `$XDG_CACHE_HOME/pchat-dr/temporal` once installed
 *      (runtime/state-dirs.ts), left there by step 4 or 5 of an earlier run;
 *   4. the Temporal SDK's download of the dev server, as @temporalio/testing does it (scripts/temporal-download.ts),
 *      unless PCHAT_DR_TEMPORAL_DOWNLOAD=off; offline it fails in one line and the search goes on;
 *   5. building it from its Go module with a `go` on the PATH (minutes, once).
 *
 * None of them: one message listing the ways to get one (CliError, exit 2). Run directly, it prints the path.
 *
 * Compatible: CLI 1.1.0 or newer within major 1 (docs/deployment.md#the-temporal-cli says why); a development build
 * (`go install` reports 0.0.0-DEV) is judged by the Temporal Server it carries, 1.25 or newer.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CliError, EXIT } from '../runtime/exit';
import { PROJECT_ROOT } from '../runtime/package';
import { toolsHome } from '../runtime/state-dirs';

const execFileAsync = promisify(execFile);

/**
 * The version step 5 builds. v1.5.x is the newest tag whose go.mod has no `replace` directive, so
 * `go install pkg@version` works; it carries Temporal Server 1.29.
 */
export const TEMPORAL_CLI_VERSION = '1.5.1';
/** The oldest release pchat-dr runs on: CLI 1.1, which carries Temporal Server 1.25. */
export const MIN_TEMPORAL_CLI = '1.1.0';
export const MIN_TEMPORAL_SERVER = '1.25.0';
/** The major version pchat-dr is written against: a new major may change `server start-dev` and its flags. */
const SUPPORTED_MAJOR = 1;

export type Say = (line: string) => void;
const toStderr: Say = (line) => process.stderr.write(`${line}\n`);

export interface TemporalCliSearch {
  /** Where each step is said; stderr by default. */
  say?: Say;
  /** TEMPORAL_CLI, PATH, PCHAT_DR_TEMPORAL_DOWNLOAD and the XDG folders are read here (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** pchat-dr's own copy lives here, and steps 4 and 5 put it here (default: runtime/state-dirs.ts toolsHome). */
  toolsDir?: string;
  /** Step 4: downloads the CLI into `dir` and returns the file (default: the SDK's download, in a child process). */
  download?: (dir: string, signal?: AbortSignal) => Promise<string>;
  /** Ctrl+C: stops a download or a build under way. */
  signal?: AbortSignal;
}

/** What `temporal --version` says: "temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)". */
export interface TemporalCliVersion {
  cli: string;
  server?: string;
}

export function parseTemporalVersion(output: string): TemporalCliVersion | undefined {
  const cli = /temporal version (\S+)/i.exec(output)?.[1];
  if (!cli) return undefined;
  const server = /\(\s*server (\d+\.\d+\.\d+[^\s,)]*)/i.exec(output)?.[1];
  return { cli, server };
}

/** Whether pchat-dr runs on this CLI, and the words that say what it is. */
export function compatibility(version: TemporalCliVersion): { compatible: boolean; why: string } {
  const server = version.server ? ` (Server ${version.server})` : '';
  const cli = numbers(version.cli);
  if (cli && cli.some((part) => part > 0)) {
    if (cli[0] !== SUPPORTED_MAJOR)
      return {
        compatible: false,
        why: `version ${version.cli}${server}: pchat-dr is written for the ${SUPPORTED_MAJOR}.x line (${MIN_TEMPORAL_CLI} or newer)`,
      };
    if (compareVersions(version.cli, MIN_TEMPORAL_CLI) < 0)
      return {
        compatible: false,
        why: `version ${version.cli}${server}: too old, pchat-dr needs ${MIN_TEMPORAL_CLI} or newer (Temporal Server ${MIN_TEMPORAL_SERVER}+)`,
      };
    return { compatible: true, why: `version ${version.cli}${server}` };
  }
  // A development build (`go install` leaves the version at 0.0.0-DEV): the server it carries says what it can do.
  if (!version.server)
    return { compatible: false, why: `version ${version.cli}, without the server version it carries: cannot tell` };
  const serverNumbers = numbers(version.server);
  if (!serverNumbers || serverNumbers[0] !== 1 || compareVersions(version.server, MIN_TEMPORAL_SERVER) < 0)
    return {
      compatible: false,
      why: `a development build${server}: pchat-dr needs Temporal Server ${MIN_TEMPORAL_SERVER} or newer within 1.x`,
    };
  return { compatible: true, why: `a development build${server}` };
}

function numbers(version: string): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [numbers(a) ?? [0, 0, 0], numbers(b) ?? [0, 0, 0]];
  for (let index = 0; index < 3; index++) if (x[index] !== y[index]) return x[index] - y[index];
  return 0;
}

/** Runs `binary --version`; undefined when it does not run or says no version. */
export async function temporalVersionOf(binary: string): Promise<TemporalCliVersion | undefined> {
  try {
    const { stdout, stderr } = await execFileAsync(binary, ['--version'], { timeout: 30_000 });
    return parseTemporalVersion(`${stdout}\n${stderr}`);
  } catch {
    return undefined;
  }
}

/** Finds (or gets) the CLI as the header says; `search` may also be just where to say each step. */
export async function ensureTemporalCli(given: TemporalCliSearch | Say = {}): Promise<string> {
  const search: TemporalCliSearch = typeof given === 'function' ? { say: given } : given;
  const say = search.say ?? toStderr;
  const env = search.env ?? process.env;
  const toolsDir = search.toolsDir ?? toolsHome(env);
  const step = (line: string) => say(`  ${line}`);
  say('Finding the Temporal CLI (it runs the dev server):');

  // 1. TEMPORAL_CLI: what the person asked for, even a version pchat-dr does not support (said, not refused).
  const fromEnv = env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!isExecutableFile(fromEnv))
      throw new CliError(
        `TEMPORAL_CLI=${fromEnv} is not an executable file: point it at a temporal CLI binary, or unset it`,
        EXIT.badInput,
      );
    const version = await temporalVersionOf(fromEnv);
    if (!version)
      throw new CliError(
        `TEMPORAL_CLI=${fromEnv} does not answer \`--version\` as the temporal CLI does: point it at a temporal CLI binary, or unset it`,
        EXIT.badInput,
      );
    const { compatible, why } = compatibility(version);
    step(`TEMPORAL_CLI: ${fromEnv}, ${why}: ${compatible ? 'using it' : 'not a supported version, using it anyway'}`);
    return fromEnv;
  }
  step('TEMPORAL_CLI: not set');

  // 2. The PATH: the first `temporal` the shell would run.
  const onPath = whichAll('temporal', env);
  if (onPath.length === 0) step('PATH: no temporal');
  for (const candidate of onPath) {
    const found = await judge(candidate);
    if (found.compatible) {
      step(`PATH: ${candidate}, ${found.why}: using it`);
      return candidate;
    }
    step(`PATH: ${candidate}, ${found.why}: skipped`);
  }

  // 3. pchat-dr's own copy, from an earlier download or build.
  const own = path.join(toolsDir, 'temporal');
  if (isExecutableFile(own)) {
    const found = await judge(own);
    if (found.compatible) {
      step(`pchat-dr's copy: ${own}, ${found.why}: using it`);
      return own;
    }
    step(`pchat-dr's copy: ${own}, ${found.why}: replacing it`);
  } else {
    step(`pchat-dr's copy: none in ${toolsDir}`);
  }

  // 4. The Temporal SDK's download (network permitting).
  if (/^(off|false|0|no)$/i.test(env.PCHAT_DR_TEMPORAL_DOWNLOAD ?? '')) {
    step(`the Temporal SDK's download: off (PCHAT_DR_TEMPORAL_DOWNLOAD=${env.PCHAT_DR_TEMPORAL_DOWNLOAD})`);
  } else {
    step("the Temporal SDK's download: trying (the dev server @temporalio/testing uses)...");
    const download = search.download ?? sdkDownload;
    const staging = path.join(toolsDir, 'download');
    try {
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { recursive: true });
      const downloaded = await download(staging, search.signal);
      const found = await judge(downloaded);
      if (!found.compatible) throw new Error(`it downloaded ${found.why}`);
      renameSync(downloaded, own);
      step(`the Temporal SDK's download: ${own}, ${found.why}: using it`);
      return own;
    } catch (error) {
      if (search.signal?.aborted) throw error;
      step(`the Temporal SDK's download: failed: ${oneLine(error)}`);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  // 5. Go: build the pinned version from its module.
  const go = whichAll('go', env)[0];
  if (!go) {
    step('Go: no go on the PATH');
  } else {
    await goInstall(go, toolsDir, step, env, search.signal);
    const found = await judge(own);
    if (!found.compatible) throw new CliError(`built ${own}, but it is ${found.why}`, EXIT.failed);
    return own;
  }

  throw new CliError(noTemporalCliMessage(toolsDir), EXIT.badInput);
}

/** The one message when no step found a CLI: every way to get one. */
export function noTemporalCliMessage(toolsDir: string): string {
  return [
    `pchat-dr needs the Temporal CLI (temporal ${MIN_TEMPORAL_CLI} or newer, 1.x) for its dev server, and found none. Any one of these gives it:`,
    '  - install it: `brew install temporal`, or `curl -sSf https://temporal.download/cli.sh | sh`, or the release archive from https://github.com/temporalio/cli/releases; then have `temporal` on the PATH',
    '  - or point TEMPORAL_CLI at a temporal binary you have (a container image has one: temporalio/admin-tools)',
    `  - or let the Temporal SDK download it: network access to temporal.download, PCHAT_DR_TEMPORAL_DOWNLOAD not off`,
    `  - or install Go 1.25 or newer (\`go\` on the PATH): pchat-dr builds the CLI v${TEMPORAL_CLI_VERSION} into ${toolsDir} (a few minutes, once)`,
  ].join('\n');
}

async function judge(binary: string): Promise<{ compatible: boolean; why: string }> {
  const version = await temporalVersionOf(binary);
  if (!version) return { compatible: false, why: 'does not answer `--version` as the temporal CLI does' };
  return compatibility(version);
}

/** Every executable `name` on the PATH, in PATH order. */
export function whichAll(name: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const found: string[] = [];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(path.resolve(dir), name);
    if (isExecutableFile(candidate) && !found.includes(candidate)) found.push(candidate);
  }
  return found;
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** An error as one line; the SDK's download errors repeat their cause (`a: b: b: c`), said once here. */
export function oneLine(error: unknown): string {
  const parts = String((error as Error)?.message ?? error)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ')
    .split(': ');
  return parts.filter((part, index) => part !== parts[index - 1]).join(': ');
}

/**
 * Step 4: the SDK's own download of the dev server (TestWorkflowEnvironment.createLocal, cached-download), in a child
 * process of its own (scripts/temporal-download.ts) so that its native runtime and its output stay out of this one.
 */
function sdkDownload(dir: string, signal?: AbortSignal): Promise<string> {
  const script = path.join(PROJECT_ROOT, 'dist', 'scripts', 'temporal-download.js');
  if (!existsSync(script)) return Promise.reject(new Error(`${script} is not built (npm run build)`));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
    child.on('error', reject);
    child.on('close', (code) => {
      const ok = /^pchat-dr-download: ok (.+)$/m.exec(output)?.[1];
      const failed = /^pchat-dr-download: failed (.+)$/m.exec(output)?.[1];
      if (code === 0 && ok) resolve(ok);
      else reject(new Error(failed ?? `the download process exited with code ${code}`));
    });
  });
}

async function goInstall(
  go: string,
  toolsDir: string,
  step: Say,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<void> {
  mkdirSync(toolsDir, { recursive: true });
  const module = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`;
  step(`Go: ${go}: building the Temporal CLI v${TEMPORAL_CLI_VERSION} into ${toolsDir} (once; a few minutes)`);
  step(`  GOBIN=${toolsDir} go install ${module}`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    // Go prints its download and build progress on stderr: passed through, so a long first build is visibly alive.
    const child = spawn(go, ['install', module], {
      env: { ...env, GOBIN: toolsDir },
      stdio: ['ignore', process.stderr, process.stderr],
      signal,
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new CliError(`go install ${module} failed with exit code ${code} (its output is above)`, EXIT.failed)),
    );
  });
  step(`Go: built ${path.join(toolsDir, 'temporal')} in ${Math.round((Date.now() - started) / 1000)} s: using it`);
}

if (require.main === module) {
  ensureTemporalCli().then(
    (binary) => process.stdout.write(`${binary}\n`),
    (err: Error) => {
      process.stderr.write(`${err instanceof CliError ? '' : 'pchat-dr: '}${err.message}\n`);
      process.exit(err instanceof CliError ? err.exitCode : EXIT.failed);
    },
  );
}

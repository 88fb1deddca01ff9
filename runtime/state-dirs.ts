/**
 * Where pchat-dr keeps what it writes for itself: the demo's folder and the Temporal CLI it downloads or builds.
 *
 * From a git checkout (the package root holds `.git`): inside the checkout, in the git-ignored `.tmp/` and `.tools/`,
 * where the developers' scripts, the tests and CI expect them. Installed as a package (`npm install -g`, the image),
 * never under the package's own folder, which may belong to root and is replaced on every upgrade: the user's XDG
 * folders, `$XDG_STATE_HOME/pchat-dr` (default `~/.local/state/pchat-dr`) for state and `$XDG_CACHE_HOME/pchat-dr`
 * (default `~/.cache/pchat-dr`) for downloaded or built tools. docs/deployment.md says the same.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError, EXIT } from './exit';
import { PROJECT_ROOT } from './package';

/** Whether this pchat-dr runs from a git checkout (npm run ..., npx pchat-dr in the repository) rather than a package. */
export const FROM_CHECKOUT = existsSync(path.join(PROJECT_ROOT, '.git'));

/** Whether this pchat-dr was installed by npm: its package folder lies in a node_modules folder. */
export const INSTALLED_BY_NPM = PROJECT_ROOT.split(path.sep).includes('node_modules');

/** How the instructions pchat-dr prints call itself: `npx pchat-dr` in a checkout, `pchat-dr` once installed. */
export const CLI_COMMAND = FROM_CHECKOUT ? 'npx pchat-dr' : 'pchat-dr';

function xdgDir(env: NodeJS.ProcessEnv, variable: string, fallback: string[]): string {
  const given = env[variable];
  // The XDG spec: a relative path in these variables is invalid and is ignored.
  const base = given && path.isAbsolute(given) ? given : path.join(env.HOME || os.homedir(), ...fallback);
  return path.join(base, 'pchat-dr');
}

/** pchat-dr's state (the demo's default folder lives in it): `.tmp/` in a checkout, else the XDG state folder. */
export function stateHome(env: NodeJS.ProcessEnv = process.env): string {
  return FROM_CHECKOUT ? path.join(PROJECT_ROOT, '.tmp') : xdgDir(env, 'XDG_STATE_HOME', ['.local', 'state']);
}

/** pchat-dr's own tools (the Temporal CLI it downloads or builds): `.tools/` in a checkout, else the XDG cache. */
export function toolsHome(env: NodeJS.ProcessEnv = process.env): string {
  return FROM_CHECKOUT ? path.join(PROJECT_ROOT, '.tools') : xdgDir(env, 'XDG_CACHE_HOME', ['.cache']);
}

/** The simulated example the package ships (examples/simulated.yaml). */
export const BUNDLED_EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'simulated.yaml');

/**
 * Installed by npm, the bundled simulated example is never run in place (a simulator and a worker write their state
 * next to a topology file, and the package folder may be root's and is replaced by each upgrade): `sim start` runs a
 * copy of it in the user's state folder, `$XDG_STATE_HOME/pchat-dr/sim-example/simulated.yaml`. Undefined when `file`
 * is not that example, or when pchat-dr runs from a checkout or the image (where it runs in place).
 */
export function bundledExampleCopy(file: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!INSTALLED_BY_NPM || path.resolve(file) !== BUNDLED_EXAMPLE) return undefined;
  return path.join(stateHome(env), 'sim-example', 'simulated.yaml');
}

/**
 * The file the worker, `run` and `drill` use for a topology file: itself, or for the bundled simulated example the
 * copy `sim start` made of it (bundledExampleCopy); before that copy exists, one line saying to start it (exit 2).
 */
export function runnableTopologyFile(file: string, env: NodeJS.ProcessEnv = process.env): string {
  const copy = bundledExampleCopy(file, env);
  if (!copy) return file;
  if (existsSync(copy)) return copy;
  throw new CliError(
    `${file} is the installed package's example, which pchat-dr runs as a copy in ${path.dirname(copy)}: start it first (${CLI_COMMAND} sim start -f ${file}) or write a copy of your own (${CLI_COMMAND} sim example DIR)`,
    EXIT.badInput,
  );
}

/** A path as a person reads it: relative to `base` when it lies below it, else absolute. */
export function shownPath(file: string, base: string): string {
  const relative = path.relative(base, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

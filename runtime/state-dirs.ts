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

/** A path as a person reads it: relative to `base` when it lies below it, else absolute. */
export function shownPath(file: string, base: string): string {
  const relative = path.relative(base, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

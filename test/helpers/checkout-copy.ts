/**
 * A copy of the checkout in a temporary folder, for the tests that must write into one: probe files for the linter,
 * `npm pack`'s build of dist/. The checkout itself, which every other test file runs its CLI, worker and workflow
 * bundle from in parallel, stays untouched. Sources and configuration are copied, and what git ignores (dist/,
 * .tools/, simulator state, logs, tarballs) is left out. node_modules is a symbolic link to the checkout's, or — for
 * a build, since webpack writes the real path of what it bundles into the workflow bundle — a copy made of hard
 * links (a plain copy where the temporary folder is on another filesystem).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../runtime/package';

const LEFT_OUT_AT_THE_ROOT = new Set(['.git', 'node_modules', 'dist', '.tools', '.tmp', 'coverage']);
const LEFT_OUT_ANYWHERE = /(^|\/)\.sim(\/|$)|\.(log|tgz)$/;

export interface CheckoutCopy {
  root: string;
  remove: () => void;
}

export function copyOfCheckout(
  options: {
    nodeModules?: 'link' | 'copy';
    /** Only these folders of the sources (with every file at the root): a lint of the copy reads only them. */
    folders?: string[];
  } = {},
): CheckoutCopy {
  const { nodeModules = 'link', folders } = options;
  const parent = mkdtempSync(path.join(os.tmpdir(), 'pchat-checkout-'));
  // Named like the checkout's folder: nothing in the project may depend on it, but messages read the same.
  const root = path.join(parent, path.basename(PROJECT_ROOT));
  cpSync(PROJECT_ROOT, root, {
    recursive: true,
    filter: (source) => {
      const relative = path.relative(PROJECT_ROOT, source);
      if (relative === '') return true;
      const [top, ...below] = relative.split(path.sep);
      if (folders && below.length === 0 && statSync(source).isDirectory()) return folders.includes(top);
      return !LEFT_OUT_AT_THE_ROOT.has(top) && !LEFT_OUT_ANYWHERE.test(relative);
    },
  });
  const modules = path.join(PROJECT_ROOT, 'node_modules');
  if (nodeModules === 'link') symlinkSync(modules, path.join(root, 'node_modules'), 'dir');
  else {
    try {
      execFileSync('cp', ['-al', modules, root], { stdio: 'pipe' });
    } catch {
      rmSync(path.join(root, 'node_modules'), { recursive: true, force: true });
      cpSync(modules, path.join(root, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    }
  }
  return { root, remove: () => rmSync(parent, { recursive: true, force: true }) };
}

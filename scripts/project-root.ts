/** The repository root: the nearest folder above this file whose package.json is pchat-dr's (from src and dist). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'pchat-dr') return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the pchat-dr package root above ${from}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(__dirname);
export const PACKAGE_VERSION: string = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version;

/**
 * The installed pchat-dr package: its root folder (the nearest folder above this file whose package.json is
 * pchat-dr's, from the sources and from dist/), its version and the Node.js range it supports.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface Manifest {
  name?: string;
  version: string;
  engines?: { node?: string };
}

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as Manifest).name === 'pchat-dr')
      return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the pchat-dr package root above ${from}`);
  }
}

export const PROJECT_ROOT = findPackageRoot(__dirname);
const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as Manifest;
export const PACKAGE_VERSION: string = manifest.version;
/** package.json's engines.node, e.g. ">=22.12". */
export const NODE_ENGINES: string = manifest.engines?.node ?? '';

/** The Temporal TypeScript SDK pchat-dr runs on: the installed @temporalio/client (every @temporalio package is on it). */
export function temporalSdkVersion(): string {
  return (require('@temporalio/client/package.json') as Manifest).version;
}

/** What `pchat-dr --version` prints. */
export function versionLine(): string {
  return `pchat-dr ${PACKAGE_VERSION} (Temporal TypeScript SDK ${temporalSdkVersion()}, Node.js ${process.version})`;
}

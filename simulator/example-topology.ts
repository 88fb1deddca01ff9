/**
 * A runnable copy of the simulated example (examples/simulated.yaml) in a folder of its own: its share, copy folder,
 * simulator state and pool file live there, its instances listen on free loopback ports, and the stand-in
 * Management Shell is named by its absolute path in dist/. The demo and the tests start their estates from it.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../runtime/free-port';
import { PROJECT_ROOT } from '../runtime/package';

/** The ports examples/simulated.yaml gives its four instances. */
const EXAMPLE_PORTS = ['14331', '14332', '14333', '14334'];

/**
 * Writes `dir/estate.yaml` (and the password file it references) from the simulated example, with free ports and
 * the built stand-in shell's absolute path; `edit` may change the YAML further. Returns the topology file's path.
 */
export async function writeSimulatedTopology(
  dir: string,
  edit: (yaml: string) => string = (yaml) => yaml,
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  let yaml = readFileSync(path.join(PROJECT_ROOT, 'examples', 'simulated.yaml'), 'utf8');
  for (const port of EXAMPLE_PORTS) yaml = yaml.replace(`port: ${port}`, `port: ${await freePort()}`);
  yaml = yaml.replace(
    '../dist/simulator/pool/management-shell.js',
    path.join(PROJECT_ROOT, 'dist', 'simulator', 'pool', 'management-shell.js'),
  );
  const file = path.join(dir, 'estate.yaml');
  writeFileSync(file, edit(yaml));
  copyFileSync(path.join(PROJECT_ROOT, 'examples', 'simulated.secret'), path.join(dir, 'simulated.secret'));
  return file;
}

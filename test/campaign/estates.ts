/**
 * The campaign's estates. A scenario's starting point (log shipping set up, logs taken, DC1 lost, a failover done
 * ...) is built once as a template; each cell starts from a copy of it in a folder of its own, on ports of its own,
 * under a pool FQDN of its own (the incident lock is per pool), so cells run side by side without touching each
 * other. The simulator keeps its whole state in its folder (docs/simulator.md): a copy with its paths, ports and
 * pool name rewritten is the same estate somewhere else.
 *
 * Each estate also keeps what the checks need and the simulator does not: the statements every instance ran, and
 * the chat messages acknowledged with the time they were (messages.ts).
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../runtime/free-port';
import { SimulatedEstate } from '../../simulator/estate';
import type { EstateSnapshot } from '../../simulator/estate-snapshot';
import type { ObservedStatement } from '../../simulator/engine/instance';
import { writeSimulatedTopology } from '../../simulator/example-topology';
import { loadTopology } from '../../topology/load';
import type { Topology } from '../../topology/schema';
import { ChatPoster, type Acknowledged } from './messages';

/** What a template records beside the simulator's state. */
export interface TemplateFacts {
  /** Messages acknowledged while the template was built that its serving copy must keep. */
  acknowledged: Acknowledged[];
}

export interface Template {
  dir: string;
  fqdn: string;
  facts: TemplateFacts;
}

export interface CampaignEstate {
  dir: string;
  fqdn: string;
  topologyFile: string;
  topology: Topology;
  estate: SimulatedEstate;
  /** Every statement run on any instance since the estate started, but the chat servers'. */
  statements: ObservedStatement[];
  chat: ChatPoster;
  close(): Promise<void>;
}

const FACTS = 'campaign.json';
/** How the simulator's chat servers name themselves at login (simulator/chat-load.ts). */
const CHAT_SERVER = 'Persistent Chat Server';

async function open(dir: string, fqdn: string, topologyFile: string): Promise<CampaignEstate> {
  const { file, topology } = loadTopology(topologyFile);
  const estate = await SimulatedEstate.start({
    topology,
    topologyFile: file,
    stateDir: path.join(dir, '.sim'),
    synchronizeAfterMs: 300,
  });
  const statements: ObservedStatement[] = [];
  // The chat servers' own traffic is not the runbook's.
  estate.observeStatements((statement) => {
    if (statement.appName !== CHAT_SERVER) statements.push(statement);
  });
  const chat = new ChatPoster(estate);
  return {
    dir,
    fqdn,
    topologyFile: file,
    topology,
    estate,
    statements,
    chat,
    close: async () => {
      await chat.stop();
      estate.observeStatements(null);
      await estate.close();
    },
  };
}

/** A fresh simulated estate (examples/simulated.yaml) in `dir`, for pool `fqdn`. */
export async function freshEstate(dir: string, fqdn: string): Promise<CampaignEstate> {
  const file = await writeSimulatedTopology(dir, (yaml) => yaml.replaceAll('pchat.sim.local', fqdn));
  return open(dir, fqdn, file);
}

/** Saves a closed estate's folder as a template, with the facts the checks need. */
export function saveTemplate(estate: CampaignEstate, facts: TemplateFacts): Template {
  writeFileSync(path.join(estate.dir, FACTS), JSON.stringify(facts));
  return { dir: estate.dir, fqdn: estate.fqdn, facts };
}

export function loadTemplate(dir: string, fqdn: string): Template {
  return { dir, fqdn, facts: JSON.parse(readFileSync(path.join(dir, FACTS), 'utf8')) as TemplateFacts };
}

/** The template's estate, copied to `dir` with its own ports and pool, started. */
export async function cloneEstate(template: Template, dir: string, fqdn: string): Promise<CampaignEstate> {
  cpSync(path.join(template.dir, '.sim'), path.join(dir, '.sim'), { recursive: true });
  cpSync(path.join(template.dir, 'simulated.secret'), path.join(dir, 'simulated.secret'));
  // The cmdlets this copy runs are its own.
  rmSync(path.join(dir, '.sim', 'pool.json.invocations.jsonl'), { force: true });
  const moved = (text: string) => text.replaceAll(template.dir, dir).replaceAll(template.fqdn, fqdn);
  for (const state of ['estate.json', 'pool.json']) {
    const file = path.join(dir, '.sim', state);
    writeFileSync(file, moved(readFileSync(file, 'utf8')));
  }
  let yaml = moved(readFileSync(path.join(template.dir, 'estate.yaml'), 'utf8'));
  const hosts = [...yaml.matchAll(/^\s+host: (\S+)\n\s+port: \d+$/gm)];
  for (const [whole, host] of hosts)
    yaml = yaml.replace(whole, whole.replace(/port: \d+/, `port: ${await freePort(host)}`));
  const file = path.join(dir, 'estate.yaml');
  writeFileSync(file, yaml);
  return open(dir, fqdn, file);
}

/** Which instances hold a mirroring session with which (by label), each pair once. */
export function mirroringSessions(snapshot: EstateSnapshot): [string, string][] {
  const labelOf = new Map(snapshot.instances.map((instance) => [instance.serverName, instance.name]));
  const pairs = new Set<string>();
  for (const instance of snapshot.instances)
    for (const database of instance.databases) {
      const partner = database.mirroring && labelOf.get(database.mirroring.partner);
      if (partner) pairs.add([instance.name, partner].sort().join(' '));
    }
  return [...pairs].map((pair) => pair.split(' ') as [string, string]);
}

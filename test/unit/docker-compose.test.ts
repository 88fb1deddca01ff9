/**
 * docker-compose.yml cannot run on the build machines (no Docker engine), so its structure is checked here: every
 * service, volume and config it names exists; the worker, the UI and the search-attribute registration point at the
 * Temporal service; the simulator stays in its profile and reaches the worker over the paths and host names its
 * topology file gives; images are pinned. The Dockerfile's structure is dockerfile.test.ts's.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SearchAttributeType } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { PROJECT_ROOT } from '../../runtime/package';
import { containerPathOf, copiedIntoImage, finalOf } from '../helpers/dockerfile';
import { loadTopology } from '../../topology/load';
import { SEARCH_ATTRIBUTES } from '../../contracts/search-attributes';

// ---- docker-compose.yml ---------------------------------------------------------------------------------------

type Environment = Record<string, string | number | boolean | null> | string[];
type Mount = string | { type?: string; source?: string; target?: string };

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; args?: Record<string, string> };
  profiles?: string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  network_mode?: string;
  links?: string[];
  volumes_from?: string[];
  extends?: { service: string };
  environment?: Environment;
  entrypoint?: string | string[];
  command?: string | string[];
  volumes?: Mount[];
  configs?: (string | { source: string; target?: string })[];
  secrets?: (string | { source: string; target?: string })[];
  ports?: (string | number | { target: number })[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  stop_grace_period?: string;
  networks?: unknown;
}

interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  configs?: Record<string, unknown>;
  secrets?: Record<string, unknown>;
}

const COMPOSE_FILE = path.join(PROJECT_ROOT, 'docker-compose.yml');

function readCompose(): ComposeFile {
  const doc = parseDocument(readFileSync(COMPOSE_FILE, 'utf8'), { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0)
    throw new Error(`docker-compose.yml: ${doc.errors.map((error) => error.message).join('; ')}`);
  return doc.toJS() as ComposeFile;
}

const compose = readCompose();
const services = compose.services;

function service(name: string): Service {
  const found = services[name];
  if (!found)
    throw new Error(`docker-compose.yml has no service ${name} (services: ${Object.keys(services).join(', ')})`);
  return found;
}

function environmentOf(svc: Service): Record<string, string> {
  const env = svc.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0], entry.slice(entry.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

/** The shell text a service runs: entrypoint and command joined, as `sh -c` receives them. */
function scriptOf(svc: Service): string {
  const part = (value: string | string[] | undefined) =>
    value === undefined ? [] : Array.isArray(value) ? value : [value];
  return [...part(svc.entrypoint), ...part(svc.command)].join(' ');
}

function dependsOn(svc: Service): Record<string, string | undefined> {
  const deps = svc.depends_on ?? [];
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, undefined]));
  return Object.fromEntries(Object.entries(deps).map(([name, spec]) => [name, spec?.condition]));
}

/** Every other service this one names: depends_on, network_mode service:, links, volumes_from, extends. */
function servicesNamedBy(svc: Service): string[] {
  const named = Object.keys(dependsOn(svc));
  if (svc.network_mode?.startsWith('service:')) named.push(svc.network_mode.slice('service:'.length));
  for (const link of svc.links ?? []) named.push(link.split(':')[0]);
  for (const from of svc.volumes_from ?? [])
    if (!from.startsWith('container:')) named.push(from.replace(/^service:/, '').split(':')[0]);
  if (svc.extends && !('file' in svc.extends)) named.push(svc.extends.service);
  return named;
}

interface VolumeMount {
  /** A named volume's name, or undefined for bind mounts and anonymous volumes. */
  volume?: string;
  target: string;
}

function mountsOf(svc: Service): VolumeMount[] {
  return (svc.volumes ?? []).map((mount) => {
    if (typeof mount === 'string') {
      const [source, target] = mount.split(':');
      if (target === undefined) return { target: source }; // anonymous volume
      const isBind = /^[./~$]/.test(source);
      return { volume: isBind ? undefined : source, target };
    }
    return {
      volume: mount.type === 'volume' || mount.type === undefined ? mount.source : undefined,
      target: mount.target ?? '',
    };
  });
}

function volumeMountedAt(svc: Service, target: string): string | undefined {
  return mountsOf(svc).find((mount) => mount.target === target)?.volume;
}

const sourceOf = (entry: string | { source: string }) => (typeof entry === 'string' ? entry : entry.source);

function isSimulator(svc: Service): boolean {
  return /\bsim start\b/.test(scriptOf(svc));
}

function servicesRunningImage(repository: string): string[] {
  return Object.entries(services)
    .filter(([, svc]) => svc.image?.replace(/:[^:/]+$/, '') === repository)
    .map(([name]) => name);
}

function onlyServiceRunning(repository: string): string {
  const found = servicesRunningImage(repository);
  expect(found, `services running ${repository}`).toHaveLength(1);
  return found[0];
}

/** The gRPC frontend address of the Temporal server service: its service name and FRONTEND_GRPC_PORT (7233). */
function temporalFrontend(): string {
  const name = onlyServiceRunning('temporalio/server');
  return `${name}:${environmentOf(service(name)).FRONTEND_GRPC_PORT ?? '7233'}`;
}

const WORKER = 'worker';

describe('docker-compose.yml', () => {
  it('names only services, volumes and configs it defines, and declares none it does not use', () => {
    const names = Object.keys(services);
    expect(names).toEqual(expect.arrayContaining([WORKER, 'temporal', 'temporal-ui', 'postgresql']));
    for (const [name, svc] of Object.entries(services)) {
      for (const other of servicesNamedBy(svc)) expect(names, `${name} names service ${other}`).toContain(other);
      expect(svc.image !== undefined || svc.build !== undefined, `${name} has neither image nor build`).toBe(true);
    }

    const declaredVolumes = Object.keys(compose.volumes ?? {});
    const usedVolumes = new Set(
      Object.values(services).flatMap((svc) => mountsOf(svc).flatMap((mount) => (mount.volume ? [mount.volume] : []))),
    );
    for (const [name, svc] of Object.entries(services)) {
      for (const mount of mountsOf(svc)) {
        expect(mount.target, `${name}: a volume without a target path`).toMatch(/^\//);
        if (mount.volume) expect(declaredVolumes, `${name} mounts volume ${mount.volume}`).toContain(mount.volume);
      }
    }
    expect(
      declaredVolumes.filter((volume) => !usedVolumes.has(volume)),
      'declared volumes no service mounts',
    ).toEqual([]);

    for (const [kind, declared] of [
      ['configs', compose.configs],
      ['secrets', compose.secrets],
    ] as const) {
      const used = Object.values(services).flatMap((svc) => (svc[kind] ?? []).map(sourceOf));
      for (const name of used) expect(Object.keys(declared ?? {}), `${kind} ${name}`).toContain(name);
      expect(
        Object.keys(declared ?? {}).filter((name) => !used.includes(name)),
        `declared ${kind} no service uses`,
      ).toEqual([]);
    }
  });

  it('pins every image to a version tag', () => {
    const images = Object.entries(services).filter(([, svc]) => svc.image !== undefined);
    expect(images.length).toBeGreaterThanOrEqual(4);
    for (const [name, svc] of images) {
      const image = svc.image as string;
      const tag = /:([^:/@]+)$/.exec(image)?.[1];
      expect(tag, `${name}: image ${image} has no tag`).toBeDefined();
      expect(tag, `${name}: image ${image}`).not.toBe('latest');
      expect(tag, `${name}: image ${image} is not pinned to a version`).toMatch(/\d/);
      expect(image, `${name}: interpolated image names cannot be checked`).not.toContain('$');
    }
    // temporal-sql-tool's schema must be the server's: admin-tools on exactly the server's version.
    const serverTag = service(onlyServiceRunning('temporalio/server')).image?.split(':')[1];
    const adminTools = servicesRunningImage('temporalio/admin-tools');
    expect(adminTools.length).toBeGreaterThan(0);
    for (const name of adminTools) expect(service(name).image, name).toBe(`temporalio/admin-tools:${serverTag}`);
  });

  it('runs Temporal on PostgreSQL, after its schema is set up', () => {
    const temporal = service(onlyServiceRunning('temporalio/server'));
    const postgresName = onlyServiceRunning('postgres');
    const env = environmentOf(temporal);
    expect(env.DB).toBe('postgres12');
    expect(env.POSTGRES_SEEDS).toBe(postgresName);
    expect(env.BIND_ON_IP, 'other containers cannot reach a frontend bound to loopback').toBe('0.0.0.0');
    expect(env.POSTGRES_PWD).toBe(environmentOf(service(postgresName)).POSTGRES_PASSWORD);
    expect(env.POSTGRES_USER).toBe(environmentOf(service(postgresName)).POSTGRES_USER);
    if (env.DYNAMIC_CONFIG_FILE_PATH) {
      const targets = (temporal.configs ?? []).map((config) =>
        typeof config === 'string' ? `/${config}` : config.target,
      );
      expect(targets, 'the dynamic config file the server is told to read').toContain(env.DYNAMIC_CONFIG_FILE_PATH);
    }
    expect(JSON.stringify(temporal.healthcheck?.test), 'the healthcheck probes the frontend port').toContain(
      temporalFrontend().split(':')[1],
    );

    const schema = Object.entries(dependsOn(temporal)).find(([name]) =>
      /temporal-sql-tool/.test(scriptOf(service(name))),
    );
    expect(schema, 'the server waits for the schema one-shot').toBeDefined();
    expect(schema?.[1]).toBe('service_completed_successfully');
    const script = scriptOf(service(schema![0]));
    for (const [database, schemaDir] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ]) {
      for (const step of [
        'create',
        'setup-schema -v 0.0',
        `update-schema -d /etc/temporal/schema/postgresql/v12/${schemaDir}/versioned`,
      ]) {
        expect(script).toMatch(
          new RegExp(`--plugin postgres12 --ep ${postgresName} .*--db ${database} ${step}\\s*$`, 'm'),
        );
      }
    }
    expect(environmentOf(service(schema![0])).SQL_PASSWORD).toBe(env.POSTGRES_PWD);
    expect(dependsOn(service(schema![0]))[postgresName]).toBe('service_healthy');
  });

  it('builds the worker from the Dockerfile and points it at the Temporal frontend', () => {
    const worker = service(WORKER);
    const build = typeof worker.build === 'string' ? { context: worker.build } : worker.build;
    expect(build, 'the worker is built, not pulled').toBeDefined();
    const context = path.resolve(PROJECT_ROOT, build?.context ?? '.');
    expect(context).toBe(PROJECT_ROOT);
    expect(existsSync(path.join(context, build?.dockerfile ?? 'Dockerfile'))).toBe(true);

    const env = environmentOf(worker);
    expect(env.TEMPORAL_ADDRESS).toBe(temporalFrontend());
    const temporalName = temporalFrontend().split(':')[0];
    expect(dependsOn(worker)[temporalName]).toBe('service_healthy');

    // In a container the metrics endpoint must listen beyond loopback, on the port the image exposes and publishes.
    const metricsPort = /^0\.0\.0\.0:(\d+)$/.exec(env.PCHAT_DR_METRICS_ADDRESS ?? '')?.[1];
    expect(metricsPort, 'PCHAT_DR_METRICS_ADDRESS').toBeDefined();
    expect(finalOf('EXPOSE').flatMap((instruction) => instruction.args.split(/\s+/))).toContain(metricsPort);
    expect((worker.ports ?? []).map(String).some((port) => port.endsWith(`:${metricsPort}`))).toBe(true);

    // Docker must wait longer than the worker's own grace time (plus its 30 s force margin) before killing it.
    const grace = durationMs(env.PCHAT_DR_SHUTDOWN_GRACE ?? '5m');
    expect(durationMs(worker.stop_grace_period ?? '10s'), 'stop_grace_period').toBeGreaterThanOrEqual(grace + 30_000);
  });

  it("runs the approval console from the worker's image, on loopback of the host, with its own Temporal connection", () => {
    const console = service('console');
    expect(console.build).toEqual(service(WORKER).build);
    expect(console.command).toEqual(['pchat-dr', 'console']);
    const env = environmentOf(console);
    expect(env.TEMPORAL_ADDRESS).toBe(temporalFrontend());
    const port = /^0\.0\.0\.0:(\d+)$/.exec(env.PCHAT_DR_CONSOLE_LISTEN ?? '')?.[1];
    expect(port, 'PCHAT_DR_CONSOLE_LISTEN').toBeDefined();
    expect((console.ports ?? []).map(String)).toEqual([`127.0.0.1:${port}:${port}`]);
    expect(env.PCHAT_DR_CONSOLE_URL).toContain(`localhost:${port}`);
  });

  it("serves the estates of a read-only folder, overridable for rehearsals with the simulator's topology", () => {
    const worker = service(WORKER);
    // docs/runbooks.md rule 8: the worker's estate files are its own; `${PCHAT_DR_ESTATES:-default}` lets a rehearsal
    // point it at the simulated estate instead.
    const estates = /^\$\{PCHAT_DR_ESTATES:-([^}]+)\}$/.exec(environmentOf(worker).PCHAT_DR_ESTATES ?? '')?.[1];
    expect(estates, 'PCHAT_DR_ESTATES with a default').toBeDefined();
    const mount = (worker.volumes ?? []).find(
      (entry): entry is string => typeof entry === 'string' && entry.split(':')[1] === estates,
    );
    expect(mount, `a mount at ${estates}`).toBeDefined();
    expect(mount!.split(':')[2], 'mounted read-only').toBe('ro');
    const simulatorFile = Object.values(services)
      .filter(isSimulator)
      .map((svc) => /\bsim start\b.*?(?:-f|--file)\s+(\S+\.ya?ml)/.exec(scriptOf(svc))?.[1]);
    const documented = readFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8');
    for (const file of simulatorFile) expect(documented).toContain(`PCHAT_DR_ESTATES=/app/${file}`);
  });

  it("registers exactly the search attributes the workflows set, on the worker's namespace, before the worker starts", () => {
    const registrars = Object.entries(services).filter(([, svc]) => /search-attribute create/.test(scriptOf(svc)));
    expect(registrars).toHaveLength(1);
    const [name, registrar] = registrars[0];
    const script = scriptOf(registrar);

    const cliType: Record<string, string> = {
      [SearchAttributeType.TEXT]: 'Text',
      [SearchAttributeType.KEYWORD]: 'Keyword',
      [SearchAttributeType.INT]: 'Int',
      [SearchAttributeType.DOUBLE]: 'Double',
      [SearchAttributeType.BOOL]: 'Bool',
      [SearchAttributeType.DATETIME]: 'Datetime',
      [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
    };
    const registered = [...script.matchAll(/^\s*register\s+(\S+)\s+(\S+)\s*$/gm)].map((match) => [match[1], match[2]]);
    const expected = SEARCH_ATTRIBUTES.map((key) => [key.name, cliType[key.type]]);
    expect(registered.map(([attribute]) => attribute).sort()).toEqual(expected.map(([attribute]) => attribute).sort());
    expect(registered.sort()).toEqual(expected.sort());
    // register() passes its two arguments through to the CLI, and tolerates only a same-type "already exists".
    expect(script).toMatch(/temporal operator search-attribute create --namespace (\S+) --name "\$\$1" --type "\$\$2"/);
    expect(script.indexOf('different type')).toBeGreaterThan(-1);
    expect(script.indexOf('different type')).toBeLessThan(script.indexOf('already exists'));

    const namespace = environmentOf(service(WORKER)).TEMPORAL_NAMESPACE ?? 'default';
    const namespaces = [...script.matchAll(/--namespace (\S+)/g)].map((match) => match[1]);
    expect(new Set(namespaces)).toEqual(new Set([namespace]));
    expect(environmentOf(registrar).TEMPORAL_ADDRESS).toBe(temporalFrontend());

    // The namespace exists first (SQL visibility keeps search attributes per namespace), and the worker waits for both.
    const creator = Object.entries(dependsOn(registrar)).find(([other]) =>
      /namespace create/.test(scriptOf(service(other))),
    );
    expect(creator?.[1]).toBe('service_completed_successfully');
    expect(scriptOf(service(creator![0]))).toContain(`namespace create --namespace ${namespace}`);
    expect(environmentOf(service(creator![0])).TEMPORAL_ADDRESS).toBe(temporalFrontend());
    expect(dependsOn(service(creator![0]))[temporalFrontend().split(':')[0]]).toBe('service_healthy');
    expect(dependsOn(service(WORKER))[name]).toBe('service_completed_successfully');
  });

  it("points the UI at the Temporal frontend and the worker's namespace", () => {
    const ui = service(onlyServiceRunning('temporalio/ui'));
    const env = environmentOf(ui);
    expect(env.TEMPORAL_ADDRESS).toBe(temporalFrontend());
    expect(env.TEMPORAL_DEFAULT_NAMESPACE ?? 'default').toBe(
      environmentOf(service(WORKER)).TEMPORAL_NAMESPACE ?? 'default',
    );
    expect(dependsOn(ui)[temporalFrontend().split(':')[0]]).toBe('service_healthy');
  });

  it('keeps the simulator in the simulator profile, with nothing outside it depending on it', () => {
    const simulators = Object.keys(services).filter((name) => isSimulator(service(name)));
    expect(simulators.length).toBeGreaterThan(0);
    for (const name of simulators) expect(service(name).profiles, name).toEqual(['simulator']);

    const inProfile = new Set(Object.keys(services).filter((name) => service(name).profiles?.includes('simulator')));
    for (const [name, svc] of Object.entries(services)) {
      if (inProfile.has(name)) continue;
      expect(svc.profiles, `${name} must start without a profile`).toBeUndefined();
      const needed = servicesNamedBy(svc).filter((other) => inProfile.has(other));
      expect(needed, `${name} (outside the profile) names simulator services`).toEqual([]);
    }
    expect(inProfile.has(WORKER)).toBe(false);
  });

  it('gives the simulator a topology that passes loadTopology and that the worker can reach: hosts, folders, pool state', () => {
    const worker = service(WORKER);
    const simulators = Object.entries(services).filter(([, svc]) => isSimulator(svc));
    const referenced = Object.values(services).flatMap((svc) =>
      [...scriptOf(svc).matchAll(/(?:^|\s)(?:-f|--file)\s+(\S+\.ya?ml)\b/g)].map((match) => match[1]),
    );
    expect(referenced.length).toBeGreaterThan(0);
    for (const file of referenced) {
      expect(existsSync(path.join(PROJECT_ROOT, file)), `${file} exists`).toBe(true);
      expect(() => loadTopology(path.join(PROJECT_ROOT, file)), file).not.toThrow();
    }

    for (const [name, simulator] of simulators) {
      const file = /\bsim start\b.*?(?:-f|--file)\s+(\S+\.ya?ml)/.exec(scriptOf(simulator))?.[1];
      expect(file, `${name}: sim start -f <topology>`).toBeDefined();
      const local = path.join(PROJECT_ROOT, file!);
      expect(existsSync(local), `${file} exists`).toBe(true);
      const { topology } = loadTopology(local);
      expect(topology.simulated).toBe(true);

      // The instances listen on the simulator's address, by its service name on the network the worker is on.
      for (const instance of topology.instances) expect(instance.host, instance.name).toBe(name);
      expect(simulator.network_mode ?? 'default').toBe(worker.network_mode ?? 'default');
      expect(JSON.stringify(simulator.networks ?? ['default'])).toBe(JSON.stringify(worker.networks ?? ['default']));

      // The share and the copy folder: one volume, at the same path, in the simulator (sqlPath) and the worker.
      for (const folder of [topology.backupShare, topology.copyFolder]) {
        expect(folder.sqlPath, 'a simulated SQL Server writes where the worker reads').toBe(folder.workerPath);
        const volume = volumeMountedAt(worker, folder.workerPath);
        expect(volume, `the worker mounts a volume at ${folder.workerPath}`).toBeDefined();
        expect(volumeMountedAt(simulator, folder.workerPath), `${name} mounts ${volume} at ${folder.workerPath}`).toBe(
          volume,
        );
      }

      // The simulator's state (default: .sim next to the topology) holds the pool state the worker's stand-in shell uses.
      const stateDir = containerPathOf(path.join(path.dirname(local), '.sim'));
      const stateVolume = volumeMountedAt(simulator, stateDir);
      expect(stateVolume, `${name} keeps its state in a volume at ${stateDir}`).toBeDefined();
      // The stand-in shell is the image's own build of simulator/pool/management-shell.ts.
      const [program, script, ...args] = topology.poolControl.command;
      expect(program).toBe('node');
      const built = path.relative(path.join(PROJECT_ROOT, 'dist'), script);
      expect(built.startsWith('..'), `${script} is built into dist/`).toBe(false);
      expect(existsSync(path.join(PROJECT_ROOT, built.replace(/\.js$/, '.ts'))), `the source of ${built}`).toBe(true);
      const poolState = containerPathOf(args[args.indexOf('--pool-state') + 1]);
      expect(path.posix.dirname(poolState)).toBe(stateDir);
      expect(volumeMountedAt(worker, stateDir), 'the worker sees the pool-state file').toBe(stateVolume);

      // The topology, its secret file and the stand-in shell's topology (the pool state names it) are in the image.
      expect(copiedIntoImage(local), `the image has ${file}`).toBe(true);
      for (const instance of topology.instances) {
        expect(instance.password).toMatch(/^file:/);
        const secret = instance.password.slice('file:'.length);
        expect(existsSync(secret), secret).toBe(true);
        expect(copiedIntoImage(secret), `the image has ${secret}`).toBe(true);
      }
    }
  });
});

/** Milliseconds of a Compose / Temporal duration: 30s, 5m, 1h30m, 1m30s, 500ms. */
function durationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((total, part) => total + Number(part[1]) * units[part[2]], 0);
}

/**
 * What runbooks and steps know about an estate, derived from its topology: instances by role, database names, the
 * pool and how it is controlled. Pure: workflows, activities and the CLI share it.
 */
import type { DatabaseKind, DatabaseRoles, Instance, Role, Topology } from '../topology/schema';

/** The pool as the Management Shell steps address it. */
export interface PoolTarget {
  poolControl: Topology['poolControl'];
  fqdn: string;
  identity: string;
}

/** The pool as Get-CsPersistentChatState and Get-CsService show it. */
export interface PoolView {
  poolState: 'Normal' | 'FailedOver';
  activeServers: string[];
}

export function rolesOf(topology: Topology, kind: DatabaseKind): DatabaseRoles {
  const roles = topology.databases[kind];
  if (!roles) throw new TypeError(`the topology describes no ${kind} database`);
  return roles;
}

export function databaseNameOf(topology: Topology, kind: DatabaseKind): string {
  return rolesOf(topology, kind).name ?? kind;
}

export function instanceFor(topology: Topology, kind: DatabaseKind, role: Role): Instance | undefined {
  const name = rolesOf(topology, kind)[role];
  return name ? topology.instances.find((instance) => instance.name === name) : undefined;
}

/** Like instanceFor, for roles every topology has (primary, mirror, backup). */
export function requiredInstance(
  topology: Topology,
  kind: DatabaseKind,
  role: 'primary' | 'mirror' | 'backup',
): Instance {
  return instanceFor(topology, kind, role)!;
}

/** One database of the estate (mgc or mgccomp): its name on SQL Server and the instance of each role. */
export interface EstateDatabase {
  kind: DatabaseKind;
  name: string;
  primary: Instance;
  mirror: Instance;
  backup: Instance;
  /** Only when the topology names one. */
  backupMirror?: Instance;
}

export function databaseOf(topology: Topology, kind: DatabaseKind): EstateDatabase {
  const backupMirror = instanceFor(topology, kind, 'backupMirror');
  return {
    kind,
    name: databaseNameOf(topology, kind),
    primary: requiredInstance(topology, kind, 'primary'),
    mirror: requiredInstance(topology, kind, 'mirror'),
    backup: requiredInstance(topology, kind, 'backup'),
    ...(backupMirror ? { backupMirror } : {}),
  };
}

export function poolTargetOf(topology: Topology): PoolTarget {
  return {
    poolControl: topology.poolControl,
    fqdn: topology.pool.fqdn,
    identity: topology.pool.identity ?? `service:${topology.pool.fqdn}`,
  };
}

/** Two lists of server FQDNs name the same servers (in any order, any case). */
export function sameServers(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((server) => b.some((other) => other.toLowerCase() === server.toLowerCase()));
}

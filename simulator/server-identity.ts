/**
 * The names a simulated instance answers to, made the way SQL Server makes them from its Windows computer:
 * @@SERVERNAME is the computer's NetBIOS name in upper case (at most 15 characters), with \INSTANCE for a named
 * instance; mirroring endpoints and partner addresses use the computer's DNS name. A topology's `serverName`
 * replaces the derivation (it is what SQL Server would report).
 *
 * An address says nothing about the computer behind it, so an instance whose `host` is an IP address needs a
 * `serverName`; its DNS name is then the computer name in the pool's domain (the SQL Servers of a Persistent Chat
 * pool are members of its Active Directory domain).
 */
import { isIP } from 'node:net';
import type { Instance, Topology } from '../topology/schema';

export interface ServerIdentity {
  /** @@SERVERNAME and SERVERPROPERTY('ServerName'): COMPUTER or COMPUTER\INSTANCE. */
  serverName: string;
  /** SERVERPROPERTY('MachineName'): the NetBIOS computer name. */
  machineName: string;
  /** SERVERPROPERTY('InstanceName'): null for the default instance. */
  instanceName: string | null;
  /** The computer's DNS name: mirroring endpoints are TCP://<fqdn>:5022. */
  fqdn: string;
}

/** NetBIOS computer names are at most 15 characters; Windows truncates longer host names. */
const NETBIOS_LENGTH = 15;

export class ServerIdentityUnknown extends Error {
  constructor(instance: Pick<Instance, 'name' | 'host'>) {
    super(
      `instance ${instance.name}: host ${instance.host} is an address, and SQL Server names itself after its computer, ` +
        `which an address does not tell: give the instance a serverName (what @@SERVERNAME answers, e.g. SQLDC1A)`,
    );
    this.name = 'ServerIdentityUnknown';
  }
}

export function serverIdentity(
  instance: Pick<Instance, 'name' | 'host' | 'instanceName' | 'serverName'>,
  poolFqdn: Topology['pool']['fqdn'],
): ServerIdentity {
  const hostIsAddress = isIP(instance.host) !== 0;
  let machineName: string;
  let instanceName: string | null;
  if (instance.serverName) {
    const [machine, named] = instance.serverName.split('\\');
    machineName = machine.toUpperCase();
    instanceName = named ? named.toUpperCase() : null;
  } else {
    if (hostIsAddress) throw new ServerIdentityUnknown(instance);
    machineName = firstLabel(instance.host).toUpperCase().slice(0, NETBIOS_LENGTH);
    // SQL Server calls its default instance MSSQLSERVER, and @@SERVERNAME leaves it out.
    const named = instance.instanceName?.toUpperCase();
    instanceName = named && named !== 'MSSQLSERVER' ? named : null;
  }
  const hostNamesThisComputer =
    !hostIsAddress && firstLabel(instance.host).toUpperCase().slice(0, NETBIOS_LENGTH) === machineName;
  const fqdn = hostNamesThisComputer
    ? instance.host.toLowerCase()
    : [machineName.toLowerCase(), domainOf(hostIsAddress ? poolFqdn : instance.host)].filter(Boolean).join('.');
  return {
    serverName: instanceName ? `${machineName}\\${instanceName}` : machineName,
    machineName,
    instanceName,
    fqdn,
  };
}

function firstLabel(name: string): string {
  return name.split('.')[0];
}

/** contoso.com for sql1.contoso.com; '' for a single-label name. */
function domainOf(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

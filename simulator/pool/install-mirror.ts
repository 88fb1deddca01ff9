/**
 * Install-CsMirrorDatabase's SQL Server steps for one database: the seed files on the share, the mirroring endpoint
 * addresses, and backup, restore and SET PARTNER in the order SQL Server requires.
 */
import { CmdletError } from './error-records';
import type { MirrorPair, Progress } from './database-mirroring';
import { bracketQuote, closeAll, connect, describeInstance, execute, readDatabaseState } from './partner-connections';

export interface MirrorSeedFiles {
  full: string;
  log: string;
}

/** Files on the share (as SQL Server sees it) that seed the mirror; a UNC share gets backslashes. */
export function mirrorSeedFiles(fileShare: string, database: string, at: Date): MirrorSeedFiles {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const separator = fileShare.includes('\\') && !fileShare.includes('/') ? '\\' : '/';
  const base = `${fileShare.replace(/[\\/]+$/, '')}${separator}${database}_mirror_${stamp}`;
  return { full: `${base}.bak`, log: `${base}.trn` };
}

const PARTNER_ADDRESS = /^TCP:\/\/[A-Za-z0-9_.-]+:\d+$/;
/** The simulator's instances listen for mirroring on the default endpoint port. */
const MIRRORING_PORT = 5022;

/** SET PARTNER takes the address as a T-SQL string literal, so it must be a plain address before it is written in. */
export function mirroringEndpoint(dnsName: string): string {
  const address = `TCP://${dnsName}:${MIRRORING_PORT}`;
  if (!PARTNER_ADDRESS.test(address)) {
    throw new CmdletError(
      `The SQL Server's DNS name ${JSON.stringify(dnsName)} does not make a mirroring endpoint address of the form TCP://host:port.`,
      'InvalidData',
      'InvalidMirroringEndpoint',
    );
  }
  return address;
}

export interface InstallMirrorOptions {
  fileShare: string;
  dropExistingDatabasesOnMirror: boolean;
  now: Date;
}

/**
 * Install-CsMirrorDatabase for one database: back up the principal (full, then log) to the share, restore both on
 * the mirror WITH NORECOVERY, then SET PARTNER on the mirror first and the principal second, the order SQL Server
 * requires. Everything is checked before the first backup, so a refusal leaves nothing half done.
 */
export async function installMirror(
  pair: MirrorPair,
  options: InstallMirrorOptions,
  progress: Progress,
): Promise<void> {
  const connections = await Promise.all([connect(pair.principal.instance), connect(pair.mirror.instance)]);
  try {
    const [principal, mirror] = connections.map((connection, index) => {
      if (!connection.reachable) {
        const which = index === 0 ? 'principal' : 'mirror';
        throw new CmdletError(
          `Cannot reach the ${which} ${describeInstance(connection.instance)}: ${connection.reason}`,
          'ConnectionError',
          'SqlServerUnreachable',
        );
      }
      return connection;
    });
    const database = bracketQuote(pair.database);
    const principalName = describeInstance(principal.instance);
    const mirrorName = describeInstance(mirror.instance);

    const principalState = await readDatabaseState(principal, pair.database);
    if (principalState !== 'ONLINE') {
      throw new CmdletError(
        `${pair.database} on ${principalName} is ${principalState ?? 'missing'}; it must be ONLINE to be mirrored.`,
        'InvalidOperation',
        'PrincipalNotOnline',
      );
    }
    const mirrorState = await readDatabaseState(mirror, pair.database);
    if (mirrorState !== null && !options.dropExistingDatabasesOnMirror) {
      throw new CmdletError(
        `${pair.database} already exists on the mirror ${mirrorName} (${mirrorState}). Run again with -DropExistingDatabasesOnMirror to replace it.`,
        'InvalidOperation',
        'DatabaseExistsOnMirror',
      );
    }
    const principalEndpoint = mirroringEndpoint(pair.principal.fqdn);
    const mirrorEndpoint = mirroringEndpoint(pair.mirror.fqdn);
    const files = mirrorSeedFiles(options.fileShare, pair.database, options.now);

    progress.verbose(`Backing up ${pair.database} on ${principalName} to ${files.full} and ${files.log}.`);
    await execute(principal, `BACKUP DATABASE ${database} TO DISK = @path WITH INIT`, { path: files.full });
    await execute(principal, `BACKUP LOG ${database} TO DISK = @path WITH INIT`, { path: files.log });
    progress.verbose(`Restoring ${pair.database} on ${mirrorName} WITH NORECOVERY.`);
    await execute(mirror, `RESTORE DATABASE ${database} FROM DISK = @path WITH NORECOVERY, REPLACE`, {
      path: files.full,
    });
    await execute(mirror, `RESTORE LOG ${database} FROM DISK = @path WITH NORECOVERY`, { path: files.log });
    progress.verbose(
      `Starting the mirroring session: ${mirrorEndpoint} (mirror) with ${principalEndpoint} (principal).`,
    );
    await execute(mirror, `ALTER DATABASE ${database} SET PARTNER = '${principalEndpoint}'`);
    await execute(principal, `ALTER DATABASE ${database} SET PARTNER = '${mirrorEndpoint}'`);
  } finally {
    await closeAll(connections);
  }
}

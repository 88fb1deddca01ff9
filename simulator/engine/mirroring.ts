/**
 * Database mirroring, as SQL Server documents it: ALTER DATABASE ... SET PARTNER with the documented
 * preconditions and errors, and the background behaviour of a session — log shipped from principal to mirror
 * (synchronously with SAFETY FULL), SYNCHRONIZING → SYNCHRONIZED, DISCONNECTED when the partners cannot see each
 * other, and the demotion of an old principal that comes back after forced service.
 */
import { randomUUID } from 'node:crypto';
import type { AlterDatabaseAction } from '../tsql/ast';
import type { Database, MirroringSide, MirroringState } from './database';
import { errors } from './errors';
import type { SqlInstance } from './instance';
import type { Network } from './network';
import type { Execution } from './session';

type PartnerAction = Extract<
  AlterDatabaseAction,
  { kind: 'partner' | 'partnerAddress' | 'partnerSafety' | 'partnerTimeout' | 'witnessOff' }
>;

interface Peer {
  instance: SqlInstance;
  database: Database;
  side: MirroringSide;
}

export async function alterPartner(database: Database, action: PartnerAction, execution: Execution): Promise<void> {
  const { instance } = execution;
  if (action.kind === 'partnerAddress') {
    setPartner(instance, database, action.address);
  } else {
    const side = database.mirroring;
    if (!side || side.awaitingPrincipal) throw errors.notMirrored(database.name);
    const peer = peerOf(instance, database);
    const connected = peer !== undefined && instance.network.reachable(instance, peer.instance);
    switch (action.kind) {
      case 'partner':
        switch (action.option) {
          case 'FAILOVER':
            failover(instance, database, side, peer, connected, execution);
            break;
          case 'FORCE_SERVICE_ALLOW_DATA_LOSS':
            forceService(instance, database, side, connected);
            break;
          case 'OFF':
            if (connected && peer) peer.database.mirroring = null;
            database.mirroring = null;
            break;
          case 'SUSPEND':
            setState('SUSPENDED', side, connected ? peer?.side : undefined);
            break;
          case 'RESUME':
            if (side.role !== 'PRINCIPAL') throw errors.onlyOnPrincipal(database.name);
            if (!connected || !peer) throw errors.partnersNotConnected(database.name);
            rollBackDivergedMirror(database, peer.database);
            setState('SYNCHRONIZING', side, peer.side);
            shipLog(database, peer.database);
            break;
        }
        break;
      case 'partnerSafety':
        if (side.role !== 'PRINCIPAL') throw errors.onlyOnPrincipal(database.name);
        for (const target of connected && peer ? [side, peer.side] : [side]) {
          target.safety = action.safety;
          target.safetySequence++;
        }
        // Switching to FULL makes the mirror catch up first; asynchronous mirroring stays SYNCHRONIZING.
        if (side.state === 'SYNCHRONIZED' || action.safety === 'OFF')
          setState('SYNCHRONIZING', side, connected ? peer?.side : undefined);
        break;
      case 'partnerTimeout':
        if (side.role !== 'PRINCIPAL') throw errors.onlyOnPrincipal(database.name);
        if (action.seconds > 32767) throw errors.timeoutTooLarge(action.seconds);
        for (const target of connected && peer ? [side, peer.side] : [side])
          target.timeoutSeconds = Math.max(5, action.seconds);
        break;
      case 'witnessOff':
        if (side.role !== 'PRINCIPAL') throw errors.onlyOnPrincipal(database.name);
        break;
    }
  }
  instance.changed();
  peerOf(instance, database)?.instance.changed();
  instance.network.changed();
}

/** SET PARTNER = 'TCP://...': first on the mirror (RESTORING copy), then on the principal, which starts the session. */
export function setPartner(instance: SqlInstance, database: Database, address: string): void {
  const network = instance.network;
  if (database.mirroring && !database.mirroring.awaitingPrincipal) throw errors.alreadyMirrored(database.name);
  const partner = network.byAddress(address);
  if (partner === instance) throw errors.partnerIsSelf();
  if (!partner || !network.reachable(instance, partner)) throw errors.partnerUnreachable(address);
  if (database.recoveryModel !== 'FULL') throw errors.notFullRecovery(database.name);

  if (database.state === 'RESTORING') {
    database.mirroring = newSide('MIRROR', partner, address, '');
    database.mirroring.awaitingPrincipal = true;
    database.mirroring.state = 'DISCONNECTED';
    return;
  }
  if (database.state !== 'ONLINE') throw errors.remoteNotRecovering(database.name);
  const remote = partner.database(database.name);
  if (!remote) throw errors.remoteDoesNotExist(database.name);
  if (remote.state !== 'RESTORING') throw errors.remoteNotRecovering(database.name);
  if (remote.mirroring && !remote.mirroring.awaitingPrincipal) throw errors.remoteAlreadyMirrored(database.name);
  if (!remote.mirroring || remote.mirroring.partnerInstance.toLowerCase() !== instance.serverName.toLowerCase())
    throw errors.notMirrored(database.name);
  if (remote.familyGuid !== database.familyGuid) throw errors.remoteCopyNotRestoring(database.name);
  // The mirror must continue the principal's log: restored up to a point still in the principal's active log.
  if (database.logChainStart === null || remote.nextLsn < database.logChainStart)
    throw errors.mirrorMissingLog(database.name);
  if (remote.nextLsn > database.nextLsn || remote.currentFork.guid !== database.forkAt(remote.nextLsn - 1n).guid) {
    throw errors.remoteNotRolledForward(database.name);
  }
  const guid = randomUUID().toUpperCase();
  database.mirroring = newSide('PRINCIPAL', partner, address, guid);
  remote.mirroring = newSide('MIRROR', instance, network.endpointOf(instance), guid);
  shipLog(database, remote);
  partner.changed();
}

function newSide(role: MirroringSide['role'], partner: SqlInstance, address: string, guid: string): MirroringSide {
  return {
    guid,
    role,
    partnerInstance: partner.serverName,
    partnerAddress: address,
    state: 'SYNCHRONIZING',
    safety: 'FULL',
    roleSequence: 1,
    safetySequence: 1,
    failoverLsn: null,
    timeoutSeconds: 10,
    synchronizingSince: Date.now(),
  };
}

/** Planned failover: principal only, in master, SAFETY FULL, partners connected and SYNCHRONIZED. */
function failover(
  instance: SqlInstance,
  database: Database,
  side: MirroringSide,
  peer: Peer | undefined,
  connected: boolean,
  execution: Execution,
): void {
  if (side.role !== 'PRINCIPAL') throw errors.onlyOnPrincipal(database.name);
  if (execution.session.database.toLowerCase() !== 'master') throw errors.mustBeInMaster();
  if (side.safety !== 'FULL') throw errors.safetyMustBeFull(database.name);
  if (!connected || !peer) throw errors.partnersNotConnected(database.name);
  if (side.state !== 'SYNCHRONIZED') throw errors.mirrorNotCaughtUp(database.name);
  shipLog(database, peer.database);
  // Clients of the old principal are disconnected; the session that issued the command is in master and survives.
  instance.terminateSessionsUsing(database);
  const failoverLsn = database.nextLsn;
  database.state = 'RESTORING';
  peer.database.state = 'ONLINE';
  for (const [target, role] of [
    [side, 'MIRROR'],
    [peer.side, 'PRINCIPAL'],
  ] as const) {
    target.role = role;
    target.roleSequence++;
    target.failoverLsn = failoverLsn;
  }
  setState('SYNCHRONIZING', side, peer.side);
}

/** Forced service: only on the mirror, only when the principal cannot be reached. Starts a new recovery fork. */
function forceService(_instance: SqlInstance, database: Database, side: MirroringSide, connected: boolean): void {
  if (side.role !== 'MIRROR' || connected) throw errors.cannotForceService(database.name);
  database.state = 'ONLINE';
  database.startNewFork();
  side.role = 'PRINCIPAL';
  side.roleSequence++;
  side.failoverLsn = database.nextLsn;
  side.state = 'SUSPENDED';
}

/**
 * RESUME after forced service: the old principal (now mirror) may hold log the new principal never received.
 * It is rolled back to where the new principal's fork began, then rolled forward from the new principal.
 */
function rollBackDivergedMirror(principal: Database, mirror: Database): void {
  const forkStart = principal.currentFork.startLsn;
  if (mirror.currentFork.guid === principal.currentFork.guid || mirror.nextLsn <= forkStart) return;
  mirror.messages = mirror.messages.filter((message) => message.lsn < forkStart);
  mirror.nextLsn = forkStart;
  mirror.forks = principal.forks.map((fork) => ({ ...fork }));
}

function setState(state: MirroringState, ...sides: (MirroringSide | undefined)[]): void {
  for (const side of sides) {
    if (!side) continue;
    if (state === 'SYNCHRONIZING' && side.state !== 'SYNCHRONIZING') side.synchronizingSince = Date.now();
    side.state = state;
  }
}

function peerOf(instance: SqlInstance, database: Database): Peer | undefined {
  const side = database.mirroring;
  if (!side) return undefined;
  const partner = instance.network.byServerName(side.partnerInstance);
  const remote = partner?.database(database.name);
  if (!partner || !remote?.mirroring || remote.mirroring.guid !== side.guid) return undefined;
  return { instance: partner, database: remote, side: remote.mirroring };
}

/** The principal's database cannot be used any more (it went SUSPECT or OFFLINE): the session is SUSPENDED. */
export function suspendMirroring(instance: SqlInstance, database: Database): void {
  const side = database.mirroring;
  if (!side) return;
  const peer = peerOf(instance, database);
  setState('SUSPENDED', side, peer && instance.network.reachable(instance, peer.instance) ? peer.side : undefined);
  peer?.instance.changed();
}

/** Sends the principal's log the mirror does not have yet: it becomes an exact copy, still RESTORING. */
export function shipLog(principal: Database, mirror: Database): void {
  if (mirror.nextLsn < principal.nextLsn) {
    mirror.messages.push(...principal.messages.filter((message) => message.lsn >= mirror.nextLsn));
    mirror.nextLsn = principal.nextLsn;
  }
  mirror.forks = principal.forks.map((fork) => ({ ...fork }));
  mirror.logChainStart = principal.logChainStart;
  mirror.lastFullBackupLsn = principal.lastFullBackupLsn;
  mirror.recoveryModel = principal.recoveryModel;
}

/** Synchronous mirroring (SAFETY FULL): a write on the principal reaches the mirror before it is acknowledged. */
export function afterWrite(instance: SqlInstance, database: Database): void {
  const side = database.mirroring;
  if (!side || side.role !== 'PRINCIPAL' || side.safety !== 'FULL' || side.state === 'SUSPENDED') return;
  const peer = peerOf(instance, database);
  if (peer && instance.network.reachable(instance, peer.instance)) {
    shipLog(database, peer.database);
    peer.instance.changed();
  }
}

/** One reconciliation pass over every mirroring session (see Network). */
export function maintainMirroring(network: Network): void {
  for (const instance of network.all()) {
    if (!instance.running) continue;
    for (const database of instance.databases.values()) {
      const side = database.mirroring;
      if (!side || side.awaitingPrincipal) continue;
      if (maintainSession(network, instance, database, side)) {
        instance.changed();
      }
    }
  }
}

/** Returns true when something changed. */
function maintainSession(network: Network, instance: SqlInstance, database: Database, side: MirroringSide): boolean {
  const partner = network.byServerName(side.partnerInstance);
  if (!partner || !network.reachable(instance, partner)) {
    if (side.state === 'SUSPENDED' || side.state === 'DISCONNECTED') return false;
    side.state = 'DISCONNECTED';
    return true;
  }
  const remote = partner.database(database.name);
  const remoteSide = remote?.mirroring;
  if (!remote || !remoteSide || remoteSide.guid !== side.guid) {
    // The partner removed mirroring (or was rebuilt) while this side could not see it: the session is gone.
    database.mirroring = null;
    return true;
  }
  if (side.role === remoteSide.role) {
    if (side.role !== 'PRINCIPAL') return false;
    // Forced service happened while the old principal was away: the later role switch wins; the other is demoted.
    const [loserInstance, loser, loserSide] =
      side.roleSequence < remoteSide.roleSequence ? [instance, database, side] : [partner, remote, remoteSide];
    loserInstance.terminateSessionsUsing(loser);
    loser.state = 'RESTORING';
    loserSide.role = 'MIRROR';
    setState('SUSPENDED', side, remoteSide);
    partner.changed();
    return true;
  }
  if (side.role !== 'PRINCIPAL') return false;
  if (side.state === 'SUSPENDED' || remoteSide.state === 'SUSPENDED') {
    if (side.state === 'SUSPENDED' && remoteSide.state === 'SUSPENDED') return false;
    setState('SUSPENDED', side, remoteSide);
    return true;
  }
  const before = `${side.state}/${remoteSide.state}/${remote.nextLsn}`;
  if (side.state === 'DISCONNECTED' || remoteSide.state === 'DISCONNECTED') setState('SYNCHRONIZING', side, remoteSide);
  shipLog(database, remote);
  if (
    side.safety === 'FULL' &&
    side.state === 'SYNCHRONIZING' &&
    Date.now() - (side.synchronizingSince ?? 0) >= network.options.synchronizeAfterMs
  ) {
    setState('SYNCHRONIZED', side, remoteSide);
  }
  const changed = before !== `${side.state}/${remoteSide.state}/${remote.nextLsn}`;
  if (changed) partner.changed();
  return changed;
}

/**
 * One database on one simulated instance: its state (sys.databases), its log (LSNs, recovery forks, the point the
 * next log backup starts from), its data (chat messages, each written at an LSN) and its side of a mirroring
 * session. A RESTORING database's nextLsn is its redo point: the first LSN a restored log must contain.
 */
import { randomUUID } from 'node:crypto';
import { FIRST_LSN, nextLsn } from './lsn';

export type DatabaseState =
  'ONLINE' | 'RESTORING' | 'RECOVERING' | 'RECOVERY_PENDING' | 'SUSPECT' | 'EMERGENCY' | 'OFFLINE';
export const STATE_CODES: Record<DatabaseState, number> = {
  ONLINE: 0,
  RESTORING: 1,
  RECOVERING: 2,
  RECOVERY_PENDING: 3,
  SUSPECT: 4,
  EMERGENCY: 5,
  OFFLINE: 6,
};
export type RecoveryModel = 'FULL' | 'BULK_LOGGED' | 'SIMPLE';
export const RECOVERY_MODEL_CODES: Record<RecoveryModel, number> = { FULL: 1, BULK_LOGGED: 2, SIMPLE: 3 };
export type UserAccess = 'MULTI_USER' | 'SINGLE_USER' | 'RESTRICTED_USER';
export const USER_ACCESS_CODES: Record<UserAccess, number> = { MULTI_USER: 0, SINGLE_USER: 1, RESTRICTED_USER: 2 };

export interface ChatMessage {
  id: number;
  /** The id the posting client chose, so lost messages can be counted across a failover. */
  clientId: string;
  author: string;
  body: string;
  postedAt: Date;
  lsn: bigint;
}

export interface DatabaseFile {
  fileId: number;
  logicalName: string;
  physicalName: string;
  type: 'D' | 'L';
  sizePages: number;
}

/** A recovery fork: records from startLsn on belong to it, until the next fork starts. */
export interface Fork {
  guid: string;
  startLsn: bigint;
}

export type MirroringState = 'SUSPENDED' | 'DISCONNECTED' | 'SYNCHRONIZING' | 'PENDING_FAILOVER' | 'SYNCHRONIZED';
export const MIRRORING_STATE_CODES: Record<MirroringState, number> = {
  SUSPENDED: 0,
  DISCONNECTED: 1,
  SYNCHRONIZING: 2,
  PENDING_FAILOVER: 3,
  SYNCHRONIZED: 4,
};

/** This database's side of a mirroring session (sys.database_mirroring). */
export interface MirroringSide {
  guid: string;
  role: 'PRINCIPAL' | 'MIRROR';
  partnerInstance: string;
  partnerAddress: string;
  state: MirroringState;
  safety: 'FULL' | 'OFF';
  roleSequence: number;
  safetySequence: number;
  failoverLsn: bigint | null;
  timeoutSeconds: number;
  /** The mirror was told its partner (first half of SET PARTNER) but the principal has not completed the session. */
  awaitingPrincipal?: boolean;
  /** When the state became SYNCHRONIZING, to model the time a mirror needs to catch up. */
  synchronizingSince?: number;
}

export class Database {
  id: number;
  name: string;
  state: DatabaseState = 'ONLINE';
  recoveryModel: RecoveryModel = 'FULL';
  userAccess: UserAccess = 'MULTI_USER';
  isInStandby = false;
  isReadOnly = false;
  createDate: Date;
  /** Identifies the database across backups and restores (FamilyGUID). */
  familyGuid: string;
  forks: Fork[];
  nextLsn: bigint;
  /** FirstLSN of the next log backup; null until the first full backup (BACKUP LOG then fails with 4214). */
  logChainStart: bigint | null = null;
  /** Checkpoint LSN of the last full backup (DatabaseBackupLSN of later backups). */
  lastFullBackupLsn: bigint | null = null;
  messages: ChatMessage[] = [];
  files: DatabaseFile[];
  mirroring: MirroringSide | null = null;

  constructor(options: { id: number; name: string; dataFolder: string; createDate?: Date }) {
    this.id = options.id;
    this.name = options.name;
    this.createDate = options.createDate ?? new Date();
    this.familyGuid = randomUUID().toUpperCase();
    this.forks = [{ guid: randomUUID().toUpperCase(), startLsn: FIRST_LSN }];
    this.nextLsn = FIRST_LSN;
    this.files = [
      {
        fileId: 1,
        logicalName: options.name,
        physicalName: `${options.dataFolder}/${options.name}.mdf`,
        type: 'D',
        sizePages: 1024,
      },
      {
        fileId: 2,
        logicalName: `${options.name}_log`,
        physicalName: `${options.dataFolder}/${options.name}_log.ldf`,
        type: 'L',
        sizePages: 256,
      },
    ];
  }

  /** Takes the next LSN for a log record. */
  allocateLsn(): bigint {
    const lsn = this.nextLsn;
    this.nextLsn = nextLsn(lsn);
    return lsn;
  }

  get currentFork(): Fork {
    return this.forks[this.forks.length - 1];
  }

  /** The fork the record at `lsn` belongs to. */
  forkAt(lsn: bigint): Fork {
    for (let index = this.forks.length - 1; index >= 0; index--)
      if (this.forks[index].startLsn <= lsn) return this.forks[index];
    return this.forks[0];
  }

  /** Recovery (RESTORE ... WITH RECOVERY, forced service) starts a new recovery fork at the current end of log. */
  startNewFork(): void {
    this.forks.push({ guid: randomUUID().toUpperCase(), startLsn: this.nextLsn });
  }

  /** Chat messages written at LSNs in [from, to). */
  messagesBetween(from: bigint, to: bigint): ChatMessage[] {
    return this.messages.filter((message) => message.lsn >= from && message.lsn < to);
  }

  get isMirror(): boolean {
    return this.mirroring?.role === 'MIRROR';
  }

  /** A database users can read and write. */
  get isAvailable(): boolean {
    return this.state === 'ONLINE' && !this.isMirror;
  }

  toData(): DatabaseData {
    return {
      id: this.id,
      name: this.name,
      state: this.state,
      recoveryModel: this.recoveryModel,
      userAccess: this.userAccess,
      isInStandby: this.isInStandby,
      isReadOnly: this.isReadOnly,
      createDate: this.createDate.toISOString(),
      familyGuid: this.familyGuid,
      forks: this.forks.map((fork) => ({ guid: fork.guid, startLsn: fork.startLsn.toString() })),
      nextLsn: this.nextLsn.toString(),
      logChainStart: this.logChainStart?.toString() ?? null,
      lastFullBackupLsn: this.lastFullBackupLsn?.toString() ?? null,
      messages: this.messages.map((message) => ({
        ...message,
        postedAt: message.postedAt.toISOString(),
        lsn: message.lsn.toString(),
      })),
      files: this.files,
      mirroring: this.mirroring && { ...this.mirroring, failoverLsn: this.mirroring.failoverLsn?.toString() ?? null },
    };
  }

  static fromData(data: DatabaseData): Database {
    const database = new Database({
      id: data.id,
      name: data.name,
      dataFolder: '',
      createDate: new Date(data.createDate),
    });
    Object.assign(database, {
      state: data.state,
      recoveryModel: data.recoveryModel,
      userAccess: data.userAccess,
      isInStandby: data.isInStandby,
      isReadOnly: data.isReadOnly,
      familyGuid: data.familyGuid,
      forks: data.forks.map((fork) => ({ guid: fork.guid, startLsn: BigInt(fork.startLsn) })),
      nextLsn: BigInt(data.nextLsn),
      logChainStart: data.logChainStart === null ? null : BigInt(data.logChainStart),
      lastFullBackupLsn: data.lastFullBackupLsn === null ? null : BigInt(data.lastFullBackupLsn),
      messages: data.messages.map((message) => ({
        ...message,
        postedAt: new Date(message.postedAt),
        lsn: BigInt(message.lsn),
      })),
      files: data.files,
      mirroring: data.mirroring && {
        ...data.mirroring,
        failoverLsn: data.mirroring.failoverLsn === null ? null : BigInt(data.mirroring.failoverLsn),
      },
    });
    return database;
  }
}

/** The JSON form kept in the simulator's state folder. */
export interface DatabaseData {
  id: number;
  name: string;
  state: DatabaseState;
  recoveryModel: RecoveryModel;
  userAccess: UserAccess;
  isInStandby: boolean;
  isReadOnly: boolean;
  createDate: string;
  familyGuid: string;
  forks: { guid: string; startLsn: string }[];
  nextLsn: string;
  logChainStart: string | null;
  lastFullBackupLsn: string | null;
  messages: (Omit<ChatMessage, 'postedAt' | 'lsn'> & { postedAt: string; lsn: string })[];
  files: DatabaseFile[];
  mirroring: (Omit<MirroringSide, 'failoverLsn'> & { failoverLsn: string | null }) | null;
}

/**
 * The simulator's backup files: real files on the share, in a small documented format (docs/simulator.md):
 *
 *   line 1: PCHAT-DR-SIMULATED-BACKUP 1
 *   rest:   JSON { mediaFamilyId, sets: [{ header, files, forks, messages, checksum }] }
 *
 * `header` carries the RESTORE HEADERONLY fields, `files` the RESTORE FILELISTONLY rows, `messages` the chat rows
 * the backup covers, `checksum` a SHA-256 of the rest of the set, so a damaged file is refused as SQL Server refuses
 * a malformed media family (3241). Like BACKUP ... NOINIT, a new set is appended unless INIT overwrites the file.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { errors } from './errors';

export const BACKUP_FILE_MAGIC = 'PCHAT-DR-SIMULATED-BACKUP 1';

/** RESTORE HEADERONLY columns (§C.3) the simulator fills; LSNs and dates as strings. */
export interface BackupHeader {
  BackupName: string | null;
  BackupDescription: string | null;
  /** 1 database, 2 transaction log. */
  BackupType: 1 | 2;
  Position: number;
  DeviceType: number;
  UserName: string;
  ServerName: string;
  DatabaseName: string;
  DatabaseVersion: number;
  DatabaseCreationDate: string;
  BackupSize: string;
  FirstLSN: string;
  LastLSN: string;
  CheckpointLSN: string;
  DatabaseBackupLSN: string;
  BackupStartDate: string;
  BackupFinishDate: string;
  SoftwareVendorId: number;
  SoftwareVersionMajor: number;
  SoftwareVersionMinor: number;
  SoftwareVersionBuild: number;
  MachineName: string;
  Flags: number;
  BindingID: string;
  RecoveryForkID: string;
  Collation: string;
  FamilyGUID: string;
  HasBackupChecksums: boolean;
  IsDamaged: boolean;
  BeginsLogChain: boolean;
  IsForceOffline: boolean;
  IsCopyOnly: boolean;
  FirstRecoveryForkID: string;
  ForkPointLSN: string | null;
  RecoveryModel: string;
  BackupTypeDescription: string;
  BackupSetGUID: string;
  Compressed: boolean;
  CompressedBackupSize: string;
}

export interface BackupFileEntry {
  LogicalName: string;
  PhysicalName: string;
  Type: 'D' | 'L';
  FileId: number;
  SizePages: number;
}

export interface BackupMessageRow {
  id: number;
  clientId: string;
  author: string;
  body: string;
  postedAt: string;
  lsn: string;
}

export interface BackupSet {
  header: BackupHeader;
  files: BackupFileEntry[];
  /** Full backups: the recovery forks of the database, handed to the restored copy. */
  forks: { guid: string; startLsn: string }[];
  messages: BackupMessageRow[];
}

interface StoredSet extends BackupSet {
  checksum: string;
}

interface BackupMedia {
  mediaFamilyId: string;
  sets: StoredSet[];
}

function checksumOf(set: BackupSet): string {
  return createHash('sha256')
    .update(JSON.stringify({ header: set.header, files: set.files, forks: set.forks, messages: set.messages }))
    .digest('hex');
}

/** OS error text as SQL Server on Windows words it (the simulator's paths may be POSIX; the wording is what operators search for). */
function osError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return '2(The system cannot find the file specified.)';
    case 'ENOTDIR':
      return '3(The system cannot find the path specified.)';
    case 'EACCES':
    case 'EPERM':
      return '5(Access is denied.)';
    default:
      return `${err.errno ?? 0}(${err.message})`;
  }
}

/** Every backup set in the file, verified. */
export function readBackupFile(device: string): BackupSet[] {
  let text: string;
  try {
    text = readFileSync(device, 'utf8');
  } catch (err) {
    throw errors.cannotOpenBackupDevice(device, osError(err as NodeJS.ErrnoException));
  }
  const newline = text.indexOf('\n');
  if (newline === -1 || text.slice(0, newline) !== BACKUP_FILE_MAGIC) throw errors.mediaFamilyMalformed(device);
  let media: BackupMedia;
  try {
    media = JSON.parse(text.slice(newline + 1)) as BackupMedia;
  } catch {
    throw errors.mediaFamilyMalformed(device);
  }
  if (!Array.isArray(media.sets) || media.sets.length === 0) throw errors.mediaFamilyMalformed(device);
  return media.sets.map((set) => {
    if (set.checksum !== checksumOf(set)) throw errors.mediaFamilyMalformed(device);
    const { checksum: _checksum, ...rest } = set;
    return rest;
  });
}

/** Writes a backup set: appended (NOINIT, the default) or replacing the file's sets (INIT). Returns its position. */
export function writeBackupSet(device: string, set: BackupSet, init: boolean): number {
  let media: BackupMedia = { mediaFamilyId: randomUUID().toUpperCase(), sets: [] };
  if (!init) {
    try {
      const text = readFileSync(device, 'utf8');
      const newline = text.indexOf('\n');
      if (text.slice(0, newline) === BACKUP_FILE_MAGIC) media = JSON.parse(text.slice(newline + 1)) as BackupMedia;
    } catch {
      // No readable media yet: start a new one, as BACKUP does on a new file.
    }
  }
  const position = media.sets.length + 1;
  const stored: BackupSet = { ...set, header: { ...set.header, Position: position } };
  media.sets.push({ ...stored, checksum: checksumOf(stored) });
  // Write beside and rename, so a reader never sees half a backup. BACKUP does not create folders.
  const temporary = `${device}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    if (!path.isAbsolute(device)) throw Object.assign(new Error('relative path'), { code: 'ENOTDIR' });
    writeFileSync(temporary, `${BACKUP_FILE_MAGIC}\n${JSON.stringify(media)}`);
    renameSync(temporary, device);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw errors.cannotOpenBackupDevice(
      device,
      osError({ ...(err as NodeJS.ErrnoException), code: code === 'ENOENT' ? 'ENOTDIR' : code }),
    );
  }
  return position;
}

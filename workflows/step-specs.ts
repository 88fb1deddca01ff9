/**
 * The steps several runbooks take, each with its one title: a runbook passes what the step is called in its own
 * record (`read-primary`, `activate-dc2`) and runs the spec with `rb.act` or `rb.read`
 * (`(await rb.read(readDatabase('read-primary', primary, database))).found`), a drill with `observe`.
 */
import type { Folder } from '../activities/files';
import type { PoolTarget, PoolView } from '../contracts/estate';
import type { Instance } from '../topology/schema';
import type { ActivityName } from './activity-kinds';
import type { ActSpec } from './runbook';

/** Steps whose input is one database on one instance. */
type OnDatabase =
  'readMirroringState' | 'readLogShippingPrimary' | 'readLogShippingSecondary' | 'endSessions' | 'removeMirroring';

function onDatabase<K extends OnDatabase & ActivityName>(
  activity: K,
  title: (instance: Instance, database: string) => string,
) {
  return (name: string, instance: Instance, database: string): ActSpec<K> => ({
    name,
    title: title(instance, database),
    activity,
    input: { instance, database } as ActSpec<K>['input'],
  });
}

/** A database on an instance: its state and mirroring role (an unreachable instance is a fact, not a failure). */
export const readDatabase = onDatabase(
  'readMirroringState',
  (instance, database) => `Read ${database} on ${instance.name}`,
);
/** The same read after a change, to check it: an instance that does not answer fails the step (retry or abort). */
export function verifyDatabase(name: string, instance: Instance, database: string): ActSpec<'readMirroringState'> {
  return { ...readDatabase(name, instance, database), input: { instance, database, mustAnswer: true } };
}
export const readPrimaryConfiguration = onDatabase(
  'readLogShippingPrimary',
  (instance) => `Read the log-shipping primary configuration on ${instance.name}`,
);
export const readSecondaryConfiguration = onDatabase(
  'readLogShippingSecondary',
  (instance) => `Read the log-shipping secondary configuration on ${instance.name}`,
);
/** Ends every session using the database (RESTORE and recovery need it to themselves). */
export const endSessions = onDatabase(
  'endSessions',
  (instance, database) => `End every session using ${database} on ${instance.name}`,
);
export const removeMirroring = onDatabase(
  'removeMirroring',
  (instance, database) => `Remove mirroring of ${database} on ${instance.name}`,
);

/** One half of log shipping (runbook 2 steps 2 and 4): a different configuration is replaced only when `replace`. */
function configureHalf<K extends 'addLogShippingPrimary' | 'addLogShippingSecondary'>(activity: K, half: string) {
  return (
    instance: Instance,
    database: string,
    settings: ActSpec<K>['input']['settings'],
    replace: boolean,
  ): ActSpec<K> => ({
    name: `add-${half}`,
    title: `Configure ${database} as log-shipping ${half} on ${instance.name}`,
    activity,
    input: { instance, database, settings, replace } as ActSpec<K>['input'],
  });
}

export const configurePrimary = configureHalf('addLogShippingPrimary', 'primary');
export const configureSecondary = configureHalf('addLogShippingSecondary', 'secondary');

export function readAgent(instance: Instance): ActSpec<'readAgentStatus'> {
  return {
    name: 'read-agent',
    title: `Check SQL Server Agent on ${instance.name}`,
    activity: 'readAgentStatus',
    input: { instance },
  };
}

export function readPool(name: string, pool: PoolTarget): ActSpec<'readPoolState'> {
  return { name, title: 'Read the pool state', activity: 'readPoolState', input: { pool } };
}

export function listBackups(name: string, folder: Folder, database: string): ActSpec<'listBackupFiles'> {
  const title = `List the log backups in ${folder.workerPath}`;
  return { name, title, activity: 'listBackupFiles', input: { folder, database } };
}

/** Set-CsPersistentChatActiveServer: exactly these servers serve chat (none: chat stops). */
export function setActiveServers(
  name: string,
  title: string,
  pool: PoolTarget,
  servers: string[],
): ActSpec<'setActiveServers'> {
  return { name, title, activity: 'setActiveServers', input: { pool, servers } };
}

/** Set-CsPersistentChatState -PoolState. */
export function setPoolState(name: string, pool: PoolTarget, state: PoolView['poolState']): ActSpec<'setPoolState'> {
  return {
    name,
    title: `Set-CsPersistentChatState -PoolState ${state}`,
    activity: 'setPoolState',
    input: { pool, state },
  };
}

/** How long a log-shipping job may run when a runbook's options do not say. */
const JOB_TIMEOUT_SECONDS = 600;

/** Runs an Agent job (or joins the run in progress) and waits for its outcome. */
export function runJob(
  name: string,
  instance: Instance,
  jobName: string,
  timeoutSeconds = JOB_TIMEOUT_SECONDS,
): ActSpec<'runAgentJob'> {
  return {
    name,
    title: `Run ${jobName} on ${instance.name}`,
    activity: 'runAgentJob',
    input: { instance, jobName, timeoutSeconds },
  };
}

/**
 * How a runbook runs each activity, keyed by the one list of activities (the `Activities` type that
 * activities/index.ts builds): whether it only reads (a dry run runs it; everything else it plans) and how long it
 * may take. A new activity without an entry here does not compile.
 *
 * Reads and quick changes retry a few times (only NotReachable is retryable); long steps (backup, restore, applying
 * logs, waiting on jobs or mirroring, the Management Shell) may take hours. Every step heartbeats (activities/
 * heartbeat.ts), so a dead worker is noticed within 30 seconds and the step resumes on another: without it a step
 * whose worker died waited out its whole timeout (10 minutes for a change, inside a switchover's chat-down window).
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';

export type ActivityName = keyof Activities;
export type ActivityResult<K extends ActivityName> = Awaited<ReturnType<Activities[K]>>;

/** read: a quick read; long-read: a read that may take long (heartbeats); change and long: the same for changes. */
type ActivityKind = 'read' | 'long-read' | 'change' | 'long';

export const ACTIVITY_KINDS: Record<ActivityName, ActivityKind> = {
  loadEstate: 'read',
  confirmSimulatedEstate: 'read',
  verifySignature: 'read',
  readMirroringState: 'read',
  readAgentStatus: 'read',
  readLogShippingPrimary: 'read',
  readLogShippingSecondary: 'read',
  listBackupFiles: 'read',
  readPoolState: 'long-read',
  findOpenIncident: 'read',
  readBackupHeaders: 'long-read',
  gatherEvidence: 'long-read',
  setMirroringSafety: 'change',
  plannedMirrorFailover: 'change',
  forceMirrorService: 'change',
  removeMirroring: 'change',
  waitUntilSynchronized: 'long',
  addLogShippingPrimary: 'change',
  addLogShippingPrimarySecondary: 'change',
  addLogShippingSecondary: 'change',
  removeLogShippingSecondary: 'long',
  removeLogShippingPrimary: 'change',
  copyLogShippingPrimarySettings: 'change',
  runAgentJob: 'long',
  backupFullDatabase: 'long',
  backupTailLog: 'long',
  restoreFullDatabase: 'long',
  applyPendingLogs: 'long',
  recoverDatabase: 'long',
  endSessions: 'change',
  copyPendingBackups: 'long',
  setPoolState: 'long',
  setActiveServers: 'long',
  invokeDatabaseFailover: 'long',
  installMirrorDatabase: 'long',
  notify: 'change',
  findLatestFullBackup: 'long-read',
  readBackupFileList: 'read',
  countRows: 'read',
  readMessagesSince: 'read',
  readRestorePoint: 'read',
  dropScratchDatabase: 'change',
  writeDrillReport: 'change',
  readDrillHistory: 'read',
  pauseDrillSchedule: 'change',
};

/** Activities that only read: a dry run runs them; everything else it plans. */
export function isReadOnly(activity: ActivityName): boolean {
  const kind = ACTIVITY_KINDS[activity];
  return kind === 'read' || kind === 'long-read';
}

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 };
const heartbeatTimeout = '30 seconds';
const quick = wf.proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', heartbeatTimeout, retry });
const change = wf.proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', heartbeatTimeout, retry });
const long = wf.proxyActivities<Activities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout,
  retry: { ...retry, maximumAttempts: 10 },
});
const PROXIES: Record<ActivityKind, Activities> = { read: quick, 'long-read': long, change, long };

/** The activity as a runbook step calls it, with the timeouts and retries of its kind. */
export function activityOf<K extends ActivityName>(activity: K): (input: unknown) => Promise<ActivityResult<K>> {
  return PROXIES[ACTIVITY_KINDS[activity]][activity] as (input: unknown) => Promise<ActivityResult<K>>;
}

/** Notifications retry less: a webhook that is down must not hold a run up. */
export const notifications = wf.proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout,
  retry: { ...retry, maximumAttempts: 3 },
});

/**
 * A simulated estate seen at one moment (SimulatedEstate.snapshot): each instance's databases, mirroring, jobs and
 * log-shipping tables, the partitions, the pool and the chat load. What tests and the control API assert on.
 */
import type { ChatStats } from './chat-load';
import type { SqlInstance } from './engine/instance';
import type { Row } from './engine/msdb';
import type { PoolState } from './pool/pool-state';

export interface DatabaseSnapshot {
  name: string;
  state: string;
  recoveryModel: string;
  isInStandby: boolean;
  /** Next LSN: end of log when ONLINE, redo point when RESTORING. */
  nextLsn: string;
  logChainStart: string | null;
  messages: number;
  lastMessageId: number | null;
  mirroring: { role: string; state: string; safety: string; partner: string } | null;
}

export interface InstanceSnapshot {
  /** The topology's label. */
  name: string;
  /** @@SERVERNAME. */
  serverName: string;
  /** The computer's DNS name (mirroring endpoints). */
  fqdn: string;
  host: string;
  port: number;
  running: boolean;
  agentRunning: boolean;
  sessions: number;
  databases: DatabaseSnapshot[];
  jobs: {
    name: string;
    enabled: boolean;
    running: boolean;
    lastOutcome: 'succeeded' | 'failed' | null;
    lastMessage: string | null;
  }[];
  logShipping: {
    primaries: Row[];
    secondaries: Row[];
    monitorPrimary: Row[];
    monitorSecondary: Row[];
  };
}

export interface EstateSnapshot {
  instances: InstanceSnapshot[];
  partitions: [string, string][];
  pool: PoolState;
  chat: ChatStats;
}

/** What one instance holds, as the tests and the control API see it. */
export function instanceSnapshot(instance: SqlInstance): InstanceSnapshot {
  const msdb = instance.msdb;
  return {
    name: instance.label,
    serverName: instance.serverName,
    fqdn: instance.fqdn,
    host: instance.host,
    port: instance.port,
    running: instance.running,
    agentRunning: instance.agent.serviceRunning,
    sessions: instance.sessions.size,
    databases: [...instance.databases.values()]
      .filter((database) => database.id > 4)
      .map((database) => ({
        name: database.name,
        state: database.state,
        recoveryModel: database.recoveryModel,
        isInStandby: database.isInStandby,
        nextLsn: database.nextLsn.toString(),
        logChainStart: database.logChainStart?.toString() ?? null,
        messages: database.messages.length,
        lastMessageId: database.messages[database.messages.length - 1]?.id ?? null,
        mirroring: database.mirroring && {
          role: database.mirroring.role,
          state: database.mirroring.state,
          safety: database.mirroring.safety,
          partner: database.mirroring.partnerInstance,
        },
      })),
    jobs: msdb.rows('sysjobs').map((job) => {
      const outcome = msdb
        .rows('sysjobhistory')
        .filter((row) => row.job_id === job.job_id && row.step_id === 0)
        .pop();
      return {
        name: String(job.name),
        enabled: job.enabled === 1,
        running: instance.agent.isRunning(String(job.job_id)),
        lastOutcome: outcome ? (outcome.run_status === 1 ? 'succeeded' : 'failed') : null,
        lastMessage: outcome ? String(outcome.message) : null,
      };
    }),
    logShipping: {
      primaries: msdb.rows('log_shipping_primary_databases'),
      secondaries: msdb.rows('log_shipping_secondary_databases'),
      monitorPrimary: msdb.rows('log_shipping_monitor_primary'),
      monitorSecondary: msdb.rows('log_shipping_monitor_secondary'),
    },
  };
}

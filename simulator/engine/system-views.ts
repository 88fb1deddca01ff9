/**
 * The system views DR tooling queries (sys.databases, sys.database_mirroring, sys.master_files,
 * sys.dm_exec_sessions, sys.dm_exec_connections, sys.sysprocesses, sys.dm_server_services,
 * sys.database_mirroring_endpoints), computed from the instance's state when read, and the sessions as
 * sys.sysprocesses and sp_who2 show them.
 */
import type { Column } from '../tds/session';
import { MIRRORING_STATE_CODES, RECOVERY_MODEL_CODES, STATE_CODES, USER_ACCESS_CODES, type Database } from './database';
import type { SqlInstance } from './instance';
import { formatLsn } from './lsn';
import type { Row } from './msdb';
import { BIT, DATETIME, GUID, INT, LSN, nvarchar, NVARCHAR_128 } from './values';

const TINYINT = { kind: 'tinyint' } as const;
const SMALLINT = { kind: 'smallint' } as const;
const NVARCHAR_60 = nvarchar(60);
const VARCHAR_48 = { kind: 'varchar', length: 48 } as const;
const column = (name: string, type: Column['type']): Column => ({ name, type });

export const SYSTEM_VIEWS: Record<string, { columns: Column[]; rows: (instance: SqlInstance) => Row[] }> = {
  databases: {
    columns: [
      column('name', NVARCHAR_128),
      column('database_id', INT),
      column('create_date', DATETIME),
      column('compatibility_level', TINYINT),
      column('collation_name', NVARCHAR_128),
      column('user_access', TINYINT),
      column('user_access_desc', NVARCHAR_60),
      column('is_read_only', BIT),
      column('state', TINYINT),
      column('state_desc', NVARCHAR_60),
      column('is_in_standby', BIT),
      column('recovery_model', TINYINT),
      column('recovery_model_desc', NVARCHAR_60),
      column('log_reuse_wait', TINYINT),
      column('log_reuse_wait_desc', NVARCHAR_60),
      column('is_encrypted', BIT),
    ],
    rows: (instance) =>
      sortedDatabases(instance).map((database) => {
        const reuse = logReuseWait(database);
        return {
          name: database.name,
          database_id: database.id,
          create_date: database.createDate,
          compatibility_level: 160,
          collation_name: database.state === 'ONLINE' ? 'SQL_Latin1_General_CP1_CI_AS' : null,
          user_access: USER_ACCESS_CODES[database.userAccess],
          user_access_desc: database.userAccess,
          is_read_only: database.isReadOnly,
          state: STATE_CODES[database.state],
          state_desc: database.state,
          is_in_standby: database.isInStandby,
          recovery_model: RECOVERY_MODEL_CODES[database.recoveryModel],
          recovery_model_desc: database.recoveryModel,
          log_reuse_wait: reuse[0],
          log_reuse_wait_desc: reuse[1],
          is_encrypted: false,
        };
      }),
  },
  database_mirroring: {
    columns: [
      column('database_id', INT),
      column('mirroring_guid', GUID),
      column('mirroring_state', TINYINT),
      column('mirroring_state_desc', NVARCHAR_60),
      column('mirroring_role', TINYINT),
      column('mirroring_role_desc', NVARCHAR_60),
      column('mirroring_role_sequence', INT),
      column('mirroring_safety_level', TINYINT),
      column('mirroring_safety_level_desc', NVARCHAR_60),
      column('mirroring_safety_sequence', INT),
      column('mirroring_partner_name', NVARCHAR_128),
      column('mirroring_partner_instance', NVARCHAR_128),
      column('mirroring_witness_name', NVARCHAR_128),
      column('mirroring_witness_state', TINYINT),
      column('mirroring_witness_state_desc', NVARCHAR_60),
      column('mirroring_failover_lsn', LSN),
      column('mirroring_connection_timeout', INT),
      column('mirroring_redo_queue', INT),
      column('mirroring_redo_queue_type', NVARCHAR_60),
      column('mirroring_end_of_log_lsn', LSN),
      column('mirroring_replication_lsn', LSN),
    ],
    rows: (instance) =>
      sortedDatabases(instance).map((database) => {
        const side = database.mirroring;
        if (!side) return { database_id: database.id } as Row;
        return {
          database_id: database.id,
          mirroring_guid: side.guid,
          mirroring_state: MIRRORING_STATE_CODES[side.state],
          mirroring_state_desc: side.state,
          mirroring_role: side.role === 'PRINCIPAL' ? 1 : 2,
          mirroring_role_desc: side.role,
          mirroring_role_sequence: side.roleSequence,
          mirroring_safety_level: side.safety === 'FULL' ? 2 : 1,
          mirroring_safety_level_desc: side.safety,
          mirroring_safety_sequence: side.safetySequence,
          mirroring_partner_name: side.partnerAddress,
          mirroring_partner_instance: side.partnerInstance,
          mirroring_witness_name: '',
          mirroring_witness_state: 0,
          mirroring_witness_state_desc: 'UNKNOWN',
          mirroring_failover_lsn: formatLsn(side.failoverLsn),
          mirroring_connection_timeout: side.timeoutSeconds,
          mirroring_redo_queue: null,
          mirroring_redo_queue_type: 'UNLIMITED',
          mirroring_end_of_log_lsn: formatLsn(database.nextLsn),
          mirroring_replication_lsn: formatLsn(database.nextLsn),
        };
      }),
  },
  master_files: {
    columns: [
      column('database_id', INT),
      column('file_id', INT),
      column('type', TINYINT),
      column('type_desc', NVARCHAR_60),
      column('name', NVARCHAR_128),
      column('physical_name', nvarchar(260)),
      column('state', TINYINT),
      column('state_desc', NVARCHAR_60),
      column('size', INT),
      column('redo_start_lsn', LSN),
      column('redo_start_fork_guid', GUID),
    ],
    rows: (instance) =>
      sortedDatabases(instance).flatMap((database) =>
        database.files.map((file) => ({
          database_id: database.id,
          file_id: file.fileId,
          type: file.type === 'D' ? 0 : 1,
          type_desc: file.type === 'D' ? 'ROWS' : 'LOG',
          name: file.logicalName,
          physical_name: file.physicalName,
          state: database.state === 'ONLINE' ? 0 : 1,
          state_desc: database.state === 'ONLINE' ? 'ONLINE' : 'RESTORING',
          size: file.sizePages,
          // "LSN at which the next roll forward must start. NULL unless state = RESTORING or RECOVERY_PENDING."
          redo_start_lsn: database.state === 'RESTORING' ? database.nextLsn.toString() : null,
          redo_start_fork_guid: database.state === 'RESTORING' ? database.currentFork.guid : null,
        })),
      ),
  },
  dm_exec_sessions: {
    columns: [
      column('session_id', SMALLINT),
      column('login_time', DATETIME),
      column('host_name', NVARCHAR_128),
      column('program_name', NVARCHAR_128),
      column('host_process_id', INT),
      column('login_name', NVARCHAR_128),
      column('status', nvarchar(30)),
      column('database_id', SMALLINT),
      column('is_user_process', BIT),
      column('last_request_start_time', DATETIME),
      column('last_request_end_time', DATETIME),
    ],
    rows: (instance) =>
      processes(instance).map((process) => ({
        session_id: process.spid,
        login_time: process.loginTime,
        host_name: process.hostName,
        program_name: process.programName,
        host_process_id: process.hostProcessId,
        login_name: process.login,
        status: process.status,
        database_id: process.databaseId,
        is_user_process: process.isUser,
        last_request_start_time: process.lastBatch,
        last_request_end_time: process.lastBatch,
      })),
  },
  dm_exec_connections: {
    columns: [
      column('session_id', INT),
      column('most_recent_session_id', INT),
      column('connect_time', DATETIME),
      column('net_transport', nvarchar(40)),
      column('protocol_type', nvarchar(40)),
      column('encrypt_option', nvarchar(40)),
      column('auth_scheme', nvarchar(40)),
      column('client_net_address', VARCHAR_48),
      column('client_tcp_port', INT),
      column('local_net_address', VARCHAR_48),
      column('local_tcp_port', INT),
    ],
    // The Agent's own connections are shared memory on a real server and not listed here either.
    rows: (instance) =>
      [...instance.sessions.values()]
        .sort((a, b) => a.spid - b.spid)
        .map((session) => ({
          session_id: session.spid,
          most_recent_session_id: session.spid,
          connect_time: session.loginTime,
          net_transport: 'TCP',
          protocol_type: 'TSQL',
          // TRUE when the connection is encrypted, not just its login.
          encrypt_option:
            session.connection.encryption === 'full' || session.connection.encryption === 'strict' ? 'TRUE' : 'FALSE',
          auth_scheme: 'SQL',
          client_net_address: session.connection.remoteAddress,
          client_tcp_port: session.connection.remotePort,
          local_net_address: session.connection.localAddress,
          local_tcp_port: session.connection.localPort,
        })),
  },
  sysprocesses: {
    columns: [
      column('spid', SMALLINT),
      column('dbid', SMALLINT),
      column('status', nvarchar(30)),
      column('loginame', NVARCHAR_128),
      column('hostname', NVARCHAR_128),
      column('program_name', NVARCHAR_128),
      column('cmd', nvarchar(32)),
      column('login_time', DATETIME),
      column('last_batch', DATETIME),
      column('blocked', SMALLINT),
    ],
    rows: (instance) =>
      processes(instance).map((process) => ({
        spid: process.spid,
        dbid: process.databaseId,
        status: process.status,
        loginame: process.login,
        hostname: process.hostName,
        program_name: process.programName,
        cmd: process.command,
        login_time: process.loginTime,
        last_batch: process.lastBatch,
        blocked: 0,
      })),
  },
  dm_server_services: {
    columns: [
      column('servicename', nvarchar(256)),
      column('startup_type_desc', nvarchar(256)),
      column('status_desc', nvarchar(256)),
      column('process_id', INT),
      column('last_startup_time', DATETIME),
      column('service_account', nvarchar(256)),
      column('is_clustered', nvarchar(1)),
    ],
    rows: (instance) => {
      // Services are named after the instance: MSSQLSERVER and SQLSERVERAGENT, or MSSQL$X and SQLAgent$X.
      const service = instance.instanceName ?? 'MSSQLSERVER';
      return [
        {
          servicename: `SQL Server (${service})`,
          startup_type_desc: 'Automatic',
          status_desc: 'Running',
          process_id: process.pid,
          last_startup_time: instance.startedAt,
          service_account: `NT Service\\${instance.instanceName ? `MSSQL$${instance.instanceName}` : 'MSSQLSERVER'}`,
          is_clustered: 'N',
        },
        {
          servicename: `SQL Server Agent (${service})`,
          startup_type_desc: 'Automatic',
          status_desc: instance.agent.serviceRunning ? 'Running' : 'Stopped',
          process_id: instance.agent.serviceRunning ? process.pid : null,
          last_startup_time: instance.agent.serviceRunning ? instance.agent.startedAt : null,
          service_account: `NT Service\\${instance.instanceName ? `SQLAgent$${instance.instanceName}` : 'SQLSERVERAGENT'}`,
          is_clustered: 'N',
        },
      ];
    },
  },
  database_mirroring_endpoints: {
    columns: [
      column('name', NVARCHAR_128),
      column('endpoint_id', INT),
      column('protocol_desc', NVARCHAR_60),
      column('type_desc', NVARCHAR_60),
      column('state_desc', NVARCHAR_60),
      column('role_desc', NVARCHAR_60),
      column('is_encryption_enabled', BIT),
    ],
    rows: () => [
      {
        name: 'Mirroring',
        endpoint_id: 65536,
        protocol_desc: 'TCP',
        type_desc: 'DATABASE_MIRRORING',
        state_desc: 'STARTED',
        role_desc: 'ALL',
        is_encryption_enabled: true,
      },
    ],
  },
};

function sortedDatabases(instance: SqlInstance): Database[] {
  return [...instance.databases.values()].sort((a, b) => a.id - b.id);
}

/** sys.databases log_reuse_wait: what keeps the log from being truncated. */
function logReuseWait(database: Database): [number, string] {
  if (database.mirroring?.state === 'SUSPENDED' || database.mirroring?.state === 'DISCONNECTED')
    return [5, 'DATABASE_MIRRORING'];
  if (
    database.recoveryModel !== 'SIMPLE' &&
    database.logChainStart !== null &&
    database.logChainStart < database.nextLsn
  )
    return [2, 'LOG_BACKUP'];
  return [0, 'NOTHING'];
}

interface ProcessRow {
  spid: number;
  databaseId: number;
  status: string;
  login: string;
  hostName: string;
  programName: string;
  hostProcessId: number | null;
  command: string;
  loginTime: Date;
  lastBatch: Date;
  isUser: boolean;
}

/** Every session of the instance as sys.sysprocesses / sp_who2 show them: a few system ones, the Agent's, users'. */
export function processes(instance: SqlInstance): ProcessRow[] {
  const master = 1;
  const rows: ProcessRow[] = [
    {
      spid: 1,
      databaseId: master,
      status: 'background',
      login: 'sa',
      hostName: '',
      programName: '',
      hostProcessId: null,
      command: 'LOG WRITER',
      loginTime: instance.startedAt,
      lastBatch: instance.startedAt,
      isUser: false,
    },
    {
      spid: 2,
      databaseId: master,
      status: 'background',
      login: 'sa',
      hostName: '',
      programName: '',
      hostProcessId: null,
      command: 'CHECKPOINT',
      loginTime: instance.startedAt,
      lastBatch: instance.startedAt,
      isUser: false,
    },
  ];
  for (const spid of instance.agent.sessionSpids()) {
    rows.push({
      spid,
      databaseId: 4,
      status: 'sleeping',
      login: 'NT SERVICE\\SQLSERVERAGENT',
      hostName: instance.machineName,
      programName: spid % 2 ? 'SQLAgent - Generic Refresher' : 'SQLAgent - Job invocation engine',
      hostProcessId: process.pid,
      command: 'AWAITING COMMAND',
      loginTime: instance.startedAt,
      lastBatch: new Date(),
      isUser: true,
    });
  }
  for (const session of [...instance.sessions.values()].sort((a, b) => a.spid - b.spid)) {
    rows.push({
      spid: session.spid,
      databaseId: instance.database(session.database)?.id ?? master,
      status: session.status,
      login: session.login,
      hostName: session.hostName,
      programName: session.appName,
      hostProcessId: session.clientProcessId,
      command: session.command,
      loginTime: session.loginTime,
      lastBatch: session.lastBatch,
      isUser: true,
    });
  }
  return rows;
}

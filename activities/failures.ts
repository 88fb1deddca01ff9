/**
 * How a step fails, in words the workflow can reason about. Every failure is an ApplicationFailure whose `type` is a
 * FailureType and whose single detail is a FailureDetails (the SQL Server error numbers and the instance ride
 * along). Workflows import the types only (`import type`), and compare `failure.type` against these strings.
 */
import { ApplicationFailure } from '@temporalio/common';

export type FailureType =
  /** The instance (or the pool shell) could not be reached in time: retrying may help. */
  | 'NotReachable'
  /** The server answering at an instance's address is not the one the topology names (serverName). */
  | 'WrongInstance'
  /** SQL Server refused the login: a configuration problem, retrying does not help. */
  | 'LoginFailed'
  /** The statement must run on the other partner (principal vs mirror), or the role is not the one expected. */
  | 'WrongRole'
  /** Mirroring is not SYNCHRONIZED (or did not become so in time). */
  | 'NotSynchronized'
  /** Mirroring safety is OFF where FULL is required. */
  | 'SafetyNotFull'
  /** The mirroring partners cannot see each other. */
  | 'PartnersDisconnected'
  /** The principal still answers: forced service is not possible, or a disaster is not what it seems. */
  | 'PrincipalReachable'
  /** The database is not mirrored (or not as expected). */
  | 'NotMirrored'
  /** The database is in a state that does not allow the operation (RESTORING, OFFLINE, already recovered ...). */
  | 'WrongDatabaseState'
  | 'DatabaseMissing'
  /** Other sessions use the database: exclusive access is needed. */
  | 'DatabaseInUse'
  /** The next log backup does not continue the database's log (4305, 4326, 4330): data would be skipped. */
  | 'LogChainBroken'
  /** A backup file is missing, unreadable or damaged. */
  | 'BackupFileUnavailable'
  /** The tail of the log was not backed up (3159) or the backup is of another database (3154). */
  | 'RestoreRefused'
  /** An existing log-shipping configuration differs from the one requested. */
  | 'ConfigurationDiffers'
  | 'LogShippingConfiguration'
  /** A SQL Server Agent job failed, could not start, or the Agent is not running. */
  | 'JobFailed'
  | 'AgentUnavailable'
  /** The Management Shell reported an error, or is not installed. */
  | 'PoolControlFailed'
  | 'PoolControlUnavailable'
  /** A file could not be copied intact. */
  | 'CopyFailed'
  /** The webhook refused the notification. */
  | 'NotificationFailed'
  /** The run names a pool this worker does not serve. */
  | 'EstateUnknown'
  /** The pool's estate file does not load any more (deleted, broken, moved to another pool). */
  | 'EstateUnavailable'
  /** The estate's allowed_signers file is missing or does not load: no signature can be verified. */
  | 'SignersUnavailable'
  /** A secret reference does not resolve, or the webhook it names is not an http(s) URL. */
  | 'SecretUnavailable'
  /** An identifier that is not a plain SQL Server identifier reached an activity. */
  | 'InvalidIdentifier'
  /** Any other SQL Server error. */
  | 'SqlError';

export interface FailureDetails {
  /** The instance (topology name) the failure came from. */
  instance?: string;
  /** SQL Server error numbers, preceding ones first (e.g. [4305, 3013]). */
  sqlErrors?: number[];
  /** LogChainBroken: the LSN the database needs next, and the one the backup offers. */
  expectedLsn?: string;
  foundLsn?: string;
  file?: string;
  [key: string]: unknown;
}

/** Failures that retrying can fix; everything else stops the step and goes to a person. */
const RETRYABLE: ReadonlySet<FailureType> = new Set(['NotReachable']);

export function stepFailure(type: FailureType, message: string, details: FailureDetails = {}): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: !RETRYABLE.has(type), details: [details] });
}

/**
 * SQL Server error numbers → the failure they mean (Microsoft's "Database Engine events and errors" pages; the
 * mirroring and RESTORE errors the simulator raises are listed in docs/simulator.md).
 */
const BY_NUMBER: [FailureType, number[]][] = [
  ['LoginFailed', [18456, 4060]],
  ['WrongRole', [1470, 1455, 1452]],
  ['NotSynchronized', [1422, 956]],
  ['SafetyNotFull', [1477]],
  ['PartnersDisconnected', [1447, 1431, 1418]],
  ['NotMirrored', [1416, 1448]],
  ['WrongDatabaseState', [927, 954, 942, 3117, 3153, 1464, 1419, 1465, 1468, 3104, 4208, 4214, 3036, 5001]],
  ['DatabaseMissing', [911, 3118]],
  ['DatabaseInUse', [3101, 3102, 3702, 5070, 5061, 924]],
  ['LogChainBroken', [4305, 4326, 4330, 1478, 1412]],
  ['BackupFileUnavailable', [3201, 3241, 3242, 3143, 4038]],
  ['RestoreRefused', [3159, 3154, 3156, 3234, 3135]],
  ['LogShippingConfiguration', [32009, 32010, 32011, 32012, 32013, 32014, 32015, 32023, 32024, 32025, 14261]],
  ['JobFailed', [14262]],
  ['AgentUnavailable', [22022]],
];

/** Trailing errors SQL Server adds after the one that says what went wrong. */
const TRAILERS = new Set([3013, 5069]);

interface MssqlError {
  name?: string;
  code?: string;
  number?: number;
  message: string;
  precedingErrors?: { number: number; message: string }[];
  originalError?: { code?: string };
}

const CONNECTION_CODES = new Set([
  'ESOCKET',
  'ETIMEOUT',
  'ECONNCLOSED',
  'ECONNRESET',
  'ECONNREFUSED',
  'EINSTLOOKUP',
  'ENOTOPEN',
  'ENOCONN',
]);

/** Turns an mssql error into a step failure that says what happened, on which instance. */
export function classifySqlError(error: unknown, instance: string): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const err = error as MssqlError;
  const numbers = [
    ...(err.precedingErrors ?? []).map((preceding) => preceding.number),
    ...(err.number !== undefined ? [err.number] : []),
  ];
  const meaningful = numbers.find((number) => !TRAILERS.has(number)) ?? numbers[numbers.length - 1];
  const message = [
    ...(err.precedingErrors ?? [])
      .filter((preceding) => !TRAILERS.has(preceding.number))
      .map((preceding) => preceding.message),
    err.message,
  ]
    .filter((text, index, all) => all.indexOf(text) === index)
    .join(' ');

  if (err.code === 'ELOGIN')
    return stepFailure(
      'LoginFailed',
      `${instance}: ${err.message} Check the login and the secret reference in the topology.`,
      { instance, sqlErrors: numbers },
    );
  if (meaningful === undefined) {
    if (err.code === 'ECANCEL')
      return stepFailure('NotReachable', `${instance}: the statement was cancelled`, { instance });
    if (CONNECTION_CODES.has(err.code ?? '') || CONNECTION_CODES.has(err.originalError?.code ?? '')) {
      return stepFailure('NotReachable', `${instance} cannot be reached: ${err.message}`, { instance, code: err.code });
    }
    return stepFailure('SqlError', `${instance}: ${err.message}`, { instance });
  }
  const type = BY_NUMBER.find(([, list]) => list.includes(meaningful))?.[0] ?? 'SqlError';
  const details: FailureDetails = { instance, sqlErrors: numbers };
  if (type === 'LogChainBroken') Object.assign(details, lsnsOf(message));
  return stepFailure(type, `${instance}: ${message}`, details);
}

/** 4305: "begins at LSN <found> ... includes LSN <expected>"; 4326: "terminates at LSN <found> ... includes LSN <expected>". */
function lsnsOf(message: string): Pick<FailureDetails, 'expectedLsn' | 'foundLsn'> {
  const match = /(?:begins|terminates) at LSN (\d+).*?includes LSN (\d+)/.exec(message);
  return match ? { foundLsn: match[1], expectedLsn: match[2] } : {};
}

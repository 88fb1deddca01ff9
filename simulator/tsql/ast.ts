/**
 * The statements and expressions of the T-SQL subset the simulator executes (what pchat-dr's activities, SSMS-style
 * scripts from Microsoft's procedures and the mssql driver send). The parser produces these; the engine runs them.
 */
import type { SqlType, SqlValue } from '../tds/session';

/** What a statement does; Statement adds where it is in the batch. */
export type StatementBody =
  | { kind: 'use'; database: string }
  | { kind: 'select'; select: Select }
  | { kind: 'setOption'; option: string }
  | { kind: 'setVariable'; variable: string; value: Expression }
  | { kind: 'declare'; variables: { name: string; type: SqlType; initial?: Expression }[] }
  | { kind: 'alterDatabase'; database: string; action: AlterDatabaseAction }
  | { kind: 'createDatabase'; database: string }
  | { kind: 'dropDatabase'; databases: string[] }
  | {
      kind: 'backup';
      target: 'DATABASE' | 'LOG';
      database: NameOrVariable;
      devices: Expression[];
      options: BackupOptions;
    }
  | {
      kind: 'restore';
      target: 'DATABASE' | 'LOG';
      database: NameOrVariable;
      devices: Expression[];
      options: RestoreOptions;
    }
  | {
      kind: 'restoreInfo';
      what: 'HEADERONLY' | 'FILELISTONLY' | 'VERIFYONLY';
      devices: Expression[];
      file?: Expression;
      loadHistory: boolean;
    }
  | { kind: 'execute'; procedure: string; arguments: ExecuteArgument[]; returnVariable?: string }
  | { kind: 'kill'; spid: Expression }
  | { kind: 'waitfor'; delay: Expression }
  | { kind: 'print'; value: Expression };

export type Statement = StatementBody & { line: number; text: string };

export type StatementKind = Statement['kind'];

/** A database named literally or through a variable (`BACKUP DATABASE @db ...`). */
export type NameOrVariable = { name: string } | { variable: string };

export type AlterDatabaseAction =
  | { kind: 'partner'; option: 'FAILOVER' | 'FORCE_SERVICE_ALLOW_DATA_LOSS' | 'OFF' | 'RESUME' | 'SUSPEND' }
  | { kind: 'partnerAddress'; address: string }
  | { kind: 'partnerSafety'; safety: 'FULL' | 'OFF' }
  | { kind: 'partnerTimeout'; seconds: number }
  | { kind: 'witnessOff' }
  | { kind: 'userAccess'; mode: 'SINGLE_USER' | 'MULTI_USER' | 'RESTRICTED_USER'; rollbackImmediate: boolean }
  | { kind: 'state'; state: 'ONLINE' | 'OFFLINE'; rollbackImmediate: boolean }
  | { kind: 'recoveryModel'; model: 'FULL' | 'SIMPLE' | 'BULK_LOGGED' };

export interface BackupOptions {
  init?: boolean;
  format?: boolean;
  checksum?: boolean;
  copyOnly?: boolean;
  norecovery?: boolean;
  compression?: boolean;
  noTruncate?: boolean;
  name?: Expression;
  description?: Expression;
  stats?: number;
}

export interface RestoreOptions {
  recovery?: 'RECOVERY' | 'NORECOVERY' | 'STANDBY';
  standbyFile?: Expression;
  replace?: boolean;
  move: { logicalName: Expression; to: Expression }[];
  file?: Expression;
  checksum?: boolean;
  stats?: number;
  restrictedUser?: boolean;
}

export type ExecuteArgument = {
  /** '@name' for named arguments; absent for positional ones. */
  name?: string;
  value: Expression;
  output: boolean;
  /** `DEFAULT` as the value. */
  isDefault?: boolean;
};

export type Expression =
  | { kind: 'literal'; value: SqlValue; type: SqlType }
  | { kind: 'variable'; name: string }
  | { kind: 'global'; name: string }
  | { kind: 'column'; table?: string; name: string }
  | { kind: 'star'; table?: string }
  | { kind: 'call'; name: string; args: Expression[]; star?: boolean }
  | { kind: 'cast'; value: Expression; type: SqlType }
  | { kind: 'binary'; operator: BinaryOperator; left: Expression; right: Expression }
  | { kind: 'not'; value: Expression }
  | { kind: 'negate'; value: Expression }
  | { kind: 'isNull'; value: Expression; negated: boolean }
  | { kind: 'in'; value: Expression; list: Expression[]; negated: boolean }
  | { kind: 'like'; value: Expression; pattern: Expression; negated: boolean }
  | { kind: 'case'; branches: { when: Expression; then: Expression }[]; otherwise?: Expression };

export type BinaryOperator = '=' | '<>' | '<' | '>' | '<=' | '>=' | '+' | '-' | '*' | '/' | '%' | 'AND' | 'OR';

export interface TableReference {
  /** Up to three parts: database.schema.name (an empty middle part means dbo: msdb..backupset). */
  parts: string[];
  alias?: string;
}

export interface Join {
  type: 'INNER' | 'LEFT';
  table: TableReference;
  on: Expression;
}

export interface Select {
  top?: Expression;
  distinct: boolean;
  /** `SELECT @x = expr` assigns instead of returning rows. */
  items: { value: Expression; alias?: string; assignTo?: string }[];
  from?: TableReference;
  joins: Join[];
  where?: Expression;
  orderBy: { value: Expression; descending: boolean }[];
}

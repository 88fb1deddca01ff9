/**
 * The tables a SELECT can read, as a name resolves from the session's database: the system views DR tooling queries
 * (system-views.ts), the msdb tables, and the chat table (dbo.messages) of a user database.
 */
import type { Column } from '../tds/session';
import { errors } from './errors';
import { MSDB_TABLE_NAMES, MSDB_TABLES, type MsdbTable, type Row } from './msdb';
import type { Session } from './session';
import { SYSTEM_VIEWS } from './system-views';
import { BIGINT, DATETIME2, LSN, nvarchar, NVARCHAR_128 } from './values';

export interface TableSource {
  columns: Column[];
  rows(): Row[];
}

/** Chat messages: the one user table of a Persistent Chat database in the simulator. */
export const MESSAGES_COLUMNS: Column[] = [
  { name: 'id', type: BIGINT },
  { name: 'client_id', type: nvarchar(64) },
  { name: 'author', type: NVARCHAR_128 },
  { name: 'body', type: nvarchar('max') },
  { name: 'posted_at', type: DATETIME2 },
  { name: 'lsn', type: LSN },
];

/**
 * Finds the table a name refers to, as SQL Server resolves it from the session's database: sys.* anywhere,
 * msdb tables in msdb (or msdb.dbo.x / msdb..x), dbo.messages in a user database.
 */
export function resolveTable(parts: string[], session: Session): TableSource {
  const display = parts.join('.');
  const [database, schema, name] =
    parts.length === 3
      ? parts
      : parts.length === 2
        ? [session.database, parts[0], parts[1]]
        : [session.database, '', parts[0]];
  const lowerSchema = schema.toLowerCase();
  const lowerName = name.toLowerCase();
  const instance = session.instance;

  if (lowerSchema === 'sys' || (lowerName === 'sysprocesses' && ['', 'dbo'].includes(lowerSchema))) {
    const view = SYSTEM_VIEWS[lowerName];
    if (!view) throw errors.invalidObjectName(display);
    return { columns: view.columns, rows: () => view.rows(instance) };
  }
  if (!['', 'dbo'].includes(lowerSchema)) throw errors.invalidObjectName(display);
  if (database.toLowerCase() === 'msdb') {
    if (!MSDB_TABLE_NAMES.includes(lowerName as MsdbTable)) throw errors.invalidObjectName(display);
    return { columns: MSDB_TABLES[lowerName as MsdbTable], rows: () => instance.msdb.rows(lowerName as MsdbTable) };
  }
  const target = instance.database(database);
  if (!target) throw errors.databaseDoesNotExist(database);
  if (lowerName === 'messages' && target.id > 4) {
    const available = instance.requireAvailable(target.name);
    return {
      columns: MESSAGES_COLUMNS,
      rows: () =>
        available.messages.map((message) => ({
          id: BigInt(message.id),
          client_id: message.clientId,
          author: message.author,
          body: message.body,
          posted_at: message.postedAt,
          lsn: message.lsn.toString(),
        })),
    };
  }
  throw errors.invalidObjectName(display);
}

/**
 * The built-in functions DR scripts use (CAST/CONVERT are expressions; here DB_NAME, SERVERPROPERTY, DATEDIFF,
 * QUOTENAME ...) and the aggregates over a group of rows.
 */
import { randomUUID } from 'node:crypto';
import type { Expression } from '../tsql/ast';
import { errors, SqlError } from './errors';
import {
  BIGINT,
  castValue,
  compare,
  DATETIME,
  DATETIME2,
  GUID,
  INT,
  isStringType,
  nvarchar,
  NVARCHAR_128,
  type Typed,
} from './values';
import { arithmetic } from './arithmetic';
import { castResult, evaluate, nullRows, type EvaluationContext } from './expressions';

export const AGGREGATES = new Set(['COUNT', 'COUNT_BIG', 'MAX', 'MIN', 'SUM', 'AVG']);

const DATE_PART_MS: Record<string, number> = {
  millisecond: 1,
  ms: 1,
  second: 1_000,
  ss: 1_000,
  s: 1_000,
  minute: 60_000,
  mi: 60_000,
  n: 60_000,
  hour: 3_600_000,
  hh: 3_600_000,
  day: 86_400_000,
  dd: 86_400_000,
  d: 86_400_000,
};

function datePart(part: Typed): number {
  const size = DATE_PART_MS[String(part.value).toLowerCase()];
  if (!size) throw errors.unsupported(String(part.value), `date part ${String(part.value)}`, 1);
  return size;
}

/** A built-in function or an aggregate over the current group. */
export function callFunction(name: string, args: Expression[], star: boolean, context: EvaluationContext): Typed {
  if (AGGREGATES.has(name)) return aggregate(name, args, star, context);
  const value = (index: number) => evaluate(args[index], context);
  const session = context.session;
  const expect = (count: number, max = count) => {
    if (args.length < count || args.length > max)
      throw new SqlError(174, `The ${name.toLowerCase()} function requires ${count} argument(s).`, 15, 1);
  };
  switch (name) {
    case 'ISNULL': {
      expect(2);
      const first = value(0);
      return first.value !== null ? first : { value: castResult(value(1), first.type), type: first.type };
    }
    case 'COALESCE': {
      const values = args.map((_, index) => value(index));
      const type = values[0].type;
      const found = values.find((candidate) => candidate.value !== null);
      return { value: found ? castResult(found, type) : null, type };
    }
    case 'NULLIF': {
      expect(2);
      const first = value(0);
      return compare(first, value(1)) === 0 ? { value: null, type: first.type } : first;
    }
    case 'DB_NAME': {
      expect(0, 1);
      if (args.length === 0) return { value: session.databaseName, type: NVARCHAR_128 };
      const id = value(0).value;
      return { value: id === null ? null : session.databaseNameOf(Number(id)), type: NVARCHAR_128 };
    }
    case 'DB_ID': {
      expect(0, 1);
      const database = args.length === 0 ? session.databaseName : value(0).value;
      return { value: database === null ? null : session.databaseIdOf(String(database)), type: INT };
    }
    case 'SERVERPROPERTY':
      expect(1);
      return { value: session.serverProperty(String(value(0).value)), type: NVARCHAR_128 };
    case 'DATABASEPROPERTYEX':
      expect(2);
      return { value: session.databaseProperty(String(value(0).value), String(value(1).value)), type: NVARCHAR_128 };
    case 'SUSER_SNAME':
    case 'SUSER_NAME':
    case 'ORIGINAL_LOGIN':
      return { value: session.login, type: NVARCHAR_128 };
    case 'HOST_NAME':
      return { value: session.hostName, type: NVARCHAR_128 };
    case 'APP_NAME':
      return { value: session.appName, type: NVARCHAR_128 };
    case 'GETDATE':
    case 'GETUTCDATE':
    case 'CURRENT_TIMESTAMP':
      return { value: new Date(), type: DATETIME };
    case 'SYSDATETIME':
    case 'SYSUTCDATETIME':
      return { value: new Date(), type: DATETIME2 };
    case 'NEWID':
      return { value: randomUUID().toUpperCase(), type: GUID };
    case 'DATEDIFF': {
      expect(3);
      const unit = datePart(value(0));
      const start = value(1);
      const end = value(2);
      if (start.value === null || end.value === null) return { value: null, type: INT };
      const from = (castValue(start, DATETIME2) as Date).getTime();
      const to = (castValue(end, DATETIME2) as Date).getTime();
      // DATEDIFF counts boundaries crossed; for these units that is the difference of the truncated values.
      return { value: Math.floor(to / unit) - Math.floor(from / unit), type: INT };
    }
    case 'DATEADD': {
      expect(3);
      const unit = datePart(value(0));
      const amount = value(1).value;
      const date = value(2);
      if (amount === null || date.value === null) return { value: null, type: DATETIME };
      return {
        value: new Date((castValue(date, DATETIME2) as Date).getTime() + Number(amount) * unit),
        type: date.type.kind === 'datetime2' ? date.type : DATETIME,
      };
    }
    case 'UPPER':
    case 'LOWER':
    case 'LTRIM':
    case 'RTRIM':
    case 'TRIM': {
      expect(1);
      const input = value(0);
      if (input.value === null) return input;
      const text = String(input.value);
      const result =
        name === 'UPPER'
          ? text.toUpperCase()
          : name === 'LOWER'
            ? text.toLowerCase()
            : name === 'LTRIM'
              ? text.trimStart()
              : name === 'RTRIM'
                ? text.trimEnd()
                : text.trim();
      return { value: result, type: isStringType(input.type) ? input.type : nvarchar(4000) };
    }
    case 'LEN': {
      expect(1);
      const input = value(0).value;
      return { value: input === null ? null : String(input).replace(/\s+$/, '').length, type: INT };
    }
    case 'REPLACE': {
      expect(3);
      const [input, find, replacement] = [value(0), value(1), value(2)];
      if (input.value === null || find.value === null || replacement.value === null)
        return { value: null, type: nvarchar(4000) };
      return {
        value: String(input.value).split(String(find.value)).join(String(replacement.value)),
        type: nvarchar(4000),
      };
    }
    case 'CONCAT':
      return {
        value: args
          .map((_, index) => value(index).value)
          .map((part) =>
            part === null ? '' : String(castValue({ value: part, type: nvarchar('max') }, nvarchar('max'))),
          )
          .join(''),
        type: nvarchar(4000),
      };
    case 'QUOTENAME': {
      expect(1, 2);
      const input = value(0).value;
      const quote = args.length === 2 ? String(value(1).value) : '[';
      if (input === null) return { value: null, type: nvarchar(258) };
      const text = String(input);
      if (quote === "'") return { value: `'${text.replace(/'/g, "''")}'`, type: nvarchar(258) };
      if (quote === '"') return { value: `"${text.replace(/"/g, '""')}"`, type: nvarchar(258) };
      return { value: `[${text.replace(/]/g, ']]')}]`, type: nvarchar(258) };
    }
    case 'ABS': {
      expect(1);
      const input = value(0);
      if (input.value === null) return input;
      return arithmetic('*', input, { value: compare(input, { value: 0, type: INT })! < 0 ? -1 : 1, type: INT });
    }
    default:
      throw new SqlError(195, `'${name.toLowerCase()}' is not a recognized built-in function name.`, 15, 10);
  }
}

function aggregate(name: string, args: Expression[], star: boolean, context: EvaluationContext): Typed {
  const group = context.group;
  if (!group)
    throw new SqlError(
      147,
      'An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a HAVING clause or a select list, and the column being aggregated is an outer reference.',
      15,
      1,
    );
  if (name === 'COUNT' || name === 'COUNT_BIG') {
    const count = star
      ? group.length
      : group.filter((tables) => evaluate(args[0], { ...context, tables, group: undefined }).value !== null).length;
    return name === 'COUNT' ? { value: count, type: INT } : { value: BigInt(count), type: BIGINT };
  }
  const type = evaluate(args[0], { ...context, tables: nullRows(context.tables), group: undefined }).type;
  const values = group
    .map((tables) => evaluate(args[0], { ...context, tables, group: undefined }))
    .filter((typed) => typed.value !== null);
  if (values.length === 0) return { value: null, type };
  if (name === 'MAX' || name === 'MIN') {
    const best = values.reduce((a, b) => {
      const order = compare(b, a)!;
      return (name === 'MAX' ? order > 0 : order < 0) ? b : a;
    });
    return { value: best.value, type };
  }
  const sum = values.reduce((total, next) => arithmetic('+', total, next));
  if (name === 'SUM') return sum;
  return arithmetic('/', sum, { value: values.length, type: INT });
}

/**
 * Evaluates T-SQL expressions to typed values: variables, columns of the current row, the built-in functions DR
 * scripts use (CAST/CONVERT, DB_NAME, SERVERPROPERTY, DATEDIFF, QUOTENAME ...) and aggregates over a group of rows.
 * A result's type is known even for NULL, which is how result-set metadata is derived without rows.
 */
import { randomUUID } from 'node:crypto';
import type { SqlType, SqlValue } from '../tds/session';
import type { Expression } from '../tsql/ast';
import type { Column } from '../tds/session';
import { errors, SqlError } from './errors';
import type { Row } from './msdb';
import {
  BIGINT,
  BIT,
  castValue,
  compare,
  DATETIME,
  DATETIME2,
  GUID,
  INT,
  isNumericType,
  isStringType,
  isTrue,
  likeMatches,
  nvarchar,
  NVARCHAR_128,
  type Typed,
} from './values';

/** Variables of one batch (or one sp_executesql call); names are case-insensitive like SQL Server's. */
export class Variables {
  private readonly values = new Map<string, Typed>();

  declare(name: string, type: SqlType, value: SqlValue = null): void {
    this.values.set(name.toLowerCase(), { type, value: value === null ? null : castValue({ value, type }, type) });
  }

  has(name: string): boolean {
    return this.values.has(name.toLowerCase());
  }

  get(name: string): Typed {
    const variable = this.values.get(name.toLowerCase());
    if (!variable) throw errors.mustDeclareVariable(name);
    return variable;
  }

  set(name: string, value: Typed): void {
    const variable = this.get(name);
    variable.value = value.value === null ? null : castValue(value, variable.type);
  }

  /** Every variable's value now, by its lower-case name. */
  snapshot(): Record<string, SqlValue> {
    return Object.fromEntries([...this.values].map(([name, variable]) => [name, variable.value]));
  }
}

/** A table bound in a FROM clause, with the row being looked at (null: the unmatched side of a LEFT JOIN). */
export interface BoundTable {
  alias: string;
  columns: Column[];
  row: Row | null;
}

/** What the evaluator needs from the session running the statement. */
export interface SessionFacts {
  spid: number;
  login: string;
  hostName: string;
  appName: string;
  databaseName: string;
  serverName: string;
  version: string;
  lastRowCount: number;
  lastError: number;
  databaseIdOf(name: string): number | null;
  databaseNameOf(id: number): string | null;
  databaseProperty(database: string, property: string): SqlValue;
  serverProperty(property: string): SqlValue;
}

export interface EvaluationContext {
  variables: Variables;
  session: SessionFacts;
  tables: BoundTable[];
  /** Rows of the group when the select list aggregates. */
  group?: BoundTable[][];
}

const AGGREGATES = new Set(['COUNT', 'COUNT_BIG', 'MAX', 'MIN', 'SUM', 'AVG']);

export function containsAggregate(expression: Expression): boolean {
  switch (expression.kind) {
    case 'call':
      return AGGREGATES.has(expression.name) || expression.args.some(containsAggregate);
    case 'cast':
    case 'not':
    case 'negate':
      return containsAggregate(expression.value);
    case 'binary':
      return containsAggregate(expression.left) || containsAggregate(expression.right);
    case 'isNull':
      return containsAggregate(expression.value);
    case 'in':
      return containsAggregate(expression.value) || expression.list.some(containsAggregate);
    case 'like':
      return containsAggregate(expression.value) || containsAggregate(expression.pattern);
    case 'case':
      return (
        expression.branches.some((branch) => containsAggregate(branch.when) || containsAggregate(branch.then)) ||
        (expression.otherwise ? containsAggregate(expression.otherwise) : false)
      );
    default:
      return false;
  }
}

export function evaluate(expression: Expression, context: EvaluationContext): Typed {
  switch (expression.kind) {
    case 'literal':
      return { value: expression.value, type: expression.type };
    case 'variable':
      return context.variables.get(expression.name);
    case 'global':
      return globalVariable(expression.name, context.session);
    case 'column':
      return columnValue(expression.name, expression.table, context.tables);
    case 'star':
      throw errors.incorrectSyntax('*', 1);
    case 'cast':
      return { value: castValue(evaluate(expression.value, context), expression.type), type: expression.type };
    case 'not': {
      const value = evaluate(expression.value, context).value;
      return { value: value === null ? null : !isTrue(value), type: BIT };
    }
    case 'negate': {
      const operand = evaluate(expression.value, context);
      return arithmetic('-', { value: 0, type: INT }, operand);
    }
    case 'isNull': {
      const isNull = evaluate(expression.value, context).value === null;
      return { value: expression.negated ? !isNull : isNull, type: BIT };
    }
    case 'in': {
      const value = evaluate(expression.value, context);
      if (value.value === null) return { value: null, type: BIT };
      const found = expression.list.some((item) => compare(value, evaluate(item, context)) === 0);
      return { value: expression.negated ? !found : found, type: BIT };
    }
    case 'like': {
      const value = evaluate(expression.value, context).value;
      const pattern = evaluate(expression.pattern, context).value;
      if (value === null || pattern === null) return { value: null, type: BIT };
      const matches = likeMatches(String(value), String(pattern));
      return { value: expression.negated ? !matches : matches, type: BIT };
    }
    case 'case': {
      const type = evaluate(expression.branches[0].then, { ...context, tables: nullRows(context.tables) }).type;
      for (const branch of expression.branches) {
        if (isTrue(evaluate(branch.when, context).value))
          return { value: castResult(evaluate(branch.then, context), type), type };
      }
      return { value: expression.otherwise ? castResult(evaluate(expression.otherwise, context), type) : null, type };
    }
    case 'binary':
      return binary(expression.operator, expression.left, expression.right, context);
    case 'call':
      return call(expression.name, expression.args, expression.star ?? false, context);
  }
}

function castResult(value: Typed, type: SqlType): SqlValue {
  return value.value === null ? null : castValue(value, type);
}

/** The same tables with every row NULL: evaluating over them gives a result's type without data. */
export function nullRows(tables: BoundTable[]): BoundTable[] {
  return tables.map((table) => ({ ...table, row: null }));
}

function columnValue(name: string, tableName: string | undefined, tables: BoundTable[]): Typed {
  const lower = name.toLowerCase();
  const candidates = tables.filter((table) => !tableName || table.alias.toLowerCase() === tableName.toLowerCase());
  if (tableName && candidates.length === 0) throw errors.invalidColumnName(`${tableName}.${name}`);
  let found: Typed | undefined;
  for (const table of candidates) {
    const column = table.columns.find((candidate) => candidate.name.toLowerCase() === lower);
    if (!column) continue;
    if (found) throw errors.ambiguousColumnName(name);
    found = { value: table.row ? (table.row[column.name] ?? null) : null, type: column.type };
  }
  if (!found) throw errors.invalidColumnName(name);
  return found;
}

function globalVariable(name: string, session: SessionFacts): Typed {
  switch (name) {
    case '@@SERVERNAME':
      return { value: session.serverName, type: NVARCHAR_128 };
    case '@@SERVICENAME':
      return { value: session.serverProperty('InstanceName') ?? 'MSSQLSERVER', type: NVARCHAR_128 };
    case '@@SPID':
      return { value: session.spid, type: { kind: 'smallint' } };
    case '@@VERSION':
      return { value: session.version, type: nvarchar(300) };
    case '@@ROWCOUNT':
      return { value: session.lastRowCount, type: INT };
    case '@@ERROR':
      return { value: session.lastError, type: INT };
    case '@@TRANCOUNT':
      return { value: 0, type: INT };
    default:
      throw errors.mustDeclareVariable(name);
  }
}

function binary(
  operator: string,
  leftExpression: Expression,
  rightExpression: Expression,
  context: EvaluationContext,
): Typed {
  if (operator === 'AND' || operator === 'OR') {
    const left = evaluate(leftExpression, context).value;
    const right = evaluate(rightExpression, context).value;
    if (operator === 'AND') {
      if (left === false || right === false) return { value: false, type: BIT };
      return { value: left === null || right === null ? null : true, type: BIT };
    }
    if (isTrue(left) || isTrue(right)) return { value: true, type: BIT };
    return { value: left === null || right === null ? null : false, type: BIT };
  }
  const left = evaluate(leftExpression, context);
  const right = evaluate(rightExpression, context);
  if (['=', '<>', '<', '>', '<=', '>='].includes(operator)) {
    const order = compare(left, right);
    if (order === null) return { value: null, type: BIT };
    const result = {
      '=': order === 0,
      '<>': order !== 0,
      '<': order < 0,
      '>': order > 0,
      '<=': order <= 0,
      '>=': order >= 0,
    }[operator]!;
    return { value: result, type: BIT };
  }
  return arithmetic(operator, left, right);
}

function arithmetic(operator: string, left: Typed, right: Typed): Typed {
  if (
    operator === '+' &&
    (isStringType(left.type) || isStringType(right.type)) &&
    !isNumericType(left.type) &&
    !isNumericType(right.type)
  ) {
    const type =
      left.type.kind === 'nvarchar' || right.type.kind === 'nvarchar'
        ? nvarchar('max')
        : ({ kind: 'varchar', length: 'max' } as SqlType);
    return {
      value: left.value === null || right.value === null ? null : String(left.value) + String(right.value),
      type,
    };
  }
  const bothIntegers =
    ['int', 'smallint', 'tinyint', 'bit'].includes(left.type.kind) &&
    ['int', 'smallint', 'tinyint', 'bit'].includes(right.type.kind);
  const type: SqlType = bothIntegers
    ? INT
    : left.type.kind === 'float' || right.type.kind === 'float'
      ? { kind: 'float' }
      : left.type.kind === 'bigint' || right.type.kind === 'bigint'
        ? BIGINT
        : { kind: 'numeric', precision: 38, scale: 0 };
  if (left.value === null || right.value === null) return { value: null, type };
  if (
    type.kind === 'float' ||
    !Number.isInteger(Number(castValue(left, { kind: 'float' }))) ||
    !Number.isInteger(Number(castValue(right, { kind: 'float' })))
  ) {
    const a = Number(castValue(left, { kind: 'float' }));
    const b = Number(castValue(right, { kind: 'float' }));
    return { value: numberOperation(operator, a, b), type: { kind: 'float' } };
  }
  const a = BigInt(String(castValue(left, { kind: 'numeric', precision: 38, scale: 0 })));
  const b = BigInt(String(castValue(right, { kind: 'numeric', precision: 38, scale: 0 })));
  if ((operator === '/' || operator === '%') && b === 0n)
    throw new SqlError(8134, 'Divide by zero error encountered.', 16, 1);
  const result = { '+': a + b, '-': a - b, '*': a * b, '/': a / b, '%': a % b }[operator as '+'];
  if (type.kind === 'int') return { value: Number(result), type };
  if (type.kind === 'bigint') return { value: result, type };
  return { value: result.toString(), type };
}

function numberOperation(operator: string, a: number, b: number): number {
  switch (operator) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      if (b === 0) throw new SqlError(8134, 'Divide by zero error encountered.', 16, 1);
      return a / b;
    default:
      return a % b;
  }
}

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

function call(name: string, args: Expression[], star: boolean, context: EvaluationContext): Typed {
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

/**
 * Evaluates T-SQL expressions to typed values: variables, columns of the current row, operators, CASE, and calls
 * (the built-in functions and aggregates are in built-in-functions.ts, arithmetic in arithmetic.ts). A result's type
 * is known even for NULL, which is how result-set metadata is derived without rows.
 */
import type { SqlType, SqlValue } from '../tds/session';
import type { Expression } from '../tsql/ast';
import type { Column } from '../tds/session';
import { errors } from './errors';
import type { Row } from './msdb';
import { BIT, castValue, compare, INT, isTrue, likeMatches, nvarchar, NVARCHAR_128, type Typed } from './values';
import { arithmetic } from './arithmetic';
import { AGGREGATES, callFunction } from './built-in-functions';

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
      return callFunction(expression.name, expression.args, expression.star ?? false, context);
  }
}

export function castResult(value: Typed, type: SqlType): SqlValue {
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

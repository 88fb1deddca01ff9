/**
 * SELECT over the catalog: FROM with INNER/LEFT joins, WHERE, aggregates over the whole result (the subset has no
 * GROUP BY), DISTINCT, ORDER BY (by expression or select-list alias), TOP, and SELECT @var = ... assignments.
 */
import type { Column, SqlValue } from '../tds/session';
import type { Expression, Select } from '../tsql/ast';
import { resolveTable } from './catalog';
import { SqlError } from './errors';
import { containsAggregate, evaluate, nullRows, type BoundTable, type EvaluationContext } from './expressions';
import type { Row } from './msdb';
import type { Execution } from './session';
import { compare, isTrue, type Typed } from './values';

export interface SelectResult {
  columns: Column[];
  rows: SqlValue[][];
}

/** The result set, or null for an assignment (SELECT @x = ...), which returns no rows. */
export function runSelect(select: Select, execution: Execution): SelectResult | null {
  const base: EvaluationContext = { variables: execution.variables, session: execution.session, tables: [] };
  const candidates = joinedRows(select, execution, base).filter(
    (tables) => !select.where || isTrue(evaluate(select.where, { ...base, tables }).value),
  );
  const template = candidates[0]
    ? nullRows(candidates[0])
    : boundTables(select, execution).map((table) => ({ ...table, row: null }));

  const items = expandStars(select, template);
  const aggregating = items.some((item) => containsAggregate(item.value));
  if (aggregating) {
    const loose = items.find((item) => !containsAggregate(item.value) && usesColumns(item.value));
    if (loose)
      throw new SqlError(
        8120,
        `Column '${describe(loose.value)}' is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause.`,
        16,
        1,
      );
  }

  // Each output row keeps the source row it came from, for ORDER BY on columns not in the select list.
  let produced: { source: BoundTable[]; values: Typed[] }[] = aggregating
    ? [
        {
          source: template,
          values: items.map((item) => evaluate(item.value, { ...base, tables: template, group: candidates })),
        },
      ]
    : candidates.map((tables) => ({
        source: tables,
        values: items.map((item) => evaluate(item.value, { ...base, tables })),
      }));

  if (select.distinct) {
    const seen = new Set<string>();
    produced = produced.filter((row) => {
      const key = JSON.stringify(
        row.values.map((value) => (typeof value.value === 'string' ? value.value.toLowerCase() : String(value.value))),
      );
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
  if (select.orderBy.length > 0) {
    const keyOf = (row: (typeof produced)[number], expression: Expression): Typed => {
      if (expression.kind === 'column' && !expression.table) {
        const index = items.findIndex((item) => item.alias?.toLowerCase() === expression.name.toLowerCase());
        if (index >= 0) return row.values[index];
      }
      if (expression.kind === 'literal' && typeof expression.value === 'number')
        return row.values[expression.value - 1];
      return evaluate(expression, { ...base, tables: row.source });
    };
    produced.sort((a, b) => {
      for (const order of select.orderBy) {
        const left = keyOf(a, order.value);
        const right = keyOf(b, order.value);
        // NULLs sort first ascending, as in SQL Server.
        const result =
          left.value === null ? (right.value === null ? 0 : -1) : right.value === null ? 1 : compare(left, right)!;
        if (result !== 0) return order.descending ? -result : result;
      }
      return 0;
    });
  }
  if (select.top) produced = produced.slice(0, Number(evaluate(select.top, base).value));

  if (items.some((item) => item.assignTo)) {
    if (!items.every((item) => item.assignTo)) {
      throw new SqlError(
        141,
        'A SELECT statement that assigns a value to a variable must not be combined with data-retrieval operations.',
        15,
        1,
      );
    }
    const last = produced[produced.length - 1];
    if (last) items.forEach((item, index) => execution.variables.set(item.assignTo!, last.values[index]));
    return null;
  }

  const typeContext = { ...base, tables: template, group: aggregating ? [] : undefined };
  const columns: Column[] = items.map((item) => ({
    name: item.alias ?? columnName(item.value),
    type: evaluate(item.value, typeContext).type,
  }));
  return { columns, rows: produced.map((row) => row.values.map((value) => value.value)) };
}

function boundTables(select: Select, execution: Execution): BoundTable[] {
  if (!select.from) return [];
  const references = [select.from, ...select.joins.map((join) => join.table)];
  return references.map((reference) => ({
    alias: reference.alias ?? reference.parts[reference.parts.length - 1],
    columns: resolveTable(reference.parts, execution.session).columns,
    row: null,
  }));
}

/** FROM and JOINs as a list of bound rows (one entry per combination that survives the ON conditions). */
function joinedRows(select: Select, execution: Execution, base: EvaluationContext): BoundTable[][] {
  if (!select.from) return [[]];
  const source = (parts: string[], alias: string | undefined) => {
    const table = resolveTable(parts, execution.session);
    return { alias: alias ?? parts[parts.length - 1], columns: table.columns, rows: table.rows() };
  };
  const first = source(select.from.parts, select.from.alias);
  let combined: BoundTable[][] = first.rows.map((row) => [{ alias: first.alias, columns: first.columns, row }]);
  for (const join of select.joins) {
    const next = source(join.table.parts, join.table.alias);
    const bind = (row: Row | null): BoundTable => ({ alias: next.alias, columns: next.columns, row });
    const candidatesFor = hashJoin(join.on, next.alias, next.rows, bind, base);
    const joined: BoundTable[][] = [];
    for (const tables of combined) {
      const matches = (candidatesFor?.(tables) ?? next.rows)
        .map((row) => [...tables, bind(row)])
        .filter((candidate) => isTrue(evaluate(join.on, { ...base, tables: candidate }).value));
      if (matches.length > 0) joined.push(...matches);
      else if (join.type === 'LEFT') joined.push([...tables, bind(null)]);
    }
    combined = joined;
  }
  return combined;
}

/**
 * msdb grows to thousands of rows (backup history of every log), and SQL Server answers its joins through indexes.
 * For an ON with `inner.column = outer.expression`, rows of the joined table are bucketed by a key that equal values
 * always share (it may also group a few unequal ones: the full ON is still evaluated on each candidate), so a join
 * costs n + m instead of n × m. Null when the ON has no such equality, or a value is one the key cannot place.
 */
function hashJoin(
  on: Expression,
  alias: string,
  rows: Row[],
  bind: (row: Row) => BoundTable,
  base: EvaluationContext,
): ((outer: BoundTable[]) => Row[]) | null {
  const equality = equalityOn(on, alias);
  if (!equality) return null;
  const buckets = new Map<string, Row[]>();
  for (const row of rows) {
    const value = evaluate(equality.inner, { ...base, tables: [bind(row)] }).value;
    if (value === null) continue; // NULL = anything is unknown: never a match
    const key = joinKey(value);
    if (key === undefined) return null;
    const bucket = buckets.get(key);
    if (bucket) bucket.push(row);
    else buckets.set(key, [row]);
  }
  return (outer) => {
    const value = evaluate(equality.outer, { ...base, tables: outer }).value;
    if (value === null) return [];
    const key = joinKey(value);
    return key === undefined ? rows : (buckets.get(key) ?? []);
  };
}

/** The first `a.x = b.y` among the ANDed terms of an ON, with `inner` the side naming the joined table. */
function equalityOn(on: Expression, alias: string): { inner: Expression; outer: Expression } | null {
  if (on.kind !== 'binary') return null;
  if (on.operator === 'AND') return equalityOn(on.left, alias) ?? equalityOn(on.right, alias);
  if (on.operator !== '=') return null;
  const names = (side: Expression) => side.kind === 'column' && side.table?.toLowerCase() === alias.toLowerCase();
  const elsewhere = (side: Expression) =>
    side.kind === 'column' && side.table !== undefined && side.table.toLowerCase() !== alias.toLowerCase();
  if (names(on.left) && elsewhere(on.right)) return { inner: on.left, outer: on.right };
  if (names(on.right) && elsewhere(on.left)) return { inner: on.right, outer: on.left };
  return null;
}

/** Numbers by their canonical decimal text, text case- and trailing-space-insensitively (as compare() sees them). */
function joinKey(value: SqlValue): string | undefined {
  if (value instanceof Date || Buffer.isBuffer(value)) return undefined;
  if (typeof value === 'boolean') return `n:${value ? 1 : 0}`;
  const text = String(value).trim();
  const decimal = /^([+-]?)0*(\d*)(?:\.(\d*?)0*)?$/.exec(text);
  if (decimal && text !== '' && text !== '.') {
    const whole = decimal[2] || '0';
    const fraction = decimal[3] ?? '';
    const zero = whole === '0' && fraction === '';
    return `n:${decimal[1] === '-' && !zero ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
  }
  if (/^[+-]?(\d+\.?\d*|\.\d+)e[+-]?\d+$/i.test(text)) return undefined;
  return `s:${text.toLowerCase()}`;
}

function expandStars(select: Select, tables: BoundTable[]): Select['items'] {
  if (!select.items.some((item) => item.value.kind === 'star')) return select.items;
  return select.items.flatMap((item) => {
    if (item.value.kind !== 'star') return [item];
    const table = item.value.table?.toLowerCase();
    const chosen = tables.filter((bound) => !table || bound.alias.toLowerCase() === table);
    if (chosen.length === 0) throw new SqlError(263, 'Must specify table to select from.', 16, 1);
    return chosen.flatMap((bound) =>
      bound.columns.map((column) => ({ value: { kind: 'column' as const, name: column.name, table: bound.alias } })),
    );
  });
}

function usesColumns(expression: Expression): boolean {
  switch (expression.kind) {
    case 'column':
      return true;
    case 'cast':
    case 'not':
    case 'negate':
    case 'isNull':
      return usesColumns(expression.value);
    case 'binary':
      return usesColumns(expression.left) || usesColumns(expression.right);
    case 'call':
      return expression.args.some(usesColumns);
    default:
      return false;
  }
}

function columnName(expression: Expression): string {
  return expression.kind === 'column' ? expression.name : '';
}

function describe(expression: Expression): string {
  return expression.kind === 'column'
    ? expression.table
      ? `${expression.table}.${expression.name}`
      : expression.name
    : 'expression';
}

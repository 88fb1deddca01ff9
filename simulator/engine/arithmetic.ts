/**
 * T-SQL arithmetic on typed values: + - * / % on numbers (integer division between integers, as SQL Server does)
 * and + on strings, with the result type SQL Server gives.
 */
import type { SqlType } from '../tds/session';
import { SqlError } from './errors';
import { BIGINT, castValue, INT, isNumericType, isStringType, nvarchar, type Typed } from './values';

export function arithmetic(operator: string, left: Typed, right: Typed): Typed {
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

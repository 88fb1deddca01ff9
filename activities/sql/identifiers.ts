/**
 * Identifiers cannot be query parameters, so database names are checked and bracket-quoted before they enter
 * T-SQL text (docs/runbooks.md rule 6); every value travels as a parameter.
 */
import { isPlainIdentifier } from '../../topology/identifiers';
import { stepFailure } from '../failures';

export function quoteIdentifier(name: string): string {
  if (!isPlainIdentifier(name)) {
    throw stepFailure(
      'InvalidIdentifier',
      `"${name}" is not a plain SQL Server identifier; refusing to put it into T-SQL`,
      { identifier: name },
    );
  }
  return `[${name}]`;
}

/** KILL takes a literal session id: only a positive integer may be written into the statement. */
export function sessionIdLiteral(spid: number): string {
  if (!Number.isInteger(spid) || spid <= 0 || spid > 32767)
    throw stepFailure('InvalidIdentifier', `${spid} is not a session id`, { spid });
  return String(spid);
}

/**
 * Plain SQL Server identifiers: letters, digits and _, starting with a letter or _. Database names are checked
 * against this in the topology and again by the activities before they are bracket-quoted into T-SQL.
 */
export const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function isPlainIdentifier(name: string): boolean {
  return PLAIN_IDENTIFIER.test(name);
}

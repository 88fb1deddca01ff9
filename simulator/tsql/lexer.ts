/**
 * T-SQL lexer for the subset the simulator understands: identifiers (bare, [bracketed], "quoted"), @variables,
 * @@globals, '' and N'' strings with doubled quotes, numbers, 0x binary, operators, -- and nested block comments.
 * Keywords are not special here: the parser compares identifier text case-insensitively, as SQL Server does.
 */
import { SqlError } from '../engine/errors';

export type TokenKind =
  'identifier' | 'quotedIdentifier' | 'variable' | 'global' | 'string' | 'number' | 'binary' | 'operator' | 'end';

export interface Token {
  kind: TokenKind;
  /** Identifier name (brackets removed), string contents (quotes undone), number text, operator. */
  text: string;
  /** N'...' strings. */
  unicode?: boolean;
  /** 1-based line in the batch, for error messages. */
  line: number;
  /** Where the token starts and ends in the batch, for quoting statement text back. */
  offset: number;
  end: number;
}

const OPERATORS = ['<>', '!=', '<=', '>=', '!<', '!>', '=', '<', '>', '+', '-', '*', '/', '%', ',', '.', '(', ')', ';'];

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  let line = 1;
  const advance = (count: number) => {
    for (let i = 0; i < count; i++) if (sql[index + i] === '\n') line++;
    index += count;
  };
  const push = (kind: TokenKind, text: string, start: number, startLine: number, unicode?: boolean) =>
    tokens.push({ kind, text, line: startLine, offset: start, end: index, ...(unicode ? { unicode } : {}) });

  while (index < sql.length) {
    const char = sql[index];
    const start = index;
    const startLine = line;
    if (/\s/.test(char)) {
      advance(1);
    } else if (sql.startsWith('--', index)) {
      const end = sql.indexOf('\n', index);
      advance((end === -1 ? sql.length : end) - index);
    } else if (sql.startsWith('/*', index)) {
      // Block comments nest in T-SQL.
      let depth = 0;
      do {
        if (sql.startsWith('/*', index)) {
          depth++;
          advance(2);
        } else if (sql.startsWith('*/', index)) {
          depth--;
          advance(2);
        } else if (index >= sql.length) {
          throw SqlError.syntax(`Missing end comment mark '*/'.`, startLine, 113);
        } else advance(1);
      } while (depth > 0);
    } else if ((char === 'N' || char === 'n') && sql[index + 1] === "'") {
      advance(1);
      push('string', readQuoted("'"), start, startLine, true);
    } else if (char === "'") {
      push('string', readQuoted("'"), start, startLine);
    } else if (char === '[') {
      push('quotedIdentifier', readBracketed(), start, startLine);
    } else if (char === '"') {
      push('quotedIdentifier', readQuoted('"'), start, startLine);
    } else if (char === '@') {
      const global = sql[index + 1] === '@';
      const match = /^@@?[A-Za-z0-9_@#$]+/.exec(sql.slice(index));
      if (!match) throw SqlError.syntax(`Incorrect syntax near '@'.`, startLine);
      advance(match[0].length);
      push(global ? 'global' : 'variable', match[0], start, startLine);
    } else if (/[0-9]/.test(char) || (char === '.' && /[0-9]/.test(sql[index + 1] ?? ''))) {
      if (char === '0' && /[xX]/.test(sql[index + 1] ?? '')) {
        const match = /^0[xX][0-9A-Fa-f]*/.exec(sql.slice(index))!;
        advance(match[0].length);
        push('binary', match[0], start, startLine);
      } else {
        const match = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(sql.slice(index))!;
        advance(match[0].length);
        push('number', match[0], start, startLine);
      }
    } else if (/[A-Za-z_#]/.test(char) || char.charCodeAt(0) > 127) {
      const match = /^[A-Za-z_#\u0080-\uffff][A-Za-z0-9_@#$\u0080-\uffff]*/.exec(sql.slice(index))!;
      advance(match[0].length);
      push('identifier', match[0], start, startLine);
    } else {
      const operator = OPERATORS.find((candidate) => sql.startsWith(candidate, index));
      if (!operator) throw SqlError.syntax(`Incorrect syntax near '${char}'.`, startLine);
      advance(operator.length);
      push('operator', operator, start, startLine);
    }
  }
  tokens.push({ kind: 'end', text: '', line, offset: sql.length, end: sql.length });
  return tokens;

  /** 'it''s' → it's; the closing quote is required. */
  function readQuoted(quote: string): string {
    const startLine = line;
    advance(1);
    let text = '';
    for (;;) {
      if (index >= sql.length) {
        throw SqlError.syntax(`Unclosed quotation mark after the character string '${text}'.`, startLine, 105);
      }
      if (sql[index] === quote) {
        if (sql[index + 1] === quote) {
          text += quote;
          advance(2);
          continue;
        }
        advance(1);
        return text;
      }
      text += sql[index];
      advance(1);
    }
  }

  /** [my]]name] → my]name */
  function readBracketed(): string {
    const startLine = line;
    advance(1);
    let text = '';
    for (;;) {
      if (index >= sql.length) {
        throw SqlError.syntax(`Unclosed quotation mark after the character string '${text}'.`, startLine, 105);
      }
      if (sql[index] === ']') {
        if (sql[index + 1] === ']') {
          text += ']';
          advance(2);
          continue;
        }
        advance(1);
        return text;
      }
      text += sql[index];
      advance(1);
    }
  }
}

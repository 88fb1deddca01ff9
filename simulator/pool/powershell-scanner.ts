/**
 * The character level of the stand-in management shell's PowerShell parser (powershell.ts): PowerShell's own
 * character classes (its quotes and dashes, what ends a word or a value), and the scanning of strings, bare words,
 * numbers, constants, escapes, blanks and comments. Whatever PowerShell would expand ($name, $(...)) is refused here.
 */
import { PowerShellParseError, type PsValue, type SourceExtent } from './powershell-ast';

// PowerShell's tokenizer treats these exactly like ' " and - (CharExtensions.IsSingleQuote / IsDoubleQuote / IsDash).
export const SINGLE_QUOTES = new Set(["'", '\u2018', '\u2019', '\u201a', '\u201b']);
export const DOUBLE_QUOTES = new Set(['"', '\u201c', '\u201d', '\u201e']);
export const DASHES = new Set(['-', '\u2013', '\u2014', '\u2015']);
/** Characters that end a bare word whatever comes before them (CharTraits.ForceStartNewToken). */
const TOKEN_BREAKERS = new Set(['{', '}', '(', ')', ';', ',', '|', '&', '\0']);
/** What may follow `$` to make it a variable (or `${...}`): PowerShell would expand it. */
export const VARIABLE_START = /[\p{L}\p{Nd}_?:^${]/u;
const VARIABLE_CHAR = /[\p{L}\p{Nd}_?:]/u;
const DECIMAL_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export function isNewline(c: string | undefined): boolean {
  return c === '\n' || c === '\r';
}

/** PowerShell's IsWhitespace: blanks and Unicode separators, but not newlines. */
function isBlank(c: string | undefined): boolean {
  return c !== undefined && !isNewline(c) && /[\p{Z}\t\f\v\u0085]/u.test(c);
}

export function endsBareWord(c: string): boolean {
  return isBlank(c) || isNewline(c) || TOKEN_BREAKERS.has(c);
}

/** What may directly follow a complete value: anything else (`'a'b`, `$null.x`) is refused rather than guessed. */
export function endsValue(c: string | undefined): boolean {
  return c === undefined || isBlank(c) || isNewline(c) || [';', '|', ',', ')', '}'].includes(c);
}

export function describeCharacter(c: string): string {
  return isNewline(c) ? 'a newline' : `'${c}'`;
}

/** A position in the script text, and what can be read at it. */
export class Scanner {
  protected pos = 0;

  constructor(protected readonly text: string) {}

  protected number(text: string, extent: SourceExtent): PsValue {
    const normalised = text.replace(/^[\u2013\u2014\u2015]/, '-');
    if (!DECIMAL_NUMBER.test(normalised)) {
      throw new PowerShellParseError(
        'NumberFormNotSupported',
        `The stand-in management shell reads plain decimal numbers only, not '${text}': quote a value that starts with a digit.`,
        extent,
      );
    }
    return { kind: 'number', value: Number(normalised), extent };
  }

  protected scanConstant(): PsValue {
    const start = this.pos;
    const match = /^\$(null|true|false)/i.exec(this.text.slice(start, start + 6));
    if (match && !VARIABLE_CHAR.test(this.peekAt(match[0].length) ?? '')) {
      this.pos += match[0].length;
      const extent = { start, end: this.pos };
      const word = match[1].toLowerCase();
      return word === 'null' ? { kind: 'null', extent } : { kind: 'boolean', value: word === 'true', extent };
    }
    this.refuseExpansion();
    throw new PowerShellParseError(
      'VariableNotSupported',
      "A '$' that does not start $null, $true or $false: the stand-in management shell does not evaluate variables.",
      { start, end: start + 1 },
    );
  }

  /** An unquoted word; quoted parts inside it are joined as PowerShell does. `plain`: no quotes or escapes. */
  protected scanBareWord(): { text: string; plain: boolean } {
    let text = '';
    let plain = true;
    while (this.pos < this.text.length) {
      const start = this.pos;
      const c = this.text[start];
      if (endsBareWord(c)) break;
      if (c === '`') {
        plain = false;
        text += this.scanBacktick();
      } else if (SINGLE_QUOTES.has(c) || DOUBLE_QUOTES.has(c)) {
        plain = false;
        this.pos++;
        text += SINGLE_QUOTES.has(c) ? this.scanSingleQuoted(start) : this.scanDoubleQuoted(start);
      } else if (c === '>' || c === '<') {
        throw this.redirection(start);
      } else {
        if (c === '$') this.refuseExpansion();
        text += c;
        this.pos++;
      }
    }
    return { text, plain };
  }

  /** After the opening quote. No escapes but a doubled quote; nothing is expanded. */
  protected scanSingleQuoted(start: number): string {
    let value = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined)
        throw new PowerShellParseError('TerminatorExpectedAtEndOfString', "The string is missing the terminator: '.", {
          start,
          end: this.pos,
        });
      this.pos++;
      if (SINGLE_QUOTES.has(c)) {
        const next = this.peek();
        if (next === undefined || !SINGLE_QUOTES.has(next)) return value;
        this.pos++;
        value += next;
      } else {
        value += c;
      }
    }
  }

  /** After the opening quote. Backtick escapes and doubled quotes; an expansion is refused. */
  protected scanDoubleQuoted(start: number): string {
    let value = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined)
        throw new PowerShellParseError('TerminatorExpectedAtEndOfString', 'The string is missing the terminator: ".', {
          start,
          end: this.pos,
        });
      if (DOUBLE_QUOTES.has(c)) {
        this.pos++;
        const next = this.peek();
        if (next === undefined || !DOUBLE_QUOTES.has(next)) return value;
        this.pos++;
        value += next;
      } else if (c === '`') {
        value += this.scanBacktick();
      } else {
        if (c === '$') this.refuseExpansion();
        value += c;
        this.pos++;
      }
    }
  }

  /** `$(` or `$name` at the current position would be expanded by PowerShell; a lone `$` is text. */
  protected refuseExpansion(): void {
    const next = this.peekAt(1);
    if (next === '(') {
      throw new PowerShellParseError(
        'SubExpressionNotSupported',
        'The stand-in management shell does not evaluate subexpressions $(...); pass literal values in single quotes.',
        { start: this.pos, end: this.pos + 2 },
      );
    }
    if (next !== undefined && VARIABLE_START.test(next)) {
      throw new PowerShellParseError(
        'VariableNotSupported',
        'The stand-in management shell does not evaluate variables ($name); pass literal values in single quotes.',
        { start: this.pos, end: this.pos + 2 },
      );
    }
  }

  /** At a backtick: the escaped character (Tokenizer.Backtick); a backtick at the very end is itself. */
  protected scanBacktick(): string {
    const c = this.peekAt(1);
    if (c === undefined) {
      this.pos++;
      return '`';
    }
    this.pos += 2;
    const escapes: Record<string, string> = {
      '0': '\0',
      a: '\x07',
      b: '\b',
      e: '\x1b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
    };
    if (c === 'u') return this.scanUnicodeEscape();
    return escapes[c] ?? c;
  }

  /** After `u: {1 to 6 hex digits}. */
  protected scanUnicodeEscape(): string {
    const start = this.pos - 2;
    const match = /^\{([0-9A-Fa-f]{1,6})\}/.exec(this.text.slice(this.pos, this.pos + 9));
    const codePoint = match ? parseInt(match[1], 16) : NaN;
    if (!match || codePoint > 0x10ffff) {
      throw new PowerShellParseError(
        'InvalidUnicodeEscapeSequence',
        "The Unicode escape sequence is not valid. A valid sequence is `u{ followed by 1 to 6 hex digits and a closing '}'.",
        { start, end: this.pos },
      );
    }
    this.pos += match[0].length;
    return String.fromCodePoint(codePoint);
  }

  /** Blanks, line continuations (backtick + newline) and # comments; not newlines, which end statements. */
  protected skipBlanks(): void {
    for (;;) {
      const c = this.peek();
      if (isBlank(c)) {
        this.pos++;
      } else if (c === '`' && isNewline(this.peekAt(1))) {
        this.pos += this.peekAt(1) === '\r' && this.peekAt(2) === '\n' ? 3 : 2;
      } else if (c === '#') {
        while (this.pos < this.text.length && !isNewline(this.peek())) this.pos++;
      } else {
        return;
      }
    }
  }

  protected skipBlanksAndNewlines(): void {
    for (;;) {
      this.skipBlanks();
      if (!isNewline(this.peek())) return;
      this.pos++;
    }
  }

  protected redirection(at: number): PowerShellParseError {
    if (this.text[at] === '<')
      return new PowerShellParseError('RedirectionNotSupported', "The '<' operator is reserved for future use.", {
        start: at,
        end: at + 1,
      });
    return this.unsupported('redirection', { start: at, end: at + 1 });
  }

  protected unsupported(what: string, extent: SourceExtent): PowerShellParseError {
    return new PowerShellParseError(
      'NotSupportedByStandInShell',
      `The stand-in management shell does not support ${what}.`,
      extent,
    );
  }

  protected unexpectedToken(extent: SourceExtent): PowerShellParseError {
    const token = this.text.slice(extent.start, extent.end);
    return new PowerShellParseError(
      'UnexpectedToken',
      `Unexpected token '${token}' in expression or statement.`,
      extent,
    );
  }

  protected peek(): string | undefined {
    return this.text[this.pos];
  }

  protected peekAt(offset: number): string | undefined {
    return this.text[this.pos + offset];
  }
}

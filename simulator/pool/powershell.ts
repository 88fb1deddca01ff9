/**
 * A parser for the PowerShell text the stand-in management shell receives (`pwsh -Command <text>`).
 *
 * It follows PowerShell's own tokenizer for everything the pool-control adapter sends: statements separated by `;`
 * or newlines, pipelines, `-Parameter value`, `-Switch`, `-Switch:$false`, positional values, single-quoted strings
 * (`''` is a quote; PowerShell also closes them with the typographic quotes ‘ ’ ‚ ‛, and so does this parser, because
 * that is exactly the kind of difference an injection test must see), double-quoted strings with backtick escapes,
 * bare words, numbers, `$null`/`$true`/`$false`, arrays and hashtables.
 *
 * Whatever PowerShell would *evaluate* — variables, `$(...)` (inside double quotes too), script blocks, parentheses,
 * redirection, splatting — is a parse error here, never text: a value that production PowerShell would expand must
 * not pass a test as a literal. The stand-in may be stricter than PowerShell; it is never more lenient.
 */

/** Offsets into the script text, end exclusive. */
export interface SourceExtent {
  start: number;
  end: number;
}

export type PsValue =
  | { kind: 'string'; value: string; extent: SourceExtent }
  | { kind: 'number'; value: number; extent: SourceExtent }
  | { kind: 'boolean'; value: boolean; extent: SourceExtent }
  | { kind: 'null'; extent: SourceExtent }
  | { kind: 'array'; items: PsValue[]; extent: SourceExtent }
  | { kind: 'hashtable'; entries: PsHashtableEntry[]; extent: SourceExtent };

export interface PsHashtableEntry {
  key: string;
  value: PsValue;
}

/** `-Name`, `-Name:value` (argument attached), or a value; which parameter a value binds to is the binder's business. */
export type PsCommandElement =
  | { kind: 'parameter'; name: string; argument?: PsValue; extent: SourceExtent }
  | { kind: 'argument'; value: PsValue; extent: SourceExtent };

export interface PsCommand {
  name: string;
  elements: PsCommandElement[];
  extent: SourceExtent;
}

export interface PsPipeline {
  commands: PsCommand[];
  extent: SourceExtent;
}

export interface PsScript {
  text: string;
  statements: PsPipeline[];
}

/** A value as plain JSON: what the invocation log records and what cmdlets convert from. */
export type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue };

export class PowerShellParseError extends Error {
  constructor(
    /** PowerShell's FullyQualifiedErrorId where PowerShell has one, e.g. TerminatorExpectedAtEndOfString. */
    readonly errorId: string,
    message: string,
    readonly extent: SourceExtent,
  ) {
    super(message);
    this.name = 'PowerShellParseError';
  }
}

export function parsePowerShell(text: string): PsScript {
  return { text, statements: new Parser(text).parseScript() };
}

export function plainValue(value: PsValue): PlainValue {
  switch (value.kind) {
    case 'string':
    case 'number':
    case 'boolean':
      return value.value;
    case 'null':
      return null;
    case 'array':
      return value.items.map(plainValue);
    case 'hashtable':
      return Object.fromEntries(value.entries.map((entry) => [entry.key, plainValue(entry.value)]));
  }
}

// PowerShell's tokenizer treats these exactly like ' " and - (CharExtensions.IsSingleQuote / IsDoubleQuote / IsDash).
const SINGLE_QUOTES = new Set(["'", '\u2018', '\u2019', '\u201a', '\u201b']);
const DOUBLE_QUOTES = new Set(['"', '\u201c', '\u201d', '\u201e']);
const DASHES = new Set(['-', '\u2013', '\u2014', '\u2015']);
/** Characters that end a bare word whatever comes before them (CharTraits.ForceStartNewToken). */
const TOKEN_BREAKERS = new Set(['{', '}', '(', ')', ';', ',', '|', '&', '\0']);
/** What may follow `$` to make it a variable (or `${...}`): PowerShell would expand it. */
const VARIABLE_START = /[\p{L}\p{Nd}_?:^${]/u;
const VARIABLE_CHAR = /[\p{L}\p{Nd}_?:]/u;
const DECIMAL_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const HASH_KEY = /^[\p{L}\p{Nd}_][\p{L}\p{Nd}_.:-]*$/u;

function isNewline(c: string | undefined): boolean {
  return c === '\n' || c === '\r';
}

/** PowerShell's IsWhitespace: blanks and Unicode separators, but not newlines. */
function isBlank(c: string | undefined): boolean {
  return c !== undefined && !isNewline(c) && /[\p{Z}\t\f\v\u0085]/u.test(c);
}

function endsBareWord(c: string): boolean {
  return isBlank(c) || isNewline(c) || TOKEN_BREAKERS.has(c);
}

/** What may directly follow a complete value: anything else (`'a'b`, `$null.x`) is refused rather than guessed. */
function endsValue(c: string | undefined): boolean {
  return c === undefined || isBlank(c) || isNewline(c) || [';', '|', ',', ')', '}'].includes(c);
}

function describeCharacter(c: string): string {
  return isNewline(c) ? 'a newline' : `'${c}'`;
}

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseScript(): PsPipeline[] {
    const statements: PsPipeline[] = [];
    for (;;) {
      this.skipBlanks();
      const c = this.peek();
      if (c === undefined) return statements;
      if (c === ';' || isNewline(c)) {
        this.pos++;
        continue;
      }
      statements.push(this.parsePipeline());
    }
  }

  private parsePipeline(): PsPipeline {
    const commands = [this.parseCommand()];
    while (this.peek() === '|') {
      const bar = this.pos++;
      if (this.peek() === '|') {
        throw this.unsupported("the pipeline chain operator '||'", { start: bar, end: bar + 2 });
      }
      this.skipBlanksAndNewlines();
      commands.push(this.parseCommand());
    }
    return { commands, extent: { start: commands[0].extent.start, end: commands[commands.length - 1].extent.end } };
  }

  private parseCommand(): PsCommand {
    this.skipBlanks();
    const start = this.pos;
    const c = this.peek();
    if (c === undefined || c === ';' || c === '|' || isNewline(c)) {
      throw new PowerShellParseError('EmptyPipeElement', 'An empty pipe element is not allowed.', {
        start,
        end: start + 1,
      });
    }
    if (!/[\p{L}_]/u.test(c)) throw this.notACommand(c);
    const name = this.scanBareWord().text;
    const elements: PsCommandElement[] = [];
    let end = this.pos;
    for (;;) {
      this.skipBlanks();
      const next = this.peek();
      if (next === undefined || next === ';' || next === '|' || isNewline(next)) break;
      const element = this.parseElement();
      elements.push(element);
      end = element.extent.end;
    }
    return { name, elements, extent: { start, end } };
  }

  private notACommand(c: string): PowerShellParseError {
    const here = { start: this.pos, end: this.pos + 1 };
    if (c === '$') {
      return new PowerShellParseError(
        'VariableNotSupported',
        'The stand-in management shell does not evaluate variables or assignments; a statement must start with a cmdlet name.',
        here,
      );
    }
    if (c === '&') return this.unsupported("the call operator '&'", here);
    if (c === '.') return this.unsupported('dot-sourcing', here);
    if (c === ')' || c === '}') return this.unexpectedToken(here);
    return new PowerShellParseError(
      'ExpressionStatementNotSupported',
      `The stand-in management shell runs cmdlets only: a statement must start with a cmdlet name, not ${describeCharacter(c)}.`,
      here,
    );
  }

  private parseElement(): PsCommandElement {
    const c = this.peek() as string;
    if (DASHES.has(c) && /[A-Za-z_?]/.test(this.peekAt(1) ?? '')) return this.parseParameter();
    const value = this.parseArgument();
    return { kind: 'argument', value, extent: value.extent };
  }

  private parseParameter(): PsCommandElement {
    const start = this.pos++;
    let name = '';
    let attached = false;
    for (;;) {
      const c = this.peek();
      if (c === undefined || endsBareWord(c)) break;
      if (c === ':') {
        this.pos++;
        attached = true;
        break;
      }
      if (c === '.' || c === '[')
        throw this.unsupported(`'${c}' after a parameter name`, { start: this.pos, end: this.pos + 1 });
      if (SINGLE_QUOTES.has(c) || DOUBLE_QUOTES.has(c)) {
        // PowerShell: quotes are never part of a parameter name, so the whole token is a value (-a'b' is "-ab").
        this.pos = start;
        const value = this.parseArgument();
        return { kind: 'argument', value, extent: value.extent };
      }
      name += c;
      this.pos++;
    }
    if (!attached) return { kind: 'parameter', name, extent: { start, end: this.pos } };
    this.skipBlanks();
    const next = this.peek();
    if (next === undefined || next === ';' || next === '|' || isNewline(next)) {
      throw new PowerShellParseError('ParameterRequiresArgument', `The parameter '${name}' requires an argument.`, {
        start,
        end: this.pos,
      });
    }
    const argument = this.parseArgument();
    return { kind: 'parameter', name, argument, extent: { start, end: argument.extent.end } };
  }

  /** A command argument: one value, or several separated by commas (an array). */
  private parseArgument(): PsValue {
    return this.parseList(() => this.parseCommandValue());
  }

  private parseList(parseItem: () => PsValue): PsValue {
    const items = [parseItem()];
    for (;;) {
      const save = this.pos;
      this.skipBlanks();
      if (this.peek() !== ',') {
        this.pos = save;
        break;
      }
      const comma = this.pos++;
      this.skipBlanksAndNewlines();
      const next = this.peek();
      if (next === undefined || [';', '|', ')', '}', ','].includes(next)) {
        throw new PowerShellParseError('MissingExpressionAfterToken', "Missing expression after ','.", {
          start: comma,
          end: comma + 1,
        });
      }
      items.push(parseItem());
    }
    if (items.length === 1) return items[0];
    return { kind: 'array', items, extent: { start: items[0].extent.start, end: items[items.length - 1].extent.end } };
  }

  /** One value in argument mode, where an unquoted word is a string. */
  private parseCommandValue(): PsValue {
    const start = this.pos;
    const c = this.peek() as string;
    const special = this.parseQuotedOrSpecial(c);
    if (special) return this.finishValue(special);
    const word = this.scanBareWord();
    const extent = { start, end: this.pos };
    if (word.plain) {
      if (word.text === '--' || word.text.startsWith('--%')) throw this.unsupported(`the '${word.text}' token`, extent);
      if (/^[+\-\u2013\u2014\u2015]?\.?\d/.test(word.text)) return this.number(word.text, extent);
    }
    return { kind: 'string', value: word.text, extent };
  }

  /** One value in expression mode (a hashtable value), where an unquoted word would be run as a command. */
  private parseExpressionValue(): PsValue {
    const start = this.pos;
    const c = this.peek() as string;
    const special = this.parseQuotedOrSpecial(c);
    if (special) return this.finishValue(special);
    if (/[+\-\u2013\u2014\u2015.\d]/.test(c)) {
      while (!endsValue(this.peek())) this.pos++;
      return this.number(this.text.slice(start, this.pos), { start, end: this.pos });
    }
    const word = this.scanBareWord();
    throw new PowerShellParseError(
      'BareWordInExpression',
      `The hashtable value ${word.text} is not quoted: PowerShell would run it as a command. Quote it: '${word.text.replace(/'/g, "''")}'.`,
      { start, end: this.pos },
    );
  }

  /** Strings, $null/$true/$false, hashtables, and refusals for what the stand-in does not evaluate; undefined for a word. */
  private parseQuotedOrSpecial(c: string): PsValue | undefined {
    const start = this.pos;
    if (SINGLE_QUOTES.has(c) || DOUBLE_QUOTES.has(c)) {
      this.pos++;
      const value = SINGLE_QUOTES.has(c) ? this.scanSingleQuoted(start) : this.scanDoubleQuoted(start);
      return { kind: 'string', value, extent: { start, end: this.pos } };
    }
    const here = { start, end: start + 1 };
    switch (c) {
      case '$':
        return this.scanConstant();
      case '@':
        return this.parseAt();
      case '(':
        throw this.unsupported('parenthesised expressions', here);
      case '{':
        throw this.unsupported('script blocks', here);
      case '[':
        throw this.unsupported('type literals and casts', here);
      case '&':
        throw this.unsupported(`'${this.peekAt(1) === '&' ? '&&' : '&'}'`, here);
      case ',':
        throw this.unsupported("the unary array operator ','", here);
      case ')':
      case '}':
      case '\0':
        throw this.unexpectedToken(here);
    }
    return undefined;
  }

  private finishValue(value: PsValue): PsValue {
    const next = this.peek();
    if (!endsValue(next)) {
      throw new PowerShellParseError(
        'UnexpectedToken',
        `Unexpected token ${describeCharacter(next as string)} right after a value. The stand-in management shell does not join adjacent tokens: quote the whole value.`,
        { start: this.pos, end: this.pos + 1 },
      );
    }
    return value;
  }

  private number(text: string, extent: SourceExtent): PsValue {
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

  private scanConstant(): PsValue {
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

  private parseAt(): PsValue {
    const start = this.pos;
    const next = this.peekAt(1);
    const here = { start, end: start + 2 };
    if (next === '{') {
      this.pos += 2;
      return this.parseHashtable(start);
    }
    if (next === '(') throw this.unsupported('array subexpressions @(...)', here);
    if (next !== undefined && (SINGLE_QUOTES.has(next) || DOUBLE_QUOTES.has(next)))
      throw this.unsupported('here-strings', here);
    if (next !== undefined && VARIABLE_START.test(next)) throw this.unsupported('splatting', here);
    throw this.unexpectedToken({ start, end: start + 1 });
  }

  private parseHashtable(start: number): PsValue {
    const entries: PsHashtableEntry[] = [];
    const seen = new Set<string>();
    for (;;) {
      this.skipBlanksAndNewlines();
      const c = this.peek();
      if (c === undefined)
        throw new PowerShellParseError('IncompleteHashLiteral', 'The hash literal was incomplete.', {
          start,
          end: this.pos,
        });
      if (c === ';') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return { kind: 'hashtable', entries, extent: { start, end: this.pos } };
      }
      const keyStart = this.pos;
      const key = this.parseHashKey();
      const keyExtent = { start: keyStart, end: this.pos };
      this.skipBlanks();
      if (this.peek() !== '=') {
        throw new PowerShellParseError(
          'MissingEqualsInHashLiteral',
          "Missing '=' operator after key in hash literal.",
          { start: this.pos, end: this.pos + 1 },
        );
      }
      this.pos++;
      this.skipBlanksAndNewlines();
      const next = this.peek();
      if (next === undefined || next === ';' || next === '}') {
        throw new PowerShellParseError(
          'MissingStatementInHashLiteral',
          "Missing statement after '=' in hash literal.",
          { start: this.pos, end: this.pos + 1 },
        );
      }
      const value = this.parseList(() => this.parseExpressionValue());
      if (seen.has(key.toLowerCase())) {
        throw new PowerShellParseError(
          'DuplicateKeyInHashLiteral',
          `Duplicate keys '${key}' are not allowed in hash literals.`,
          keyExtent,
        );
      }
      seen.add(key.toLowerCase());
      entries.push({ key, value });
      this.skipBlanks();
      const after = this.peek();
      if (after !== undefined && after !== ';' && after !== '}' && !isNewline(after)) {
        throw this.unexpectedToken({ start: this.pos, end: this.pos + 1 });
      }
    }
  }

  private parseHashKey(): string {
    const start = this.pos;
    const c = this.peek() as string;
    if (SINGLE_QUOTES.has(c) || DOUBLE_QUOTES.has(c)) {
      this.pos++;
      return SINGLE_QUOTES.has(c) ? this.scanSingleQuoted(start) : this.scanDoubleQuoted(start);
    }
    while (!endsValue(this.peek()) && this.peek() !== '=') this.pos++;
    const key = this.text.slice(start, this.pos);
    if (!HASH_KEY.test(key)) {
      throw new PowerShellParseError(
        'UnsupportedHashKey',
        key === ''
          ? 'Missing key before the value in hash literal.'
          : `The hash key ${key} is not a plain name: quote it.`,
        { start, end: Math.max(this.pos, start + 1) },
      );
    }
    return key;
  }

  /** An unquoted word; quoted parts inside it are joined as PowerShell does. `plain`: no quotes or escapes. */
  private scanBareWord(): { text: string; plain: boolean } {
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
  private scanSingleQuoted(start: number): string {
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
  private scanDoubleQuoted(start: number): string {
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
  private refuseExpansion(): void {
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
  private scanBacktick(): string {
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
  private scanUnicodeEscape(): string {
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
  private skipBlanks(): void {
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

  private skipBlanksAndNewlines(): void {
    for (;;) {
      this.skipBlanks();
      if (!isNewline(this.peek())) return;
      this.pos++;
    }
  }

  private redirection(at: number): PowerShellParseError {
    if (this.text[at] === '<')
      return new PowerShellParseError('RedirectionNotSupported', "The '<' operator is reserved for future use.", {
        start: at,
        end: at + 1,
      });
    return this.unsupported('redirection', { start: at, end: at + 1 });
  }

  private unsupported(what: string, extent: SourceExtent): PowerShellParseError {
    return new PowerShellParseError(
      'NotSupportedByStandInShell',
      `The stand-in management shell does not support ${what}.`,
      extent,
    );
  }

  private unexpectedToken(extent: SourceExtent): PowerShellParseError {
    const token = this.text.slice(extent.start, extent.end);
    return new PowerShellParseError(
      'UnexpectedToken',
      `Unexpected token '${token}' in expression or statement.`,
      extent,
    );
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private peekAt(offset: number): string | undefined {
    return this.text[this.pos + offset];
  }
}

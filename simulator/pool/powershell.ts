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

import {
  PowerShellParseError,
  type PsCommand,
  type PsCommandElement,
  type PsHashtableEntry,
  type PsPipeline,
  type PsScript,
  type PsValue,
} from './powershell-ast';
import {
  DASHES,
  describeCharacter,
  DOUBLE_QUOTES,
  endsBareWord,
  endsValue,
  isNewline,
  Scanner,
  SINGLE_QUOTES,
  VARIABLE_START,
} from './powershell-scanner';

const HASH_KEY = /^[\p{L}\p{Nd}_][\p{L}\p{Nd}_.:-]*$/u;

export function parsePowerShell(text: string): PsScript {
  return { text, statements: new Parser(text).parseScript() };
}

class Parser extends Scanner {
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
}

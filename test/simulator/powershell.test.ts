/**
 * The stand-in management shell's PowerShell parser: it must read what the pool-control adapter sends exactly as
 * pwsh would (quoting above all: a value quoted for PowerShell must arrive as one literal), and refuse whatever pwsh
 * would evaluate, so a test can never pass with a value production would expand.
 */
import { describe, expect, it } from 'vitest';
import { parsePowerShell } from '../../simulator/pool/powershell';
import {
  plainValue,
  PowerShellParseError,
  type PsCommand,
  type PsCommandElement,
} from '../../simulator/pool/powershell-ast';

/** Statements as plain data: [cmdlet, elements] with values as plain JSON. */
function statementsOf(text: string) {
  return parsePowerShell(text).statements.map((pipeline) => pipeline.commands.map(commandShape));
}

function commandShape(command: PsCommand) {
  return { name: command.name, elements: command.elements.map(elementShape) };
}

function elementShape(element: PsCommandElement) {
  if (element.kind === 'argument') return { value: plainValue(element.value) };
  return element.argument
    ? { parameter: element.name, value: plainValue(element.argument) }
    : { parameter: element.name };
}

/** The only command of a one-statement script. */
function onlyCommand(text: string) {
  const statements = statementsOf(text);
  expect(statements).toHaveLength(1);
  expect(statements[0]).toHaveLength(1);
  return statements[0][0];
}

function parseError(text: string): PowerShellParseError {
  try {
    parsePowerShell(text);
  } catch (err) {
    if (err instanceof PowerShellParseError) return err;
    throw err;
  }
  throw new Error(`expected a parse error for ${JSON.stringify(text)}`);
}

/** How an adapter must quote a value for PowerShell: single quotes, every single-quote character PowerShell knows doubled. */
function quoteForPowerShell(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (quote) => quote + quote)}'`;
}

describe('statements and commands', () => {
  it('reads a cmdlet with named parameters, a switch and -Switch:$false', () => {
    expect(
      onlyCommand(
        "Set-CsPersistentChatState -Identity 'service:pchat.sim.local' -PoolState FailedOver -Force -Confirm:$false",
      ),
    ).toEqual({
      name: 'Set-CsPersistentChatState',
      elements: [
        { parameter: 'Identity' },
        { value: 'service:pchat.sim.local' },
        { parameter: 'PoolState' },
        { value: 'FailedOver' },
        { parameter: 'Force' },
        { parameter: 'Confirm', value: false },
      ],
    });
  });

  it('reads -Name:value and -Name: value as a parameter with its argument attached', () => {
    expect(onlyCommand("Get-X -A:'one' -B: two -C:$true").elements).toEqual([
      { parameter: 'A', value: 'one' },
      { parameter: 'B', value: 'two' },
      { parameter: 'C', value: true },
    ]);
  });

  it('keeps positional values as values', () => {
    expect(onlyCommand("Get-CsPersistentChatState 'service:pchat.sim.local' other").elements).toEqual([
      { value: 'service:pchat.sim.local' },
      { value: 'other' },
    ]);
  });

  it('separates statements with ; and with newlines (LF, CRLF, CR), and skips empty ones', () => {
    const statements = statementsOf('Get-A; Get-B\nGet-C\r\nGet-D\rGet-E;;\n\n;Get-F');
    expect(statements.map((pipeline) => pipeline[0].name)).toEqual([
      'Get-A',
      'Get-B',
      'Get-C',
      'Get-D',
      'Get-E',
      'Get-F',
    ]);
  });

  it('starts a second statement at an unquoted ;', () => {
    const statements = statementsOf('Set-X -Name pchat-fe1;Remove-Item -Recurse /');
    expect(statements).toEqual([
      [{ name: 'Set-X', elements: [{ parameter: 'Name' }, { value: 'pchat-fe1' }] }],
      [{ name: 'Remove-Item', elements: [{ parameter: 'Recurse' }, { value: '/' }] }],
    ]);
  });

  it('reads pipelines, with or without spaces and across a newline after |', () => {
    expect(statementsOf('Get-CsService -PersistentChatServer|ConvertTo-Json -Depth 5 -Compress')).toEqual([
      [
        { name: 'Get-CsService', elements: [{ parameter: 'PersistentChatServer' }] },
        { name: 'ConvertTo-Json', elements: [{ parameter: 'Depth' }, { value: 5 }, { parameter: 'Compress' }] },
      ],
    ]);
    expect(statementsOf('Get-A |\n  ConvertTo-Json')[0].map((command) => command.name)).toEqual([
      'Get-A',
      'ConvertTo-Json',
    ]);
  });

  it('ignores comments and joins lines ending in a backtick', () => {
    expect(onlyCommand("Get-X -A 'a' # -B 'b'")).toEqual({
      name: 'Get-X',
      elements: [{ parameter: 'A' }, { value: 'a' }],
    });
    expect(onlyCommand("Get-X `\n  -A 'a' `\r\n  -B b")).toEqual({
      name: 'Get-X',
      elements: [{ parameter: 'A' }, { value: 'a' }, { parameter: 'B' }, { value: 'b' }],
    });
    expect(onlyCommand('Get-X a#b').elements).toEqual([{ value: 'a#b' }]);
  });

  it('treats en and em dashes as parameter dashes, as PowerShell does', () => {
    expect(onlyCommand('Get-X \u2013Identity a \u2014Force').elements).toEqual([
      { parameter: 'Identity' },
      { value: 'a' },
      { parameter: 'Force' },
    ]);
  });

  it('records where each command is in the text', () => {
    const [statement] = parsePowerShell("  Get-A -X 'y'  ; Get-B").statements;
    expect(statement.extent).toEqual({ start: 2, end: 14 });
  });
});

describe('single-quoted strings', () => {
  it("take '' as one quote and expand nothing", () => {
    expect(onlyCommand("Get-X 'it''s $(rm -rf /) $env:HOME `n \"x\"'").elements).toEqual([
      { value: 'it\'s $(rm -rf /) $env:HOME `n "x"' },
    ]);
  });

  it('deliver a hostile value as one literal string: quotes, ;, $(), newlines, backticks, pipes', () => {
    const hostile = "a'b; $(rm -rf /)\nSet-CsPersistentChatState -PoolState FailedOver | Out-Null `\r\n# '' \u2019";
    const command = onlyCommand(
      `Set-CsPersistentChatActiveServer -ActiveServers @{Add=${quoteForPowerShell(hostile)}} -Force`,
    );
    expect(command.elements).toEqual([
      { parameter: 'ActiveServers' },
      { value: { Add: hostile } },
      { parameter: 'Force' },
    ]);
  });

  it('round-trip any string quoted with every single-quote character doubled', () => {
    const alphabet = [
      "'",
      '\u2018',
      '\u2019',
      '\u201a',
      '\u201b',
      '"',
      '\u201c',
      '$',
      '(',
      ')',
      '`',
      ';',
      '|',
      '&',
      '\n',
      '\r',
      ' ',
      '#',
      '{',
      '}',
      '@',
      'a',
      '-',
      '\0',
      '\u2013',
    ];
    let seed = 20240601;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let round = 0; round < 500; round++) {
      const value = Array.from(
        { length: Math.floor(random() * 24) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join('');
      expect(onlyCommand(`Get-X -Name ${quoteForPowerShell(value)}`).elements, JSON.stringify(value)).toEqual([
        { parameter: 'Name' },
        { value },
      ]);
    }
  });

  it('close at a typographic quote, as in PowerShell: doubling only the ASCII quote lets the rest run', () => {
    const naive = `'${'pchat-fe1\u2019; Remove-Item -Recurse / #'.replace(/'/g, "''")}'`;
    const statements = statementsOf(`Set-X -Name ${naive}`);
    expect(statements.map((pipeline) => pipeline[0].name)).toEqual(['Set-X', 'Remove-Item']);
    expect(statements[0][0].elements).toEqual([{ parameter: 'Name' }, { value: 'pchat-fe1' }]);
  });

  it('are an error when unterminated, pointing at the opening quote', () => {
    const error = parseError("Set-X -Name 'abc");
    expect(error.errorId).toBe('TerminatorExpectedAtEndOfString');
    expect(error.message).toBe("The string is missing the terminator: '.");
    expect(error.extent.start).toBe(12);
  });
});

describe('double-quoted strings', () => {
  it('apply backtick escapes and "" as one quote', () => {
    expect(onlyCommand('Get-X "a`tb`nc`"d""e``f`$g`u{263A}`0`q"').elements).toEqual([
      { value: 'a\tb\nc"d"e`f$g\u263a\0q' },
    ]);
  });

  it('keep a $ that starts no expansion', () => {
    expect(onlyCommand('Get-X "cost $ 5, end $"').elements).toEqual([{ value: 'cost $ 5, end $' }]);
  });

  it('refuse $(...) instead of passing it on as text', () => {
    const error = parseError('Set-X -Identity "service:$(hostname)"');
    expect(error.errorId).toBe('SubExpressionNotSupported');
    expect(error.message).toMatch(/does not evaluate subexpressions/);
    expect(error.extent.start).toBe('Set-X -Identity "service:'.length);
  });

  it('refuse variables, ${braced} ones included', () => {
    expect(parseError('Get-X "pool $pool"').errorId).toBe('VariableNotSupported');
    expect(parseError('Get-X "pool ${pool name}"').errorId).toBe('VariableNotSupported');
    expect(parseError('Get-X "$env:COMPUTERNAME"').errorId).toBe('VariableNotSupported');
  });

  it('are an error when unterminated or with a broken `u escape', () => {
    expect(parseError('Get-X "abc').message).toBe('The string is missing the terminator: ".');
    expect(parseError('Get-X "a`u{zz}"').errorId).toBe('InvalidUnicodeEscapeSequence');
  });
});

describe('values', () => {
  it('reads bare words as strings and plain decimals as numbers', () => {
    expect(onlyCommand("Get-X FailedOver 5 -1.5 '5' pchat-fe1.sim.local").elements).toEqual([
      { value: 'FailedOver' },
      { value: 5 },
      { value: -1.5 },
      { value: '5' },
      { value: 'pchat-fe1.sim.local' },
    ]);
  });

  it('refuses number forms it would have to interpret (5kb, 0x10, an unquoted IP address)', () => {
    for (const text of ['Get-X 5kb', 'Get-X 0x10', 'Get-X 127.0.0.1'])
      expect(parseError(text).errorId, text).toBe('NumberFormNotSupported');
  });

  it('joins quoted parts of a bare word and applies its backtick escapes, as PowerShell does', () => {
    expect(onlyCommand('Get-X a\'b c\'d x"e f"y g`;h').elements).toEqual([
      { value: 'ab cd' },
      { value: 'xe fy' },
      { value: 'g;h' },
    ]);
  });

  it('reads $null, $Null, $true and $false in any case', () => {
    expect(onlyCommand('Get-X $null $Null $TRUE $false').elements).toEqual([
      { value: null },
      { value: null },
      { value: true },
      { value: false },
    ]);
  });

  it('refuses variables and subexpressions outside quotes', () => {
    expect(parseError('Get-X $servers').errorId).toBe('VariableNotSupported');
    expect(parseError('Get-X $nullish').errorId).toBe('VariableNotSupported');
    expect(parseError('Get-X $(Get-Y)').errorId).toBe('SubExpressionNotSupported');
    expect(parseError('Get-X pchat$(Get-Y)').errorId).toBe('SubExpressionNotSupported');
    expect(parseError('Get-X a$b').errorId).toBe('VariableNotSupported');
  });

  it('reads arrays, with spaces around commas and a newline after one', () => {
    expect(onlyCommand("Get-X 'a','b' -Y 'c' , d,\n  'e'").elements).toEqual([
      { value: ['a', 'b'] },
      { parameter: 'Y' },
      { value: ['c', 'd', 'e'] },
    ]);
    expect(onlyCommand("Get-X -Y:'a','b'").elements).toEqual([{ parameter: 'Y', value: ['a', 'b'] }]);
  });

  it('refuses a trailing comma and a leading one', () => {
    expect(parseError("Get-X 'a',").errorId).toBe('MissingExpressionAfterToken');
    expect(parseError("Get-X 'a', ;").errorId).toBe('MissingExpressionAfterToken');
    expect(parseError("Get-X ,'a'").errorId).toBe('NotSupportedByStandInShell');
  });
});

describe('hashtables', () => {
  it('read @{Add=..}, @{Add=..,..; Remove=..} and @{Replace=..}', () => {
    expect(onlyCommand("Set-X -ActiveServers @{Add='a'}").elements[1]).toEqual({ value: { Add: 'a' } });
    expect(onlyCommand("Set-X -ActiveServers @{Add='a','b'; Remove='c'}").elements[1]).toEqual({
      value: { Add: ['a', 'b'], Remove: 'c' },
    });
    expect(onlyCommand('Set-X @{ Replace = "a" ; }').elements[0]).toEqual({ value: { Replace: 'a' } });
  });

  it('read entries over several lines, quoted keys, numbers, $null and nested hashtables', () => {
    const text = "Set-X @{\n  Add = 'a',\n        'b'\n  'Odd Key' = 1.5\n  Remove = $null; Inner = @{ Depth = 2 }\n}";
    expect(onlyCommand(text).elements).toEqual([
      { value: { Add: ['a', 'b'], 'Odd Key': 1.5, Remove: null, Inner: { Depth: 2 } } },
    ]);
  });

  it('refuse duplicate keys, whatever their case', () => {
    const error = parseError("Set-X @{Add='a'; add='b'}");
    expect(error.errorId).toBe('DuplicateKeyInHashLiteral');
    expect(error.message).toBe("Duplicate keys 'add' are not allowed in hash literals.");
  });

  it('refuse an unquoted value, which PowerShell would run as a command', () => {
    const error = parseError('Set-X @{Add=pchat-fe3.sim.local}');
    expect(error.errorId).toBe('BareWordInExpression');
    expect(error.message).toMatch(/would run it as a command/);
  });

  it('refuse a missing =, a missing value and a missing }', () => {
    expect(parseError("Set-X @{Add 'a'}").errorId).toBe('MissingEqualsInHashLiteral');
    expect(parseError('Set-X @{Add=}').errorId).toBe('MissingStatementInHashLiteral');
    expect(parseError("Set-X @{Add='a'").errorId).toBe('IncompleteHashLiteral');
    expect(parseError("Set-X @{Add='a' Remove='b'}").errorId).toBe('UnexpectedToken');
  });
});

describe('what the stand-in does not evaluate', () => {
  it.each([
    ['a script block', 'Get-X { Remove-Item / }', 'NotSupportedByStandInShell'],
    ['a parenthesised expression', 'Get-X (Get-Y)', 'NotSupportedByStandInShell'],
    ['an array subexpression', 'Get-X @(1)', 'NotSupportedByStandInShell'],
    ['splatting', 'Get-X @arguments', 'NotSupportedByStandInShell'],
    ['a here-string', "Get-X @'\nx\n'@", 'NotSupportedByStandInShell'],
    ['a type literal', 'Get-X [int]5', 'NotSupportedByStandInShell'],
    ['output redirection', 'Get-X > out.txt', 'NotSupportedByStandInShell'],
    ['stream redirection', 'Get-X 2>&1', 'NotSupportedByStandInShell'],
    ['input redirection', 'Get-X < in.txt', 'RedirectionNotSupported'],
    ['the call operator', "& 'Get-X'", 'NotSupportedByStandInShell'],
    ['a background job', 'Get-X &', 'NotSupportedByStandInShell'],
    ['&& chains', 'Get-X && Get-Y', 'NotSupportedByStandInShell'],
    ['|| chains', 'Get-X || Get-Y', 'NotSupportedByStandInShell'],
    ['dot-sourcing', '. ./script.ps1', 'NotSupportedByStandInShell'],
    ['stop-parsing', 'Get-X --% a b', 'NotSupportedByStandInShell'],
    ['an assignment', "$ErrorActionPreference = 'Stop'", 'VariableNotSupported'],
    ['an expression statement', "'text' | Out-File x", 'ExpressionStatementNotSupported'],
    ['a member access', 'Get-X $null.Length', 'UnexpectedToken'],
    ['adjacent tokens', "Get-X 'a'b", 'UnexpectedToken'],
    ['a stray closing brace', 'Get-X }', 'UnexpectedToken'],
    ['an empty pipe element', 'Get-X |', 'EmptyPipeElement'],
    ['a leading pipe', '| Get-X', 'EmptyPipeElement'],
    ['a parameter without its attached argument', 'Get-X -Name:', 'ParameterRequiresArgument'],
  ])('refuses %s', (_what, text, errorId) => {
    expect(parseError(text).errorId).toBe(errorId);
  });

  it('reads a quote inside a parameter token as a value, as PowerShell does', () => {
    expect(onlyCommand("Get-X -a'b'").elements).toEqual([{ value: '-ab' }]);
  });

  it('reads a lone dash and a negative number as values, not parameters', () => {
    expect(onlyCommand('Get-X - -5').elements).toEqual([{ value: '-' }, { value: -5 }]);
  });
});

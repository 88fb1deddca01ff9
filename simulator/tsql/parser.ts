/**
 * Recursive-descent parser for the simulator's T-SQL subset (see ast.ts). Like SQL Server it parses the whole batch
 * before running any of it, so a syntax error anywhere means nothing runs. Anything outside the subset is refused
 * with error 102 naming the text, never silently accepted.
 */
import type { SqlType } from '../tds/session';
import { errors, SqlError } from '../engine/errors';
import type {
  AlterDatabaseAction,
  BackupOptions,
  BinaryOperator,
  ExecuteArgument,
  Expression,
  Join,
  NameOrVariable,
  RestoreOptions,
  Select,
  Statement,
  StatementBody,
  TableReference,
} from './ast';
import { tokenize, type Token } from './lexer';

/** Words that end an expression or a name list: they can be aliases only when quoted. */
const RESERVED = new Set(
  (
    'ADD ALL ALTER AND ANY AS ASC BACKUP BEGIN BETWEEN BREAK BY CASE CAST CHECK CLOSE COMMIT CONVERT CREATE CROSS ' +
    'DATABASE DEALLOCATE DECLARE DEFAULT DELETE DESC DISK DISTINCT DROP ELSE END EXCEPT EXEC EXECUTE EXISTS FETCH FOR ' +
    'FROM FULL GO GOTO GROUP HAVING IF IN INNER INSERT INTERSECT INTO IS JOIN KILL LEFT LIKE MERGE NOT NULL OF ON OPEN ' +
    'OR ORDER OUTER PRINT RESTORE RETURN RIGHT ROLLBACK SELECT SET THEN TO TOP TRAN TRANSACTION TRUNCATE UNION UPDATE ' +
    'USE VALUES WAITFOR WHEN WHERE WHILE WITH'
  ).split(' '),
);

/** SET options SQL Server clients send at connect time; accepted and ignored by the simulator. */
const SESSION_OPTIONS = new Set([
  'ANSI_NULLS',
  'ANSI_NULL_DFLT_ON',
  'ANSI_PADDING',
  'ANSI_WARNINGS',
  'ARITHABORT',
  'CONCAT_NULL_YIELDS_NULL',
  'IMPLICIT_TRANSACTIONS',
  'NUMERIC_ROUNDABORT',
  'QUOTED_IDENTIFIER',
  'NOCOUNT',
  'XACT_ABORT',
  'ARITHIGNORE',
  'CURSOR_CLOSE_ON_COMMIT',
  'ANSI_DEFAULTS',
  'FMTONLY',
  'NOEXEC',
  'PARSEONLY',
  'STATISTICS',
  'DATEFIRST',
  'DATEFORMAT',
  'LANGUAGE',
  'TEXTSIZE',
  'LOCK_TIMEOUT',
  'DEADLOCK_PRIORITY',
  'TRANSACTION',
]);

export function parseBatch(sql: string): readonly Statement[] {
  return remembered(parsedBatches, sql, () => new Parser(sql).batch());
}

export interface ParameterDeclaration {
  name: string;
  type: SqlType;
  output: boolean;
}

/** sp_executesql's @params: `@db nvarchar(128), @n int OUTPUT`. */
export function parseParameterDeclarations(text: string): readonly ParameterDeclaration[] {
  return remembered(parsedDeclarations, text, () => new Parser(text).parameterDeclarations());
}

/**
 * Clients send the same few statements over and over (every mssql query is sp_executesql with the same text), so
 * parse results are kept, by text, like SQL Server's plan cache. Nothing changes a parsed tree after parsing; a
 * batch that does not parse is parsed (and refused) again each time.
 */
const PARSE_CACHE_SIZE = 2000;
const parsedBatches = new Map<string, readonly Statement[]>();
const parsedDeclarations = new Map<string, readonly ParameterDeclaration[]>();

function remembered<T>(cache: Map<string, T>, text: string, parse: () => T): T {
  let parsed = cache.get(text);
  if (parsed === undefined) {
    parsed = parse();
    if (cache.size >= PARSE_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(text, parsed);
  }
  return parsed;
}

class Parser {
  private readonly tokens: Token[];
  private position = 0;

  constructor(private readonly sql: string) {
    this.tokens = tokenize(sql);
  }

  batch(): Statement[] {
    const statements: Statement[] = [];
    for (;;) {
      while (this.acceptOperator(';'));
      if (this.peek().kind === 'end') return statements;
      const start = this.peek();
      const body = this.statement(statements.length === 0);
      const end = this.tokens[this.position - 1];
      const text = this.sql.slice(start.offset, end.end).trim();
      statements.push({ ...body, line: start.line, text });
      const next = this.peek();
      if (next.kind !== 'end' && !this.isOperator(next, ';') && !this.startsStatement(next))
        throw this.syntaxError(next);
    }
  }

  parameterDeclarations(): ParameterDeclaration[] {
    const declarations: ParameterDeclaration[] = [];
    if (this.peek().kind === 'end') return declarations;
    do {
      const name = this.expect('variable').text;
      this.acceptWord('AS');
      const type = this.dataType();
      const output = this.acceptWord('OUTPUT') || this.acceptWord('OUT');
      declarations.push({ name, type, output });
    } while (this.acceptOperator(','));
    if (this.peek().kind !== 'end') throw this.syntaxError(this.peek());
    return declarations;
  }

  // ---------------------------------------------------------------- statements

  private statement(firstInBatch: boolean): StatementBody {
    const token = this.peek();
    const word = token.kind === 'identifier' ? token.text.toUpperCase() : '';
    switch (word) {
      case 'USE':
        this.next();
        return { kind: 'use', database: this.name() };
      case 'SELECT':
        return { kind: 'select', select: this.select() };
      case 'SET':
        return this.set();
      case 'DECLARE':
        return this.declare();
      case 'ALTER':
        return this.alterDatabase();
      case 'CREATE': {
        this.next();
        if (!this.acceptWord('DATABASE')) throw this.unsupported(token);
        return { kind: 'createDatabase', database: this.name() };
      }
      case 'DROP':
        return this.dropDatabase();
      case 'BACKUP':
        return this.backup();
      case 'RESTORE':
        return this.restore();
      case 'EXEC':
      case 'EXECUTE':
        this.next();
        return this.execute();
      case 'KILL':
        this.next();
        return { kind: 'kill', spid: this.expression() };
      case 'WAITFOR':
        this.next();
        this.expectWord('DELAY');
        return { kind: 'waitfor', delay: this.expression() };
      case 'PRINT':
        this.next();
        return { kind: 'print', value: this.expression() };
      default:
        // A procedure name alone is a call when it is the first statement of a batch (`sp_who2`).
        if (firstInBatch && (token.kind === 'identifier' || token.kind === 'quotedIdentifier') && !RESERVED.has(word)) {
          return this.execute();
        }
        throw this.unsupported(token);
    }
  }

  private set(): StatementBody {
    this.expectWord('SET');
    const target = this.peek();
    if (target.kind === 'variable') {
      this.next();
      this.expectOperator('=');
      return { kind: 'setVariable', variable: target.text, value: this.expression() };
    }
    const option = this.word();
    if (!SESSION_OPTIONS.has(option)) throw this.unsupported(target);
    // The option's value runs to the end of the statement: ON | OFF | a number | a word | ISOLATION LEVEL ...
    while (this.peek().kind !== 'end' && !this.isOperator(this.peek(), ';') && !this.startsStatement(this.peek()))
      this.next();
    return { kind: 'setOption', option };
  }

  private declare(): StatementBody {
    this.expectWord('DECLARE');
    const variables: { name: string; type: SqlType; initial?: Expression }[] = [];
    do {
      const variable = this.expect('variable');
      this.acceptWord('AS');
      const type = this.dataType();
      const initial = this.acceptOperator('=') ? this.expression() : undefined;
      variables.push({ name: variable.text, type, ...(initial ? { initial } : {}) });
    } while (this.acceptOperator(','));
    return { kind: 'declare', variables };
  }

  private alterDatabase(): StatementBody {
    this.expectWord('ALTER');
    const what = this.peek();
    if (!this.acceptWord('DATABASE')) throw this.unsupported(what);
    const database = this.name();
    this.expectWord('SET');
    const optionToken = this.peek();
    const option = this.word();
    let action: AlterDatabaseAction;
    if (option === 'PARTNER') {
      if (this.acceptOperator('=')) {
        action = { kind: 'partnerAddress', address: this.stringLiteral() };
      } else {
        const sub = this.word();
        if (sub === 'SAFETY') {
          const safety = this.word();
          if (safety !== 'FULL' && safety !== 'OFF') throw this.syntaxError(this.tokens[this.position - 1]);
          action = { kind: 'partnerSafety', safety };
        } else if (sub === 'TIMEOUT') {
          action = { kind: 'partnerTimeout', seconds: Number(this.expect('number').text) };
        } else if (['FAILOVER', 'FORCE_SERVICE_ALLOW_DATA_LOSS', 'OFF', 'RESUME', 'SUSPEND'].includes(sub)) {
          action = { kind: 'partner', option: sub as 'FAILOVER' };
        } else throw this.syntaxError(this.tokens[this.position - 1]);
      }
    } else if (option === 'WITNESS') {
      const sub = this.peek();
      if (!this.acceptWord('OFF')) throw this.unsupported(sub);
      action = { kind: 'witnessOff' };
    } else if (option === 'SINGLE_USER' || option === 'MULTI_USER' || option === 'RESTRICTED_USER') {
      action = { kind: 'userAccess', mode: option, rollbackImmediate: this.terminationClause() };
    } else if (option === 'ONLINE' || option === 'OFFLINE') {
      action = { kind: 'state', state: option, rollbackImmediate: this.terminationClause() };
    } else if (option === 'RECOVERY') {
      const model = this.word();
      if (model !== 'FULL' && model !== 'SIMPLE' && model !== 'BULK_LOGGED')
        throw this.syntaxError(this.tokens[this.position - 1]);
      action = { kind: 'recoveryModel', model };
    } else throw this.unsupported(optionToken);
    return { kind: 'alterDatabase', database, action };
  }

  /** `WITH ROLLBACK IMMEDIATE` (true) or `WITH NO_WAIT` / nothing (false). */
  private terminationClause(): boolean {
    if (!this.acceptWord('WITH')) return false;
    const word = this.word();
    if (word === 'NO_WAIT') return false;
    if (word !== 'ROLLBACK') throw this.syntaxError(this.tokens[this.position - 1]);
    const how = this.word();
    if (how !== 'IMMEDIATE') throw this.unsupported(this.tokens[this.position - 1]);
    return true;
  }

  private dropDatabase(): StatementBody {
    this.expectWord('DROP');
    if (!this.acceptWord('DATABASE')) throw this.unsupported(this.tokens[this.position - 1]);
    if (this.peekWord('IF')) {
      this.next();
      this.expectWord('EXISTS');
    }
    const databases = [this.name()];
    while (this.acceptOperator(',')) databases.push(this.name());
    return { kind: 'dropDatabase', databases };
  }

  private backup(): StatementBody {
    this.expectWord('BACKUP');
    const targetToken = this.peek();
    const target = this.word();
    if (target !== 'DATABASE' && target !== 'LOG') throw this.unsupported(targetToken);
    const database = this.nameOrVariable();
    this.expectWord('TO');
    const devices = this.devices();
    if (devices.length > 1) throw this.unsupported(targetToken, 'a backup striped over several files');
    const options: BackupOptions = {};
    if (this.acceptWord('WITH')) {
      do {
        const optionToken = this.peek();
        const option = this.word();
        switch (option) {
          case 'INIT':
            options.init = true;
            break;
          case 'NOINIT':
            options.init = false;
            break;
          case 'FORMAT':
            options.format = true;
            options.init = true;
            break;
          case 'NOFORMAT':
            options.format = false;
            break;
          case 'CHECKSUM':
            options.checksum = true;
            break;
          case 'NO_CHECKSUM':
            options.checksum = false;
            break;
          case 'COPY_ONLY':
            options.copyOnly = true;
            break;
          case 'NORECOVERY':
            options.norecovery = true;
            break;
          case 'COMPRESSION':
            options.compression = true;
            break;
          case 'NO_COMPRESSION':
            options.compression = false;
            break;
          case 'NO_TRUNCATE':
            options.noTruncate = true;
            break;
          case 'DIFFERENTIAL':
            throw this.unsupported(optionToken, 'differential backups');
          case 'SKIP':
          case 'NOSKIP':
          case 'REWIND':
          case 'NOREWIND':
          case 'UNLOAD':
          case 'NOUNLOAD':
            break;
          case 'NAME':
            this.expectOperator('=');
            options.name = this.expression();
            break;
          case 'DESCRIPTION':
            this.expectOperator('=');
            options.description = this.expression();
            break;
          case 'STATS':
            options.stats = this.acceptOperator('=') ? Number(this.expect('number').text) : 10;
            break;
          default:
            throw this.unsupported(optionToken);
        }
      } while (this.acceptOperator(','));
    }
    return { kind: 'backup', target, database, devices, options };
  }

  private restore(): StatementBody {
    this.expectWord('RESTORE');
    const targetToken = this.peek();
    const target = this.word();
    if (target === 'HEADERONLY' || target === 'FILELISTONLY' || target === 'VERIFYONLY') {
      this.expectWord('FROM');
      const devices = this.devices();
      if (devices.length > 1) throw this.unsupported(targetToken, 'reading several backup files at once');
      let file: Expression | undefined;
      let loadHistory = false;
      if (this.acceptWord('WITH')) {
        do {
          const optionToken = this.peek();
          const option = this.word();
          if (option === 'FILE') {
            this.expectOperator('=');
            file = this.expression();
          } else if (option === 'LOADHISTORY' && target === 'VERIFYONLY') {
            loadHistory = true;
          } else if (option === 'STATS') {
            if (this.acceptOperator('=')) this.expect('number');
          } else if (
            !['NOUNLOAD', 'UNLOAD', 'CHECKSUM', 'NO_CHECKSUM', 'CONTINUE_AFTER_ERROR', 'STOP_ON_ERROR'].includes(option)
          )
            throw this.unsupported(optionToken);
        } while (this.acceptOperator(','));
      }
      return { kind: 'restoreInfo', what: target, devices, ...(file ? { file } : {}), loadHistory };
    }
    if (target !== 'DATABASE' && target !== 'LOG') throw this.unsupported(targetToken);
    const database = this.nameOrVariable();
    const devices = this.acceptWord('FROM') ? this.devices() : [];
    if (devices.length > 1) throw this.unsupported(targetToken, 'a restore from several files');
    const options: RestoreOptions = { move: [] };
    if (this.acceptWord('WITH')) {
      do {
        const optionToken = this.peek();
        const option = this.word();
        switch (option) {
          case 'RECOVERY':
          case 'NORECOVERY':
            options.recovery = option;
            break;
          case 'STANDBY':
            this.expectOperator('=');
            options.recovery = 'STANDBY';
            options.standbyFile = this.expression();
            break;
          case 'REPLACE':
            options.replace = true;
            break;
          case 'MOVE': {
            const logicalName = this.expression();
            this.expectWord('TO');
            options.move.push({ logicalName, to: this.expression() });
            break;
          }
          case 'FILE':
            this.expectOperator('=');
            options.file = this.expression();
            break;
          case 'CHECKSUM':
            options.checksum = true;
            break;
          case 'NO_CHECKSUM':
            options.checksum = false;
            break;
          case 'STATS':
            options.stats = this.acceptOperator('=') ? Number(this.expect('number').text) : 10;
            break;
          case 'STOPAT':
          case 'STOPATMARK':
          case 'STOPBEFOREMARK':
            throw this.unsupported(optionToken, 'point-in-time restore');
          case 'RESTRICTED_USER':
            options.restrictedUser = true;
            break;
          case 'NOUNLOAD':
          case 'UNLOAD':
          case 'REWIND':
          case 'NOREWIND':
          case 'KEEP_REPLICATION':
            break;
          default:
            throw this.unsupported(optionToken);
        }
      } while (this.acceptOperator(','));
    }
    return { kind: 'restore', target, database, devices, options };
  }

  /** `DISK = expr [, DISK = expr]...` */
  private devices(): Expression[] {
    const devices: Expression[] = [];
    do {
      const kind = this.peek();
      if (!this.acceptWord('DISK')) throw this.unsupported(kind);
      this.expectOperator('=');
      devices.push(this.expression());
    } while (this.acceptOperator(','));
    return devices;
  }

  private execute(): StatementBody {
    let returnVariable: string | undefined;
    if (this.peek().kind === 'variable' && this.isOperator(this.tokens[this.position + 1], '=')) {
      returnVariable = this.next().text;
      this.next();
    }
    const start = this.peek();
    if (start.kind === 'variable' || this.isOperator(start, '(')) throw this.unsupported(start);
    const procedure = this.multipartName().join('.');
    const args: ExecuteArgument[] = [];
    if (this.peek().kind !== 'end' && !this.isOperator(this.peek(), ';') && !this.startsStatement(this.peek())) {
      do {
        let name: string | undefined;
        if (this.peek().kind === 'variable' && this.isOperator(this.tokens[this.position + 1], '=')) {
          name = this.next().text;
          this.next();
        }
        let value: Expression;
        let isDefault = false;
        const token = this.peek();
        if (token.kind === 'identifier' && token.text.toUpperCase() === 'DEFAULT') {
          this.next();
          isDefault = true;
          value = { kind: 'literal', value: null, type: { kind: 'nvarchar', length: 4000 } };
        } else if (
          (token.kind === 'identifier' || token.kind === 'quotedIdentifier') &&
          token.text.toUpperCase() !== 'NULL'
        ) {
          // EXEC arguments may be bare words: `exec sp_delete_log_shipping_secondary_database mgc` (Microsoft's text).
          this.next();
          value = {
            kind: 'literal',
            value: token.text,
            type: { kind: 'nvarchar', length: Math.max(token.text.length, 1) },
          };
        } else {
          value = this.expression();
        }
        const output = this.acceptWord('OUTPUT') || this.acceptWord('OUT');
        args.push({ ...(name ? { name } : {}), value, output, ...(isDefault ? { isDefault } : {}) });
      } while (this.acceptOperator(','));
    }
    return { kind: 'execute', procedure, arguments: args, ...(returnVariable ? { returnVariable } : {}) };
  }

  // ---------------------------------------------------------------- SELECT

  private select(): Select {
    this.expectWord('SELECT');
    const distinct = this.acceptWord('DISTINCT');
    this.acceptWord('ALL');
    let top: Expression | undefined;
    if (this.acceptWord('TOP')) {
      if (this.acceptOperator('(')) {
        top = this.expression();
        this.expectOperator(')');
      } else top = this.primary();
    }
    const items: Select['items'] = [];
    do items.push(this.selectItem());
    while (this.acceptOperator(','));

    let from: TableReference | undefined;
    const joins: Join[] = [];
    if (this.acceptWord('FROM')) {
      from = this.tableReference();
      for (;;) {
        let type: 'INNER' | 'LEFT' | undefined;
        if (this.acceptWord('JOIN')) type = 'INNER';
        else if (this.peekWord('INNER')) {
          this.next();
          this.expectWord('JOIN');
          type = 'INNER';
        } else if (this.peekWord('LEFT')) {
          this.next();
          this.acceptWord('OUTER');
          this.expectWord('JOIN');
          type = 'LEFT';
        } else if (this.peekWord('RIGHT') || this.peekWord('FULL') || this.peekWord('CROSS'))
          throw this.unsupported(this.peek());
        else if (this.isOperator(this.peek(), ',')) throw this.unsupported(this.peek());
        if (!type) break;
        const table = this.tableReference();
        this.expectWord('ON');
        joins.push({ type, table, on: this.expression() });
      }
    }
    const where = this.acceptWord('WHERE') ? this.expression() : undefined;
    for (const word of ['GROUP', 'HAVING', 'UNION', 'EXCEPT', 'INTERSECT', 'INTO', 'FOR', 'OPTION']) {
      if (this.peekWord(word)) throw this.unsupported(this.peek());
    }
    const orderBy: Select['orderBy'] = [];
    if (this.acceptWord('ORDER')) {
      this.expectWord('BY');
      do {
        const value = this.expression();
        const descending = this.acceptWord('DESC');
        if (!descending) this.acceptWord('ASC');
        orderBy.push({ value, descending });
      } while (this.acceptOperator(','));
    }
    return {
      ...(top ? { top } : {}),
      distinct,
      items,
      ...(from ? { from } : {}),
      joins,
      ...(where ? { where } : {}),
      orderBy,
    };
  }

  private selectItem(): Select['items'][number] {
    const token = this.peek();
    // SELECT @x = expr
    if (token.kind === 'variable' && this.isOperator(this.tokens[this.position + 1], '=')) {
      this.next();
      this.next();
      return { value: this.expression(), assignTo: token.text };
    }
    // SELECT alias = expr
    if (
      (token.kind === 'identifier' || token.kind === 'quotedIdentifier') &&
      this.isOperator(this.tokens[this.position + 1], '=') &&
      !RESERVED.has(token.text.toUpperCase())
    ) {
      this.next();
      this.next();
      return { value: this.expression(), alias: token.text };
    }
    if (this.isOperator(token, '*')) {
      this.next();
      return { value: { kind: 'star' } };
    }
    const value = this.expression();
    const alias = this.alias();
    return { value, ...(alias ? { alias } : {}) };
  }

  /** `[AS] name`, `[AS] [name]`, `[AS] 'name'`. */
  private alias(): string | undefined {
    const explicit = this.acceptWord('AS');
    const token = this.peek();
    if (token.kind === 'quotedIdentifier' || (token.kind === 'string' && explicit)) {
      this.next();
      return token.text;
    }
    if (token.kind === 'string' && !explicit) {
      this.next();
      return token.text;
    }
    if (token.kind === 'identifier' && !RESERVED.has(token.text.toUpperCase())) {
      this.next();
      return token.text;
    }
    if (explicit) throw this.syntaxError(token);
    return undefined;
  }

  private tableReference(): TableReference {
    const start = this.peek();
    if (this.isOperator(start, '(')) throw this.unsupported(start);
    const parts = this.multipartName();
    // Table hints: WITH (NOLOCK) and friends change nothing in the simulator.
    if (this.peekWord('WITH') && this.isOperator(this.tokens[this.position + 1], '(')) {
      this.next();
      this.next();
      while (!this.isOperator(this.peek(), ')')) {
        if (this.peek().kind === 'end') throw this.syntaxError(this.peek());
        this.next();
      }
      this.next();
    }
    const alias = this.alias();
    return { parts, ...(alias ? { alias } : {}) };
  }

  // ---------------------------------------------------------------- expressions

  expression(): Expression {
    return this.or();
  }

  private or(): Expression {
    let left = this.and();
    while (this.acceptWord('OR')) left = { kind: 'binary', operator: 'OR', left, right: this.and() };
    return left;
  }

  private and(): Expression {
    let left = this.not();
    while (this.acceptWord('AND')) left = { kind: 'binary', operator: 'AND', left, right: this.not() };
    return left;
  }

  private not(): Expression {
    if (this.acceptWord('NOT')) return { kind: 'not', value: this.not() };
    return this.comparison();
  }

  private comparison(): Expression {
    const left = this.additive();
    const token = this.peek();
    if (token.kind === 'operator' && ['=', '<>', '!=', '<', '>', '<=', '>=', '!<', '!>'].includes(token.text)) {
      this.next();
      const operator =
        ({ '!=': '<>', '!<': '>=', '!>': '<=' } as Record<string, BinaryOperator>)[token.text] ??
        (token.text as BinaryOperator);
      return { kind: 'binary', operator, left, right: this.additive() };
    }
    if (this.acceptWord('IS')) {
      const negated = this.acceptWord('NOT');
      this.expectWord('NULL');
      return { kind: 'isNull', value: left, negated };
    }
    const negated =
      this.peekWord('NOT') && (this.peekWord('IN', 1) || this.peekWord('LIKE', 1) || this.peekWord('BETWEEN', 1));
    if (negated) this.next();
    if (this.acceptWord('IN')) {
      this.expectOperator('(');
      if (this.peekWord('SELECT')) throw this.unsupported(this.peek());
      const list = [this.expression()];
      while (this.acceptOperator(',')) list.push(this.expression());
      this.expectOperator(')');
      return { kind: 'in', value: left, list, negated };
    }
    if (this.acceptWord('LIKE')) return { kind: 'like', value: left, pattern: this.additive(), negated };
    if (this.acceptWord('BETWEEN')) {
      const low = this.additive();
      this.expectWord('AND');
      const high = this.additive();
      const between: Expression = {
        kind: 'binary',
        operator: 'AND',
        left: { kind: 'binary', operator: '>=', left, right: low },
        right: { kind: 'binary', operator: '<=', left, right: high },
      };
      return negated ? { kind: 'not', value: between } : between;
    }
    return left;
  }

  private additive(): Expression {
    let left = this.multiplicative();
    for (;;) {
      const token = this.peek();
      if (!this.isOperator(token, '+') && !this.isOperator(token, '-')) return left;
      this.next();
      left = { kind: 'binary', operator: token.text as BinaryOperator, left, right: this.multiplicative() };
    }
  }

  private multiplicative(): Expression {
    let left = this.unary();
    for (;;) {
      const token = this.peek();
      if (!['*', '/', '%'].some((operator) => this.isOperator(token, operator))) return left;
      this.next();
      left = { kind: 'binary', operator: token.text as BinaryOperator, left, right: this.unary() };
    }
  }

  private unary(): Expression {
    if (this.acceptOperator('-')) return { kind: 'negate', value: this.unary() };
    if (this.acceptOperator('+')) return this.unary();
    return this.primary();
  }

  private primary(): Expression {
    const token = this.next();
    switch (token.kind) {
      case 'number':
        return numberLiteral(token.text);
      case 'string':
        return {
          kind: 'literal',
          value: token.text,
          type: token.unicode
            ? { kind: 'nvarchar', length: Math.max(token.text.length, 1) }
            : { kind: 'varchar', length: Math.max(token.text.length, 1) },
        };
      case 'binary':
        return {
          kind: 'literal',
          value: Buffer.from(token.text.slice(2), 'hex'),
          type: { kind: 'varbinary', length: Math.max((token.text.length - 2) / 2, 1) },
        };
      case 'variable':
        return { kind: 'variable', name: token.text };
      case 'global':
        return { kind: 'global', name: token.text.toUpperCase() };
      case 'operator':
        if (token.text === '(') {
          if (this.peekWord('SELECT')) throw this.unsupported(this.peek());
          const inner = this.expression();
          this.expectOperator(')');
          return inner;
        }
        throw this.syntaxError(token);
      case 'identifier':
      case 'quotedIdentifier':
        return this.nameExpression(token);
      default:
        throw this.syntaxError(token);
    }
  }

  private nameExpression(token: Token): Expression {
    const upper = token.kind === 'identifier' ? token.text.toUpperCase() : '';
    if (upper === 'NULL') return { kind: 'literal', value: null, type: { kind: 'int' } };
    if (upper === 'CASE') return this.caseExpression();
    if (upper === 'CAST' && this.acceptOperator('(')) {
      const value = this.expression();
      this.expectWord('AS');
      const type = this.dataType();
      this.expectOperator(')');
      return { kind: 'cast', value, type };
    }
    if ((upper === 'CONVERT' || upper === 'TRY_CONVERT') && this.acceptOperator('(')) {
      const type = this.dataType();
      this.expectOperator(',');
      const value = this.expression();
      if (this.acceptOperator(',')) this.expression(); // style: formats dates; the simulator uses ISO style
      this.expectOperator(')');
      return { kind: 'cast', value, type };
    }
    if (token.kind === 'identifier' && RESERVED.has(upper)) throw this.syntaxError(token, true);
    if (this.isOperator(this.peek(), '(')) {
      this.next();
      const args: Expression[] = [];
      let star = false;
      if (this.acceptOperator('*')) star = true;
      else if (!this.isOperator(this.peek(), ')')) {
        if (this.peekWord('DISTINCT')) throw this.unsupported(this.peek());
        do args.push(this.functionArgument(upper, args.length));
        while (this.acceptOperator(','));
      }
      this.expectOperator(')');
      return { kind: 'call', name: upper, args, ...(star ? { star } : {}) };
    }
    // Column reference: name, table.name, or table.*
    const parts = [token.text];
    while (this.isOperator(this.peek(), '.')) {
      this.next();
      if (this.acceptOperator('*')) return { kind: 'star', table: parts.join('.') };
      const part = this.next();
      if (part.kind !== 'identifier' && part.kind !== 'quotedIdentifier') throw this.syntaxError(part);
      parts.push(part.text);
    }
    const name = parts.pop()!;
    return { kind: 'column', name, ...(parts.length ? { table: parts[parts.length - 1] } : {}) };
  }

  /** DATEDIFF(minute, a, b): the first argument is a date part written as a bare word. */
  private functionArgument(functionName: string, index: number): Expression {
    if (
      (functionName === 'DATEDIFF' || functionName === 'DATEADD') &&
      index === 0 &&
      this.peek().kind === 'identifier'
    ) {
      const part = this.next().text.toLowerCase();
      return { kind: 'literal', value: part, type: { kind: 'varchar', length: part.length } };
    }
    return this.expression();
  }

  private caseExpression(): Expression {
    const branches: { when: Expression; then: Expression }[] = [];
    const subject = this.peekWord('WHEN') ? undefined : this.expression();
    while (this.acceptWord('WHEN')) {
      const condition = this.expression();
      this.expectWord('THEN');
      const when: Expression = subject ? { kind: 'binary', operator: '=', left: subject, right: condition } : condition;
      branches.push({ when, then: this.expression() });
    }
    if (branches.length === 0) throw this.syntaxError(this.peek());
    const otherwise = this.acceptWord('ELSE') ? this.expression() : undefined;
    this.expectWord('END');
    return { kind: 'case', branches, ...(otherwise ? { otherwise } : {}) };
  }

  // ---------------------------------------------------------------- names and types

  dataType(): SqlType {
    const token = this.next();
    if (token.kind !== 'identifier' && token.kind !== 'quotedIdentifier') throw this.syntaxError(token);
    const name = token.text.toLowerCase();
    const size = (): number | 'max' | undefined => {
      if (!this.acceptOperator('(')) return undefined;
      const value = this.acceptWord('MAX') ? 'max' : Number(this.expect('number').text);
      this.expectOperator(')');
      return value;
    };
    switch (name) {
      case 'int':
      case 'integer':
        return { kind: 'int' };
      case 'bigint':
        return { kind: 'bigint' };
      case 'smallint':
        return { kind: 'smallint' };
      case 'tinyint':
        return { kind: 'tinyint' };
      case 'bit':
        return { kind: 'bit' };
      case 'float':
      case 'real':
        size();
        return { kind: 'float' };
      case 'nvarchar':
      case 'nchar':
        return { kind: 'nvarchar', length: size() ?? 30 };
      case 'varchar':
      case 'char':
        return { kind: 'varchar', length: size() ?? 30 };
      case 'sysname':
        return { kind: 'nvarchar', length: 128 };
      case 'datetime':
      case 'smalldatetime':
        return { kind: 'datetime' };
      case 'datetime2': {
        const scale = size();
        return { kind: 'datetime2', scale: typeof scale === 'number' ? scale : 7 };
      }
      case 'uniqueidentifier':
        return { kind: 'uniqueidentifier' };
      case 'varbinary':
      case 'binary':
        return { kind: 'varbinary', length: size() ?? 30 };
      case 'numeric':
      case 'decimal': {
        let precision = 18;
        let scale = 0;
        if (this.acceptOperator('(')) {
          precision = Number(this.expect('number').text);
          if (this.acceptOperator(',')) scale = Number(this.expect('number').text);
          this.expectOperator(')');
        }
        return { kind: 'numeric', precision, scale };
      }
      default:
        throw errors.unsupported(token.text, `data type ${token.text}`, token.line);
    }
  }

  /** A one-part name: a database, an alias. */
  private name(): string {
    const token = this.next();
    if (token.kind === 'quotedIdentifier') return token.text;
    if (token.kind === 'identifier' && !RESERVED.has(token.text.toUpperCase())) return token.text;
    throw this.syntaxError(token, token.kind === 'identifier');
  }

  private nameOrVariable(): NameOrVariable {
    if (this.peek().kind === 'variable') return { variable: this.next().text };
    return { name: this.name() };
  }

  /** db.schema.object, db..object, schema.object or object; empty middle parts are kept as ''. */
  private multipartName(): string[] {
    const parts: string[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === 'identifier' || token.kind === 'quotedIdentifier') {
        this.next();
        parts.push(token.text);
      } else if (this.isOperator(token, '.') && parts.length > 0) {
        parts.push('');
      } else throw this.syntaxError(token);
      if (!this.isOperator(this.peek(), '.')) return parts;
      this.next();
      if (this.isOperator(this.peek(), '.')) {
        parts.push('');
        this.next();
      }
    }
  }

  private stringLiteral(): string {
    const token = this.next();
    if (token.kind !== 'string') throw this.syntaxError(token);
    return token.text;
  }

  // ---------------------------------------------------------------- token helpers

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.position + ahead, this.tokens.length - 1)];
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.position++;
    return token;
  }

  private isOperator(token: Token | undefined, operator: string): boolean {
    return token?.kind === 'operator' && token.text === operator;
  }

  private peekWord(word: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === 'identifier' && token.text.toUpperCase() === word;
  }

  private acceptWord(word: string): boolean {
    if (!this.peekWord(word)) return false;
    this.next();
    return true;
  }

  private expectWord(word: string): void {
    if (!this.acceptWord(word)) throw this.syntaxError(this.peek());
  }

  /** The next token as an upper-case word (keywords and options). */
  private word(): string {
    const token = this.next();
    if (token.kind !== 'identifier') throw this.syntaxError(token);
    return token.text.toUpperCase();
  }

  private acceptOperator(operator: string): boolean {
    if (!this.isOperator(this.peek(), operator)) return false;
    this.next();
    return true;
  }

  private expectOperator(operator: string): void {
    if (!this.acceptOperator(operator)) throw this.syntaxError(this.peek());
  }

  private expect(kind: Token['kind']): Token {
    const token = this.next();
    if (token.kind !== kind) throw this.syntaxError(token);
    return token;
  }

  private startsStatement(token: Token): boolean {
    return (
      token.kind === 'identifier' &&
      [
        'USE',
        'SELECT',
        'SET',
        'DECLARE',
        'ALTER',
        'CREATE',
        'DROP',
        'BACKUP',
        'RESTORE',
        'EXEC',
        'EXECUTE',
        'KILL',
        'WAITFOR',
        'PRINT',
        'INSERT',
        'UPDATE',
        'DELETE',
        'MERGE',
        'IF',
        'WHILE',
        'BEGIN',
        'COMMIT',
        'ROLLBACK',
        'TRUNCATE',
        'RETURN',
        'GO',
      ].includes(token.text.toUpperCase())
    );
  }

  private syntaxError(token: Token, keyword = false): SqlError {
    if (token.kind === 'end') return errors.incorrectSyntax(this.sql.trim().split(/\s+/).pop() ?? '', token.line);
    if (keyword || (token.kind === 'identifier' && RESERVED.has(token.text.toUpperCase())))
      return errors.incorrectSyntaxKeyword(token.text.toUpperCase(), token.line);
    return errors.incorrectSyntax(token.text, token.line);
  }

  /** Refuses a statement or clause outside the subset, quoting the statement from that token on (or naming the feature). */
  private unsupported(token: Token, feature?: string): SqlError {
    if (token.kind === 'end') return this.syntaxError(token);
    const rest = this.sql
      .slice(token.offset)
      .split(/;|\r?\n\s*\r?\n/)[0]
      .replace(/\s+/g, ' ')
      .trim();
    const quoted = rest.length > 80 ? `${rest.slice(0, 77)}...` : rest;
    return errors.unsupported(token.text, feature ?? quoted, token.line);
  }
}

function numberLiteral(text: string): Expression {
  if (/^\d+$/.test(text)) {
    const value = BigInt(text);
    if (value <= 2147483647n) return { kind: 'literal', value: Number(value), type: { kind: 'int' } };
    if (value <= 9223372036854775807n) return { kind: 'literal', value, type: { kind: 'bigint' } };
    return { kind: 'literal', value: text, type: { kind: 'numeric', precision: Math.min(text.length, 38), scale: 0 } };
  }
  if (/[eE]/.test(text)) return { kind: 'literal', value: Number(text), type: { kind: 'float' } };
  const [whole, fraction = ''] = text.split('.');
  return {
    kind: 'literal',
    value: text,
    type: { kind: 'numeric', precision: Math.max(whole.length + fraction.length, 1), scale: fraction.length },
  };
}

/**
 * Stored procedures: name resolution (system procedures in master are visible from every database, Agent ones
 * live in msdb, the chat procedure in each user database), argument binding as SQL Server does it (positional,
 * then @name = value; 201, 8144, 8145), OUTPUT parameters and return status — for EXEC in a batch and for RPC
 * calls alike. sp_executesql, sp_who2 and the chat procedure are here; log shipping and Agent procedures are
 * defined in their own modules.
 */
import type { SqlType, SqlValue } from '../tds/session';
import { parseBatch, parseParameterDeclarations } from '../tsql/parser';
import { AGENT_PROCEDURES } from './agent-procedures';
import { postChatMessage } from './chat';
import { errors, SqlError } from './errors';
import { Variables } from './expressions';
import { LOG_SHIPPING_PROCEDURES } from './log-shipping';
import { processes } from './system-views';
import { Execution } from './session';
import { BIGINT, castValue, INT, nvarchar, NVARCHAR_128, type Typed } from './values';

export interface ProcedureArgument {
  /** '@name' for named arguments. */
  name?: string;
  value: Typed;
  output: boolean;
  isDefault?: boolean;
}

export interface ProcedureResult {
  returnStatus: number;
  /** OUTPUT values, for the arguments (by index) the caller marked OUTPUT. */
  outputs: { index: number; name: string; value: Typed }[];
}

export interface ParameterSpec {
  name: string;
  type: SqlType;
  /** No default: the caller must pass it (201 otherwise). */
  required?: boolean;
  default?: SqlValue;
  output?: boolean;
}

/** What a procedure's body sees: its bound arguments and a way to set OUTPUT parameters. */
export class ProcedureCall {
  private readonly outputValues = new Map<string, SqlValue>();

  constructor(
    readonly execution: Execution,
    readonly procedure: string,
    private readonly values: Map<string, SqlValue>,
    private readonly passed: Set<string>,
    /** The database the procedure runs in (user procedures). */
    readonly database: string,
  ) {}

  value(name: string): SqlValue {
    return this.values.get(name.toLowerCase()) ?? null;
  }

  text(name: string): string | null {
    const value = this.value(name);
    return value === null ? null : String(castValue({ value, type: nvarchar('max') }, nvarchar('max')));
  }

  /** A required text argument: NULL is refused like SQL Server's procedures refuse it. */
  requiredText(name: string): string {
    const text = this.text(name);
    if (text === null || text === '') throw new SqlError(14043, `The parameter '${name}' cannot be NULL.`, 16, 1);
    return text;
  }

  number(name: string): number | null {
    const value = this.value(name);
    return value === null ? null : Number(castValue({ value, type: INT }, INT));
  }

  flag(name: string): boolean {
    return this.number(name) === 1;
  }

  given(name: string): boolean {
    return this.passed.has(name.toLowerCase());
  }

  setOutput(name: string, value: SqlValue): void {
    this.outputValues.set(name.toLowerCase(), value);
  }

  output(name: string): SqlValue | undefined {
    return this.outputValues.get(name.toLowerCase());
  }
}

export interface ProcedureDefinition {
  name: string;
  /** master: system procedures, callable from any database; msdb: Agent procedures; user: in each user database. */
  home: 'master' | 'msdb' | 'user';
  parameters: ParameterSpec[];
  run(call: ProcedureCall): Promise<number | void> | number | void;
}

const BUILT_IN: ProcedureDefinition[] = [
  {
    name: 'sp_who2',
    home: 'master',
    parameters: [{ name: '@loginame', type: NVARCHAR_128 }],
    run(call) {
      const instance = call.execution.instance;
      const text = nvarchar(128);
      const columns = [
        'SPID',
        'Status',
        'Login',
        'HostName',
        'BlkBy',
        'DBName',
        'Command',
        'CPUTime',
        'DiskIO',
        'LastBatch',
        'ProgramName',
        'SPID',
        'REQUESTID',
      ].map((name) => ({ name, type: text }));
      const filter = call.text('@loginame');
      const rows = processes(instance)
        .filter(
          (process) =>
            !filter || filter.toLowerCase() === 'active' || process.login.toLowerCase() === filter.toLowerCase(),
        )
        .map((process) => {
          const database = [...instance.databases.values()].find((candidate) => candidate.id === process.databaseId);
          const batch = process.lastBatch.toISOString();
          return [
            String(process.spid),
            process.status.toUpperCase() === 'BACKGROUND' ? 'BACKGROUND' : process.status,
            process.login,
            process.hostName || '  .',
            '  .',
            process.isUser ? (database?.name ?? null) : null,
            process.command,
            '0',
            '0',
            `${batch.slice(5, 7)}/${batch.slice(8, 10)} ${batch.slice(11, 19)}`,
            process.programName,
            String(process.spid),
            '0',
          ];
        });
      call.execution.out.resultSet(columns, rows);
    },
  },
  {
    name: 'post_chat_message',
    home: 'user',
    parameters: [
      { name: '@client_id', type: nvarchar(64), required: true },
      { name: '@author', type: NVARCHAR_128, required: true },
      { name: '@body', type: nvarchar('max'), required: true },
      { name: '@id', type: BIGINT, output: true },
    ],
    run(call) {
      const instance = call.execution.instance;
      const database = instance.requireAvailable(call.database);
      if (database.isReadOnly || database.state === 'EMERGENCY') throw errors.databaseReadOnly(database.name);
      const message = postChatMessage(instance, database, {
        clientId: call.requiredText('@client_id'),
        author: call.requiredText('@author'),
        body: call.text('@body') ?? '',
      });
      call.setOutput('@id', BigInt(message.id));
    },
  },
];

const REGISTRY = new Map<string, ProcedureDefinition>(
  [...BUILT_IN, ...LOG_SHIPPING_PROCEDURES, ...AGENT_PROCEDURES].map((definition) => [
    definition.name.toLowerCase(),
    definition,
  ]),
);

/** Finds the procedure `name` (as written: sp_x, dbo.sp_x, master.dbo.sp_x, msdb..sp_x) refers to from this session. */
function resolve(name: string, execution: Execution): { definition: ProcedureDefinition; database: string } {
  const parts = name.split('.');
  const procedure = parts[parts.length - 1];
  const database = parts.length >= 3 && parts[0] ? parts[0] : execution.session.database;
  const schema = (parts.length >= 2 ? parts[parts.length - 2] : '').toLowerCase();
  const definition = REGISTRY.get(procedure.toLowerCase());
  const inDatabase = (home: ProcedureDefinition['home']) => {
    const lower = database.toLowerCase();
    if (home === 'master') return true; // sp_ procedures in master are found from every database
    if (home === 'msdb') return lower === 'msdb';
    return !['master', 'msdb', 'model', 'tempdb'].includes(lower);
  };
  if (!definition || !['', 'dbo', 'sys'].includes(schema) || !inDatabase(definition.home))
    throw errors.procedureNotFound(name);
  if (definition.home === 'user') execution.instance.requireDatabase(database);
  return { definition, database };
}

export async function callProcedure(
  execution: Execution,
  name: string,
  args: ProcedureArgument[],
): Promise<ProcedureResult> {
  const procedureName = name.split('.').pop()!;
  if (procedureName.toLowerCase() === 'sp_executesql') return executeSql(execution, args);
  const { definition, database } = resolve(name, execution);

  const values = new Map<string, SqlValue>();
  const passed = new Set<string>();
  let named = false;
  args.forEach((argument, index) => {
    let spec: ParameterSpec | undefined;
    if (argument.name) {
      named = true;
      spec = definition.parameters.find((parameter) => parameter.name.toLowerCase() === argument.name!.toLowerCase());
      if (!spec) throw errors.notAParameter(argument.name, definition.name);
    } else {
      if (named)
        throw new SqlError(
          119,
          `Must pass parameter number ${index + 1} and subsequent parameters as '@name = value'. After the form '@name = value' has been used, all subsequent parameters must be passed in the form '@name = value'.`,
          15,
          1,
        );
      spec = definition.parameters[index];
      if (!spec) throw errors.tooManyArguments(definition.name);
    }
    if (argument.isDefault) return;
    values.set(spec.name.toLowerCase(), argument.value.value === null ? null : castValue(argument.value, spec.type));
    passed.add(spec.name.toLowerCase());
  });
  for (const spec of definition.parameters) {
    if (passed.has(spec.name.toLowerCase())) continue;
    if (spec.required) throw errors.parameterNotSupplied(definition.name, spec.name);
    values.set(spec.name.toLowerCase(), spec.default ?? null);
  }

  const call = new ProcedureCall(execution, definition.name, values, passed, database);
  let returnStatus: number;
  try {
    returnStatus = (await definition.run(call)) ?? 0;
  } catch (err) {
    if (err instanceof SqlError) err.procName ??= definition.name;
    throw err;
  }
  const outputs: ProcedureResult['outputs'] = [];
  args.forEach((argument, index) => {
    if (!argument.output) return;
    const spec = argument.name
      ? definition.parameters.find((parameter) => parameter.name.toLowerCase() === argument.name!.toLowerCase())
      : definition.parameters[index];
    if (!spec?.output) return;
    const value = call.output(spec.name);
    outputs.push({
      index,
      name: spec.name,
      value: { value: value === undefined ? (values.get(spec.name.toLowerCase()) ?? null) : value, type: spec.type },
    });
  });
  return { returnStatus, outputs };
}

/** sp_executesql @statement, @params, @p1 = ...: what mssql sends for every request.query(). */
async function executeSql(execution: Execution, args: ProcedureArgument[]): Promise<ProcedureResult> {
  const [statementArgument, declarationArgument, ...rest] = args;
  if (!statementArgument || statementArgument.value.value === null)
    throw errors.parameterNotSupplied('sp_executesql', '@statement');
  const declarations = declarationArgument?.value.value
    ? parseParameterDeclarations(String(declarationArgument.value.value))
    : [];
  const variables = new Variables();
  for (const declaration of declarations) variables.declare(declaration.name, declaration.type);
  rest.forEach((argument, index) => {
    const declaration = argument.name
      ? declarations.find((candidate) => candidate.name.toLowerCase() === argument.name!.toLowerCase())
      : declarations[index];
    if (!declaration) throw errors.notAParameter(argument.name ?? `#${index + 3}`, 'sp_executesql');
    variables.set(declaration.name, argument.value);
  });
  const statements = parseBatch(String(statementArgument.value.value));
  await new Execution(execution.session, execution.out, execution.signal, variables).run(statements);
  const outputs: ProcedureResult['outputs'] = [];
  rest.forEach((argument, index) => {
    const declaration = argument.name
      ? declarations.find((candidate) => candidate.name.toLowerCase() === argument.name!.toLowerCase())
      : declarations[index];
    if (argument.output && declaration?.output)
      outputs.push({ index: index + 2, name: declaration.name, value: variables.get(declaration.name) });
  });
  return { returnStatus: 0, outputs };
}

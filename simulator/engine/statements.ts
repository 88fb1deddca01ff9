/**
 * Runs one parsed statement. Each kind of statement delegates to the module that owns its semantics: SELECT to
 * select.ts, BACKUP/RESTORE to backup-restore.ts, ALTER DATABASE ... SET PARTNER to mirroring.ts, EXEC to
 * procedures.ts; the small ones (USE, DECLARE, KILL, WAITFOR ...) are here.
 */
import type { AlterDatabaseAction, Statement } from '../tsql/ast';
import { backup, restore, restoreInfo } from './backup-statements';
import { errors, infos, SqlError } from './errors';
import { alterPartner } from './mirroring';
import { callProcedure } from './procedures';
import { runSelect } from './select';
import type { Execution } from './session';
import { sleep } from './sleep';
import { castValue, INT } from './values';

export async function runStatement(statement: Statement, execution: Execution): Promise<void> {
  const { out, session, instance } = execution;
  switch (statement.kind) {
    case 'use': {
      const database = instance.requireAvailable(statement.database);
      const previous = session.database;
      session.database = database.name;
      out.databaseChanged(database.name, previous);
      out.info(infos.changedDatabase(database.name));
      out.done();
      return;
    }
    case 'select': {
      const result = runSelect(statement.select, execution);
      session.lastRowCount = result ? result.rows.length : 1;
      if (result) out.resultSet(result.columns, result.rows);
      else out.done();
      return;
    }
    case 'setOption':
      out.done();
      return;
    case 'setVariable':
      execution.variables.set(statement.variable, execution.evaluate(statement.value));
      out.done();
      return;
    case 'declare':
      for (const variable of statement.variables) {
        execution.variables.declare(
          variable.name,
          variable.type,
          variable.initial ? execution.evaluate(variable.initial).value : null,
        );
      }
      out.done();
      return;
    case 'alterDatabase':
      await alterDatabase(statement.database, statement.action, execution);
      out.done();
      return;
    case 'createDatabase':
      instance.createDatabase(statement.database);
      out.done();
      return;
    case 'dropDatabase':
      for (const name of statement.databases) dropDatabase(name, execution);
      out.done();
      return;
    case 'backup':
      await backup(statement, execution);
      out.done();
      return;
    case 'restore':
      await restore(statement, execution);
      out.done();
      return;
    case 'restoreInfo': {
      const result = restoreInfo(statement, execution);
      if (result) out.resultSet(result.columns, result.rows);
      else out.done();
      return;
    }
    case 'execute': {
      const args = statement.arguments.map((argument) => ({
        name: argument.name,
        value: argument.isDefault ? { value: null, type: INT } : execution.evaluate(argument.value),
        output: argument.output,
        isDefault: argument.isDefault,
        variable: argument.value.kind === 'variable' ? argument.value.name : undefined,
      }));
      const result = await callProcedure(execution, statement.procedure, args);
      for (const output of result.outputs) {
        const variable = args[output.index].variable;
        if (variable) execution.variables.set(variable, output.value);
      }
      if (statement.returnVariable)
        execution.variables.set(statement.returnVariable, { value: result.returnStatus, type: INT });
      out.done();
      return;
    }
    case 'kill': {
      const spid = execution.evaluate(statement.spid);
      instance.kill(Number(castValue(spid, INT)), session);
      out.done();
      return;
    }
    case 'waitfor':
      await sleep(waitforDelay(execution.text(statement.delay)), execution.signal);
      out.done();
      return;
    case 'print':
      out.info({ number: 0, state: 1, class: 0, message: execution.text(statement.value), lineNumber: statement.line });
      out.done();
      return;
  }
}

/** WAITFOR DELAY 'hh:mm[:ss[.mmm]]'. */
function waitforDelay(text: string): number {
  const match = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,3}))?)?$/.exec(text.trim());
  if (!match) throw new SqlError(148, `Incorrect time syntax in time string '${text}' used with WAITFOR.`, 15, 1);
  const [, hours, minutes, seconds = '0', millis = '0'] = match;
  return ((Number(hours) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000 + Number(millis.padEnd(3, '0'));
}

async function alterDatabase(name: string, action: AlterDatabaseAction, execution: Execution): Promise<void> {
  const { instance, session } = execution;
  const database = instance.requireDatabase(name);
  switch (action.kind) {
    case 'partner':
    case 'partnerAddress':
    case 'partnerSafety':
    case 'partnerTimeout':
    case 'witnessOff':
      await alterPartner(database, action, execution);
      return;
    case 'recoveryModel':
      if (database.mirroring && action.model !== 'FULL') throw errors.involvedInMirroring(database.name);
      database.recoveryModel = action.model;
      if (action.model === 'SIMPLE') database.logChainStart = null;
      break;
    case 'userAccess': {
      const others = instance.sessionsUsing(database).filter((other) => other !== session);
      if (action.mode !== 'MULTI_USER' && others.length > 0) {
        if (!action.rollbackImmediate) throw errors.stateChangeWhileInUse(database.name);
        instance.terminateSessionsUsing(database, session);
      }
      database.userAccess = action.mode;
      break;
    }
    case 'state': {
      if (action.state === 'OFFLINE') {
        if (database.mirroring) throw errors.involvedInMirroring(database.name);
        const others = instance.sessionsUsing(database).filter((other) => other !== session);
        if (others.length > 0 && !action.rollbackImmediate) throw errors.stateChangeWhileInUse(database.name);
        instance.terminateSessionsUsing(database);
        database.state = 'OFFLINE';
      } else if (database.state === 'SUSPECT') {
        // Recovery runs again and fails again: whatever damaged the database is still there.
        throw errors.databaseSuspect(database.name);
      } else if (database.state === 'OFFLINE' || database.state === 'EMERGENCY') {
        database.state = 'ONLINE';
      }
      break;
    }
  }
  instance.changed();
}

function dropDatabase(name: string, execution: Execution): void {
  const { instance, session } = execution;
  const database = instance.requireDatabase(name);
  if (database.id <= 4)
    throw new SqlError(3708, `Cannot drop the database '${database.name}' because it is a system database.`, 16, 1);
  if (database.mirroring) throw errors.cannotDropMirrored(database.name);
  if (
    instance.sessionsUsing(database).some((other) => other !== session) ||
    session.database.toLowerCase() === database.name.toLowerCase()
  ) {
    throw errors.cannotDropInUse(database.name);
  }
  instance.dropDatabase(database.name);
}

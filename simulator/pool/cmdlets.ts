/**
 * The cmdlets the stand-in management shell understands: the few the runbooks use, with the parameters the cmdlet
 * reference documents (office-docs-powershell, Lync 2013 / Skype for Business 2015) and the pool state behind them.
 * Get-/Set-CsPersistentChatState, Set-CsPersistentChatActiveServer and Get-CsService work on the pool-state file;
 * Invoke-CsDatabaseFailover and Install-CsMirrorDatabase act on SQL Server (database-mirroring.ts, install-mirror.ts).
 *
 * Where PowerShell would quietly accept something surprising (a Replace mixed with Add, an empty list), the
 * stand-in refuses it: an adapter that passes here must also work against the real shell.
 */
import { loadTopology } from '../../topology/load';
import {
  currentStore,
  DATABASE_NAME_TYPES,
  databaseKind,
  failOverDatabase,
  MIRROR_ROLES,
  resolveMirrorPair,
} from './database-mirroring';
import { CmdletError } from './error-records';
import { installMirror } from './install-mirror';
import type { OutputObject } from './output-formatting';
import {
  bindParameters,
  cannotConvert,
  describeValue,
  enumParameter,
  mandatory,
  optional,
  switchParameter,
  textParameter,
  type BoundParameters,
  type ParameterSet,
  type ParameterType,
} from './parameter-binding';
import { POOL_STATES, readPoolState, writePoolState, type PoolState } from './pool-state';
import type { PlainValue, PsCommand, PsValue } from './powershell-ast';

export interface CmdletContext {
  poolStateFile: string;
  /** Written only when the cmdlet was called with -Verbose. */
  verbose(message: string): void;
  warning(message: string): void;
}

export interface Cmdlet {
  readonly name: string;
  /** Binds the command's arguments to the cmdlet's parameters; throws a ParameterBindingError. */
  bind(command: PsCommand): BoundCmdlet;
}

export interface BoundCmdlet {
  /** The parameters as given, under their full names: what the invocation log records. */
  given: Record<string, PlainValue>;
  verbose: boolean;
  /** -Confirm asks before acting, which a -NonInteractive shell cannot do. */
  confirm: boolean;
  run(context: CmdletContext): Promise<OutputObject[]>;
}

interface CmdletDefinition<S extends ParameterSet> {
  name: string;
  /** Cmdlets that change something take -Confirm (PowerShell's ShouldProcess); every cmdlet takes -Verbose. */
  changesState: boolean;
  parameters: S;
  run(parameters: BoundParameters<S>, context: CmdletContext): OutputObject[] | Promise<OutputObject[]>;
}

function defineCmdlet<S extends ParameterSet>(definition: CmdletDefinition<S>): Cmdlet {
  const common: ParameterSet = {
    Verbose: optional(switchParameter),
    ...(definition.changesState ? { Confirm: optional(switchParameter) } : {}),
  };
  const parameters: ParameterSet = { ...definition.parameters, ...common };
  return {
    name: definition.name,
    bind(command) {
      const { values, given } = bindParameters(command, parameters);
      return {
        given,
        verbose: values.Verbose === true,
        confirm: values.Confirm === true,
        run: async (context) => definition.run(values as BoundParameters<S>, context),
      };
    },
  };
}

const xdsIdentity = textParameter('XdsIdentity');
const fqdn = textParameter('Fqdn');

/**
 * The Persistent Chat docs name the pool `service:<fqdn>`, the cmdlet reference `PersistentChatServer:<fqdn>`, and
 * Get-CsService reports `PersistentChatServer:<fqdn>`: all of them, and the topology's own identity, are accepted.
 */
function isPoolIdentity(state: PoolState, identity: string): boolean {
  const forms = [
    state.identity,
    `service:${state.fqdn}`,
    `PersistentChatServer:${state.fqdn}`,
    `service:PersistentChatServer:${state.fqdn}`,
  ];
  return forms.some((form) => form.toLowerCase() === identity.toLowerCase());
}

function checkPoolIdentity(state: PoolState, identity: string | undefined, alsoAccepted: string[] = []): void {
  if (
    identity === undefined ||
    isPoolIdentity(state, identity) ||
    alsoAccepted.some((form) => form.toLowerCase() === identity.toLowerCase())
  )
    return;
  throw new CmdletError(
    `Cannot find a Persistent Chat pool with identity "${identity}". This estate has one pool: ${state.identity} (also PersistentChatServer:${state.fqdn}${alsoAccepted.map((form) => `, ${form}`).join('')}).`,
    'ObjectNotFound',
    'PoolIdentityNotFound',
  );
}

function poolServers(state: PoolState): string[] {
  return [...state.servers.dc1, ...state.servers.dc2];
}

const getPersistentChatState = defineCmdlet({
  name: 'Get-CsPersistentChatState',
  changesState: false,
  parameters: { Identity: optional(xdsIdentity, 0) },
  run({ Identity }, context) {
    const state = readPoolState(context.poolStateFile);
    checkPoolIdentity(state, Identity);
    return [{ Identity: state.identity, PoolState: state.poolState }];
  },
});

const setPersistentChatState = defineCmdlet({
  name: 'Set-CsPersistentChatState',
  changesState: true,
  parameters: {
    Identity: mandatory(xdsIdentity, 0),
    PoolState: mandatory(enumParameter('PoolState', POOL_STATES)),
    Force: optional(switchParameter),
  },
  run({ Identity, PoolState: poolState }, context) {
    const state = readPoolState(context.poolStateFile);
    checkPoolIdentity(state, Identity);
    context.verbose(`Pool ${state.fqdn}: ${state.poolState} -> ${poolState}.`);
    writePoolState(context.poolStateFile, { ...state, poolState });
    return [];
  },
});

/** -ActiveServers, a PSListModifier of Fqdn: a list (replaces), @{Add=..; Remove=..}, @{Replace=..}, or $Null (clears). */
type ActiveServersChange =
  { kind: 'clear' } | { kind: 'replace'; servers: string[] } | { kind: 'modify'; add: string[]; remove: string[] };

const LIST_MODIFIER_TYPE = 'System.Management.Automation.PSListModifier`1[Microsoft.Rtc.Management.Deploy.Fqdn]';

const activeServersParameter: ParameterType<ActiveServersChange> = {
  typeName: LIST_MODIFIER_TYPE,
  convert(value, parameterName) {
    if (value.kind === 'null') return { kind: 'clear' };
    if (value.kind !== 'hashtable') return { kind: 'replace', servers: serverNames(value, parameterName) };
    const lists: Record<'add' | 'remove' | 'replace', string[] | undefined> = {
      add: undefined,
      remove: undefined,
      replace: undefined,
    };
    for (const entry of value.entries) {
      const key = entry.key.toLowerCase();
      if (key !== 'add' && key !== 'remove' && key !== 'replace') {
        throw cannotConvert(
          parameterName,
          value,
          LIST_MODIFIER_TYPE,
          `The key '${entry.key}' is not valid: a list modifier takes Add, Remove or Replace.`,
        );
      }
      lists[key] = serverNames(entry.value, parameterName);
    }
    if (lists.replace) {
      // PowerShell would apply the Replace and silently ignore Add and Remove.
      if (lists.add || lists.remove)
        throw cannotConvert(parameterName, value, LIST_MODIFIER_TYPE, 'Replace cannot be combined with Add or Remove.');
      return { kind: 'replace', servers: lists.replace };
    }
    return { kind: 'modify', add: lists.add ?? [], remove: lists.remove ?? [] };
  },
};

function serverNames(value: PsValue, parameterName: string): string[] {
  const items = value.kind === 'array' ? value.items : [value];
  return items.map((item) => {
    if (item.kind === 'string' && item.value !== '') return item.value;
    // An empty Replace would leave the list as it is in PowerShell; only $Null clears it.
    throw cannotConvert(
      parameterName,
      item,
      'Microsoft.Rtc.Management.Deploy.Fqdn',
      `${describeValue(item)} is not a server FQDN; use -ActiveServers $Null to clear the list.`,
    );
  });
}

/** PSListModifier order: Replace, or Remove then Add. Every server named must be one of the pool's, even one removed. */
function applyActiveServersChange(state: PoolState, change: ActiveServersChange): string[] {
  const servers = poolServers(state);
  const known = (name: string) => {
    const match = servers.find((server) => server.toLowerCase() === name.toLowerCase());
    if (match === undefined) {
      throw new CmdletError(
        `${JSON.stringify(name)} is not a Persistent Chat server of pool ${state.fqdn}. Its servers are: ${servers.join(', ')}.`,
        'ObjectNotFound',
        'PersistentChatServerNotFound',
      );
    }
    return match;
  };
  switch (change.kind) {
    case 'clear':
      return [];
    case 'replace':
      return [...new Set(change.servers.map(known))];
    case 'modify': {
      const removed = new Set(change.remove.map(known));
      const kept = state.activeServers.filter((server) => !removed.has(server));
      return [...new Set([...kept, ...change.add.map(known)])];
    }
  }
}

const setPersistentChatActiveServer = defineCmdlet({
  name: 'Set-CsPersistentChatActiveServer',
  changesState: true,
  parameters: {
    Identity: optional(xdsIdentity, 0),
    ActiveServers: mandatory(activeServersParameter),
    Force: optional(switchParameter),
  },
  run({ Identity, ActiveServers }, context) {
    const state = readPoolState(context.poolStateFile);
    // "You can only have a single collection of Persistent Chat servers": the Lync 2013 docs call it global.
    checkPoolIdentity(state, Identity, ['global']);
    const activeServers = applyActiveServersChange(state, ActiveServers);
    context.verbose(
      `Active servers of ${state.fqdn}: ${state.activeServers.join(', ') || '(none)'} -> ${activeServers.join(', ') || '(none)'}.`,
    );
    writePoolState(context.poolStateFile, { ...state, activeServers });
    return [];
  },
});

const getService = defineCmdlet({
  name: 'Get-CsService',
  changesState: false,
  parameters: { PersistentChatServer: optional(switchParameter), PoolFqdn: optional(fqdn) },
  run({ PersistentChatServer, PoolFqdn }, context) {
    if (!PersistentChatServer) {
      throw new CmdletError(
        'The stand-in management shell knows only the Persistent Chat service: use Get-CsService -PersistentChatServer.',
        'InvalidArgument',
        'ServiceRoleNotSupported',
      );
    }
    const state = readPoolState(context.poolStateFile);
    if (PoolFqdn !== undefined && PoolFqdn.toLowerCase() !== state.fqdn.toLowerCase()) return [];
    return [
      {
        Identity: `PersistentChatServer:${state.fqdn}`,
        PoolFqdn: state.fqdn,
        ActiveServers: state.activeServers,
        InactiveServers: poolServers(state).filter((server) => !state.activeServers.includes(server)),
      },
    ];
  },
});

const databaseNameType = enumParameter('DatabaseNameType', DATABASE_NAME_TYPES);

const invokeDatabaseFailover = defineCmdlet({
  name: 'Invoke-CsDatabaseFailover',
  changesState: true,
  parameters: {
    PoolFqdn: mandatory(fqdn),
    DatabaseType: mandatory(databaseNameType),
    NewPrincipal: mandatory(enumParameter('MirrorRole', MIRROR_ROLES)),
    Force: optional(switchParameter),
  },
  async run({ PoolFqdn, DatabaseType, NewPrincipal, Force }, context) {
    const state = readPoolState(context.poolStateFile);
    if (PoolFqdn.toLowerCase() !== state.fqdn.toLowerCase()) {
      throw new CmdletError(
        `Pool "${PoolFqdn}" is not in the topology: this estate's Persistent Chat pool is ${state.fqdn}.`,
        'ObjectNotFound',
        'PoolNotFound',
      );
    }
    const kind = databaseKind(DatabaseType);
    const store = currentStore(loadTopology(state.topologyFile).topology, kind, state.poolState);
    await failOverDatabase(store, NewPrincipal, Force === true, context);
    return [];
  },
});

const installMirrorDatabase = defineCmdlet({
  name: 'Install-CsMirrorDatabase',
  changesState: true,
  parameters: {
    DatabaseType: mandatory(databaseNameType),
    SqlServerFqdn: mandatory(fqdn),
    SqlInstanceName: optional(textParameter('String')),
    FileShare: mandatory(textParameter('String')),
    DropExistingDatabasesOnMirror: optional(switchParameter),
  },
  async run({ DatabaseType, SqlServerFqdn, SqlInstanceName, FileShare, DropExistingDatabasesOnMirror }, context) {
    const state = readPoolState(context.poolStateFile);
    const kind = databaseKind(DatabaseType);
    const pair = resolveMirrorPair(
      loadTopology(state.topologyFile).topology,
      kind,
      state.poolState,
      SqlServerFqdn,
      SqlInstanceName,
    );
    await installMirror(
      pair,
      { fileShare: FileShare, dropExistingDatabasesOnMirror: DropExistingDatabasesOnMirror === true, now: new Date() },
      context,
    );
    return [];
  },
});

const CMDLETS: readonly Cmdlet[] = [
  getPersistentChatState,
  setPersistentChatState,
  setPersistentChatActiveServer,
  getService,
  invokeDatabaseFailover,
  installMirrorDatabase,
];

/** Cmdlet names are case-insensitive, as in PowerShell. */
export function findCmdlet(name: string): Cmdlet | undefined {
  return CMDLETS.find((cmdlet) => cmdlet.name.toLowerCase() === name.toLowerCase());
}

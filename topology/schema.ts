/**
 * The topology file: one Persistent Chat estate (pool, SQL Server instances and their roles per database, shares,
 * log-shipping settings, pool control, approval policy, objectives). docs/topology.md is the reference for users;
 * keep the two in step.
 */
import { z } from 'zod';
import { DURATION_PATTERN, durationMs } from './durations';
import { gatePolicy } from './approvals';
import { CRITICAL_GATE_APPROVALS, GATE_NAMES, isCriticalGate, type GateName } from './gates';
import { PLAIN_IDENTIFIER } from './identifiers';
import { isSecretRef } from './secrets';

/** Every object rejects keys it does not know, and the message lists the ones it does. */
function strict<Shape extends z.ZodRawShape>(shape: Shape) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown key (allowed here: ${allowed})` : undefined),
  });
}

const nonEmpty = z.string({ error: 'must be text' }).trim().min(1, 'must not be empty');

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const hostname = z
  .string({ error: 'must be a host name' })
  .regex(HOSTNAME, 'must be a host name or IPv4 address (letters, digits, - and .)');

/** A NetBIOS computer name (at most 15 characters), then \\INSTANCE for a named instance. */
const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,14}(\\[A-Za-z_][A-Za-z0-9_$]{0,15})?$/;

const databaseName = z
  .string({ error: 'must be a database name' })
  .regex(
    PLAIN_IDENTIFIER,
    'must be a plain identifier: letters, digits and _, starting with a letter or _, at most 128 characters',
  );

const duration = z
  .string({ error: 'must be a duration such as 90s, 15m, 1h or 2d' })
  .regex(DURATION_PATTERN, 'must be a duration such as 90s, 15m, 1h or 2d');
/** SQL Server Agent cannot run a schedule more often than every 10 seconds. */
const agentInterval = duration.refine(
  (text) => durationMs(text) >= 10_000,
  'must be at least 10s (SQL Server Agent minimum)',
);

/** Never the password itself: the message must not echo the value either, it may be a real password. */
const secretRef = z.string({ error: 'must be a secret reference (env:NAME or file:/path)' }).refine(isSecretRef, {
  error: 'must be a secret reference (env:NAME or file:/path), never an inline password',
});

const instanceSchema = strict({
  /** The name roles refer to, e.g. dc1-sql-a. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be a short name: letters, digits, _ . and -'),
  host: hostname,
  /** Omit with a named instance to let SQL Server Browser find the port. */
  port: z
    .number({ error: 'must be a TCP port number' })
    .int('must be a whole number')
    .min(1, 'must be a TCP port between 1 and 65535')
    .max(65535, 'must be a TCP port between 1 and 65535')
    .optional(),
  instanceName: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,15}$/, 'must be a SQL Server instance name (at most 16 letters, digits, _ or $)')
    .optional(),
  login: nonEmpty,
  password: secretRef,
  /**
   * What SQL Server reports as @@SERVERNAME: COMPUTER, or COMPUTER\INSTANCE for a named instance. pchat-dr reads
   * the name from SQL Server; the simulator answers this one when given.
   */
  serverName: z
    .string({ error: 'must be a SQL Server name' })
    .regex(SERVER_NAME, 'must be a SQL Server name: COMPUTER or COMPUTER\\INSTANCE (letters, digits, - and _)')
    .optional(),
  encrypt: z.boolean({ error: 'must be true or false' }).default(true),
  trustServerCertificate: z.boolean({ error: 'must be true or false' }).default(false),
  /** PEM file of the CA that signed the instance's certificate; it replaces the default roots when validating it. */
  caFile: nonEmpty.optional(),
});

const instanceRef = z.string({ error: 'is required: the name of an instance under instances' }).min(1);

const databaseSchema = strict({
  /** The database name on SQL Server; defaults to the key (mgc, mgccomp). */
  name: databaseName.optional(),
  primary: instanceRef,
  mirror: instanceRef,
  backup: instanceRef,
  backupMirror: instanceRef.optional(),
  /** WITH MOVE when seeding `backup` (and restoring elsewhere): logical file name → path as that SQL Server sees it. */
  restoreMove: z.array(strict({ logicalName: nonEmpty, to: nonEmpty })).default([]),
});

const folderSchema = strict({
  /** The path as SQL Server sees it (UNC share or local path on that server). */
  sqlPath: nonEmpty,
  /** The same folder as the worker sees it (a mount point). */
  workerPath: nonEmpty,
});

const backupShareSchema = strict({
  ...folderSchema.shape,
  /** Microsoft: when the primary's SQL service runs as Local System, the folder is local and this is its local path. */
  localPath: nonEmpty.optional(),
});

const logShippingSchema = strict({
  backupEvery: agentInterval.default('15m'),
  copyEvery: agentInterval.default('15m'),
  restoreEvery: agentInterval.default('15m'),
  /** "Delete files older than" (backup retention on the share, copy retention on the secondary). */
  deleteFilesOlderThan: duration.default('3d'),
  /** "Alert if no backup occurs within". */
  backupAlertAfter: duration.default('1h'),
  /** "Alert if no restore occurs within". */
  restoreAlertAfter: duration.default('45m'),
  /** Microsoft: restore delay 0 minutes. */
  restoreDelay: duration.default('0m'),
  compression: z.enum(['default', 'on', 'off']).default('default'),
});

const approverList = z.array(nonEmpty).min(1, 'must name at least one person or group:NAME');

const gatePolicySchema = strict({
  /** People, or group:NAME from approvals.groups. */
  approvers: approverList.optional(),
  /** Distinct approvals needed (M of N). */
  required: z.number().int().min(1, 'must be at least 1').optional(),
  /** The person who started the run may not approve. */
  twoPersonRule: z.boolean().optional(),
  timeout: duration.optional(),
  escalation: strict({ after: duration, notify: approverList }).optional(),
  onTimeout: z.literal('abort').optional(),
  /** Skip the gate entirely (not allowed for critical gates). */
  waived: z.boolean().optional(),
});

const gateNameSchema = z.enum(GATE_NAMES as [GateName, ...GateName[]], {
  error: `unknown gate (known gates: ${GATE_NAMES.join(', ')})`,
});

const approvalsSchema = strict({
  groups: z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be a group name'),
      z.array(nonEmpty).min(1, 'a group needs at least one person'),
    )
    .default({}),
  /** Applies to every gate unless the gate says otherwise. */
  default: gatePolicySchema.default({}),
  gates: z.partialRecord(gateNameSchema, gatePolicySchema).default({}),
  /** Who may answer decision gates (retry / skip / abort after a failed step). */
  decisions: approverList.optional(),
});

const drillsSchema = strict({
  /** Where the worker writes each drill's report (Markdown and JSON), as the worker sees it; none: Temporal only. */
  reportFolder: nonEmpty.optional(),
  /** The restore rehearsal counts this table's rows in the scratch copy (Persistent Chat's chat table; dbo schema). */
  rowCheckTable: z
    .string({ error: 'must be a table name' })
    .regex(PLAIN_IDENTIFIER, 'must be a plain identifier (a table of the dbo schema)')
    .default('tblChat'),
  /** Rehearsal estates only (simulated: true): a drill also runs the real failover and failback. */
  rehearse: z.boolean({ error: 'must be true or false' }).default(false),
  /** Who answers the gates of a rehearsal's failover and failback (the name appears in their reports). */
  approver: nonEmpty.default('pchat-dr-drill'),
  /** How many earlier drills a report compares with. */
  trend: z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(0, 'must be 0 or more')
    .max(50, 'must be at most 50')
    .default(5),
});

/**
 * Who may sign (docs/operations.md "Approvals and identity"): an OpenSSH allowed_signers file on the worker, and
 * which messages must be signed. Without this section nothing needs signing and a signature cannot be verified.
 */
const signaturesSchema = strict({
  /** OpenSSH's allowed_signers format: person, options (namespaces="pchat-dr"), public key; a line per key. */
  allowedSigners: nonEmpty,
  /** required: every start, approval, rejection, decision and abort; critical: the start and the critical gates; off. */
  policy: z.enum(['required', 'critical', 'off'], { error: 'must be required, critical or off' }).default('required'),
  /**
   * People's passkeys (WebAuthn credentials) for the approval console: a file beside allowed_signers, a line per
   * credential (signatures/passkeys.ts). Its own file, so ssh-keygen -Y verify keeps reading allowed_signers as is.
   */
  passkeys: nonEmpty.optional(),
});

/**
 * The approval console (docs/console.md): the address people open. Its origin and host are what a passkey signs for
 * (WebAuthn's origin and relying-party id), and notifications link to it.
 */
const consoleSchema = strict({
  url: z.string({ error: "must be the console's address, e.g. https://dr-console.example.com" }).refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password;
    } catch {
      return false;
    }
  }, 'must be an http(s) address without user or password, e.g. https://dr-console.example.com'),
});

const topologyShape = strict({
  /** A rehearsal estate (the simulator): drills may run real failovers on it. */
  simulated: z.boolean({ error: 'must be true or false' }).default(false),
  pool: strict({
    fqdn: hostname,
    /** -Identity for Set-CsPersistentChatState / Set-CsPersistentChatActiveServer; default service:<fqdn>. */
    identity: nonEmpty.optional(),
    servers: strict({
      dc1: z.array(hostname).min(1, 'list at least one Persistent Chat server in DC1'),
      dc2: z.array(hostname).min(1, 'list at least one Persistent Chat server in DC2'),
    }),
  }),
  instances: z.array(instanceSchema).min(1, 'list the SQL Server instances of the estate'),
  databases: strict({ mgc: databaseSchema, mgccomp: databaseSchema.optional() }),
  backupShare: backupShareSchema,
  copyFolder: folderSchema,
  logShipping: logShippingSchema.default(() => logShippingSchema.parse({})),
  poolControl: strict({
    /** Program and leading arguments; the cmdlet line is appended as the last argument. */
    command: z.array(nonEmpty).min(1, 'give the program to run, e.g. [pwsh, -NoProfile, -NonInteractive, -Command]'),
    timeout: duration.default('5m'),
    /**
     * Keep one shell open between scripts for this long idle (the command is run with `-` as its script, which pwsh
     * reads from stdin); absent: a process per script. docs/topology.md says when to use it.
     */
    keepOpen: duration.optional(),
  }),
  approvals: approvalsSchema.default(() => approvalsSchema.parse({})),
  signatures: signaturesSchema.optional(),
  console: consoleSchema.optional(),
  objectives: strict({ rpo: duration, rto: duration }),
  /** The webhook URL is a secret reference (it may carry a token): the worker reads it, history never holds it. */
  notifications: strict({ webhook: secretRef.optional() }).default({}),
  drills: drillsSchema.default(() => drillsSchema.parse({})),
  /**
   * Where Persistent Chat keeps messages, for counting what a failover lost and what a diverged DC1 database holds
   * (dbo schema; a table and its posting-time column). Without it those counts are reported as unknown.
   */
  chatStore: strict({
    table: z
      .string({ error: 'must be a table name' })
      .regex(PLAIN_IDENTIFIER, 'must be a plain identifier (a table of the dbo schema)'),
    timeColumn: z
      .string({ error: 'must be a column name' })
      .regex(PLAIN_IDENTIFIER, 'must be a plain identifier (a datetime column of the table)'),
  }).optional(),
});

export type Topology = z.infer<typeof topologyShape>;
export const topologySchema = topologyShape.superRefine(checkReferences);
export type Instance = Topology['instances'][number];
export type DatabaseRoles = Topology['databases']['mgc'];
export type DatabaseKind = keyof Topology['databases'];
export type Role = 'primary' | 'mirror' | 'backup' | 'backupMirror';
export const ROLES: readonly Role[] = ['primary', 'mirror', 'backup', 'backupMirror'];
export type GatePolicyInput = z.infer<typeof gatePolicySchema>;

type Ctx = z.RefinementCtx;

/** Rules that span fields: names resolve, nothing is listed twice, policies can be met. */
function checkReferences(topology: Topology, ctx: Ctx): void {
  const byName = new Map<string, number>();
  const byEndpoint = new Map<string, number>();
  topology.instances.forEach((instance, index) => {
    const seen = byName.get(instance.name);
    if (seen !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['instances', index, 'name'],
        message: `duplicate instance "${instance.name}" (also instances[${seen}])`,
      });
    } else byName.set(instance.name, index);
    const endpoint = `${instance.host.toLowerCase()}:${instance.port ?? ''}\\${(instance.instanceName ?? '').toLowerCase()}`;
    const same = byEndpoint.get(endpoint);
    if (same !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['instances', index, 'host'],
        message: `duplicate instance: same host, port and instance name as instances[${same}] (${topology.instances[same].name})`,
      });
    } else byEndpoint.set(endpoint, index);
  });

  const names = new Map<string, string>();
  for (const kind of ['mgc', 'mgccomp'] as const) {
    const roles = topology.databases[kind];
    if (!roles) continue;
    const used = new Map<string, Role>();
    for (const role of ROLES) {
      const ref = roles[role];
      if (ref === undefined) continue;
      if (!byName.has(ref)) {
        ctx.addIssue({
          code: 'custom',
          path: ['databases', kind, role],
          message: `unknown instance "${ref}" (instances: ${[...byName.keys()].join(', ')})`,
        });
      }
      const other = used.get(ref);
      if (other)
        ctx.addIssue({
          code: 'custom',
          path: ['databases', kind, role],
          message: `instance "${ref}" already plays ${other} for ${kind}; each role needs its own instance`,
        });
      used.set(ref, role);
    }
    const name = roles.name ?? kind;
    const clash = names.get(name.toLowerCase());
    if (clash)
      ctx.addIssue({
        code: 'custom',
        path: ['databases', kind, 'name'],
        message: `database name "${name}" is also used by ${clash}`,
      });
    names.set(name.toLowerCase(), kind);
  }

  const servers = new Map<string, string>();
  for (const dc of ['dc1', 'dc2'] as const) {
    topology.pool.servers[dc].forEach((server, index) => {
      const other = servers.get(server.toLowerCase());
      if (other)
        ctx.addIssue({
          code: 'custom',
          path: ['pool', 'servers', dc, index],
          message: `server "${server}" is listed twice (also in ${other})`,
        });
      servers.set(server.toLowerCase(), dc);
    });
  }

  checkApprovals(topology.approvals, ctx);
  if (topology.signatures?.passkeys && !topology.console)
    ctx.addIssue({
      code: 'custom',
      path: ['signatures', 'passkeys'],
      message:
        "passkeys sign for the console's address: set console.url (e.g. https://dr-console.example.com) so the worker knows the origin to accept",
    });
  if (topology.drills.rehearse && !topology.simulated) {
    ctx.addIssue({
      code: 'custom',
      path: ['drills', 'rehearse'],
      message: 'only a rehearsal estate (simulated: true) may run real failovers in a drill',
    });
  }
}

function checkApprovals(approvals: Topology['approvals'], ctx: Ctx): void {
  const checkGroups = (list: string[] | undefined, path: (string | number)[]) =>
    list?.forEach((entry, index) => {
      if (entry.startsWith('group:') && !(entry.slice(6) in approvals.groups)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, index],
          message: `unknown group "${entry.slice(6)}" (define it under approvals.groups)`,
        });
      }
    });
  checkGroups(approvals.decisions, ['approvals', 'decisions']);
  checkGroups(approvals.default.approvers, ['approvals', 'default', 'approvers']);
  checkGroups(approvals.default.escalation?.notify, ['approvals', 'default', 'escalation', 'notify']);
  if (approvals.default.waived) {
    ctx.addIssue({
      code: 'custom',
      path: ['approvals', 'default', 'waived'],
      message: 'waive individual gates, not the default policy',
    });
  }
  for (const [gate, own] of Object.entries(approvals.gates) as [GateName, GatePolicyInput][]) {
    checkGroups(own.approvers, ['approvals', 'gates', gate, 'approvers']);
    checkGroups(own.escalation?.notify, ['approvals', 'gates', gate, 'escalation', 'notify']);
    if (isCriticalGate(gate) && own.required !== undefined && own.required < CRITICAL_GATE_APPROVALS) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvals', 'gates', gate, 'required'],
        message: `${gate} accepts data loss or a datacenter switch: it needs at least ${CRITICAL_GATE_APPROVALS} distinct approvers`,
      });
    }
    if (isCriticalGate(gate) && own.twoPersonRule === false) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvals', 'gates', gate, 'twoPersonRule'],
        message: `${gate} accepts data loss or a datacenter switch: the person who starts a run may never approve it (twoPersonRule cannot be false)`,
      });
    }
    if (own.waived && isCriticalGate(gate)) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvals', 'gates', gate, 'waived'],
        message: `${gate} accepts data loss or a datacenter switch and cannot be waived`,
      });
    }
  }
  // Every gate a runbook may open must be answerable: someone may approve, and enough distinct people exist.
  for (const gate of GATE_NAMES) {
    const policy = gatePolicy(approvals, gate);
    if (policy.waived) continue;
    const own = approvals.gates[gate];
    const path = own?.approvers ? ['approvals', 'gates', gate, 'approvers'] : ['approvals', 'default', 'approvers'];
    if (policy.people.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: `nobody may approve gate ${gate}: set approvals.default.approvers or approvals.gates.${gate}.approvers`,
      });
    } else if (policy.required > policy.people.length) {
      const where = own?.required !== undefined ? ['approvals', 'gates', gate, 'required'] : path;
      ctx.addIssue({
        code: 'custom',
        path: where,
        message: `gate ${gate} needs ${policy.required} distinct approvals but only ${policy.people.length} ${policy.people.length === 1 ? 'person' : 'people'} may approve`,
      });
    }
  }
}

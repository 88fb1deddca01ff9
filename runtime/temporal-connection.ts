/**
 * Where Temporal is and how to reach it, for the worker and the CLI alike: the standard TEMPORAL_* environment
 * variables and temporal.toml profiles (@temporalio/envconfig), the same settings the `temporal` CLI reads.
 *
 *   const { namespace, ...connect } = temporalConnectionOptions();
 *   await NativeConnection.connect(connect);                          // worker
 *   new Client({ connection: await Connection.connect(connect), namespace });   // CLI
 */
import type { TLSConfig } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { CliError, EXIT } from './exit';

/** The one task queue every pchat-dr runbook runs on (PCHAT_DR_TASK_QUEUE overrides it on both sides). */
export const DEFAULT_TASK_QUEUE = 'pchat-dr';
/** What `temporal server start-dev` serves, and what the temporal CLI assumes. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

export interface TemporalConnectionOptions {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  /** false/undefined: plain gRPC; true: TLS with system roots (the default once an API key is set). */
  tls?: TLSConfig | boolean;
  /** Sent as `Authorization: Bearer ...` (Temporal Cloud). Never log it. */
  apiKey?: string;
  /** Extra gRPC headers (TEMPORAL_GRPC_META_*). */
  metadata?: Record<string, string>;
}

export interface TemporalConnectionOverrides {
  /** Command-line values win over the profile and the environment. */
  address?: string;
  namespace?: string;
  /** temporal.toml profile; default TEMPORAL_PROFILE, then "default". */
  profile?: string;
  /** The environment to read instead of process.env (tests). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Reads the connection settings: TEMPORAL_CONFIG_FILE (or the default temporal.toml), its TEMPORAL_PROFILE profile,
 * then TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_GRPC_META_* over it.
 * A broken file, an unknown profile or an unreadable certificate is bad input (CliError, exit 2).
 */
export function temporalConnectionOptions(overrides: TemporalConnectionOverrides = {}): TemporalConnectionOptions {
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig({
      profile: overrides.profile,
      overrideEnvVars: overrides.env ? definedOnly(overrides.env) : undefined,
    });
  } catch (err) {
    throw new CliError(
      `Temporal connection settings (TEMPORAL_* variables, temporal.toml): ${(err as Error).message}`,
      EXIT.badInput,
    );
  }
  const { address, tls, apiKey, metadata } = loaded.connectionOptions;
  return {
    address: overrides.address ?? address ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: overrides.namespace ?? loaded.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    tls: tls ?? undefined,
    apiKey,
    metadata: metadata as Record<string, string> | undefined,
  };
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

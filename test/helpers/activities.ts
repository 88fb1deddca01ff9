/**
 * Activities under test: the real implementations over real dependencies (mssql against the simulator, the file
 * system, the stand-in shell as a process), run in Temporal's MockActivityEnvironment (heartbeats, cancellation).
 * Every input, output and failure is recorded so a test can prove no secret ever appears in them.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, type Activities } from '../../activities';
import { realDependencies, type ActivityDependencies } from '../../activities/dependencies';
import { EstateRegistry } from '../../activities/estates';
import type { Instance } from '../../topology/schema';
import { resolveSecret } from '../../topology/secrets';
import type { TestEstate } from './estate';

export interface ActivityHarness {
  deps: ActivityDependencies;
  activities: Activities;
  /** Runs one activity as Temporal would (heartbeats go to `onHeartbeat`); records its input and output. */
  run<K extends keyof Activities>(
    name: K,
    input: Parameters<Activities[K]>[0],
    options?: RunOptions,
  ): Promise<Awaited<ReturnType<Activities[K]>>>;
  /** Everything activities received and returned (failures included), as JSON. */
  recorded(): string;
  instance(name: string): Instance;
  close(): Promise<void>;
}

export interface RunOptions {
  heartbeatDetails?: unknown;
  onHeartbeat?: (details: unknown) => void;
  /** Receives the environment, e.g. to cancel the activity. */
  environment?: (environment: MockActivityEnvironment) => void;
}

export function activityHarness(env: TestEstate): ActivityHarness {
  const deps = realDependencies({ estates: EstateRegistry.open([env.topologyFile]), resolveSecret });
  const activities = createActivities(deps);
  const log: unknown[] = [];
  return {
    deps,
    activities,
    async run<K extends keyof Activities>(
      name: K,
      input: Parameters<Activities[K]>[0],
      options: RunOptions = {},
    ): Promise<Awaited<ReturnType<Activities[K]>>> {
      // Failures are what these tests look at: the environment need not log them too.
      const environment = new MockActivityEnvironment(
        { attempt: 1, heartbeatDetails: options.heartbeatDetails, heartbeatTimeoutMs: 60_000 },
        { logger: new DefaultLogger('ERROR') },
      );
      if (options.onHeartbeat) environment.on('heartbeat', options.onHeartbeat);
      options.environment?.(environment);
      log.push({ activity: name, input });
      try {
        const activity = activities[name] as unknown as (
          arg: typeof input,
        ) => Promise<Awaited<ReturnType<Activities[K]>>>;
        const output = (await environment.run(activity, input)) as Awaited<ReturnType<Activities[K]>>;
        log.push({ activity: name, output });
        return output;
      } catch (error) {
        log.push({
          activity: name,
          failure: { message: (error as Error).message, details: (error as { details?: unknown }).details },
        });
        throw error;
      }
    },
    recorded: () => JSON.stringify(log),
    instance: (name) => env.topology.instances.find((candidate) => candidate.name === name)!,
    close: async () => {
      deps.poolControl.closeAll?.();
      await deps.sql.closeAll();
    },
  };
}

/** The password of the simulated estate, which must never show up in anything recorded. */
export function simulatedPassword(env: TestEstate): string {
  return resolveSecret(env.topology.instances[0].password);
}

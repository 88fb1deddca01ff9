/**
 * The steps about a run's estate: loading it from the worker's own file (activities/estates.ts) and confirming a
 * rehearsal estate is the simulator.
 */
import type { ActivityDependencies } from './dependencies';
import type { LoadedEstate } from './estates';
import { StepClock, type StepResult } from './step-result';

/** The marker only the pchat-dr simulator answers: SQL Server returns NULL for a property it does not know. */
const SIMULATOR_MARKER = "SELECT CAST(SERVERPROPERTY('PchatDrSimulator') AS nvarchar(128)) AS marker";

export function estateActivities(deps: ActivityDependencies) {
  return {
    /** A run's first step: the pool's estate from the worker's own file, with the file's digest for the report. */
    async loadEstate(input: { pool: string }): Promise<StepResult<LoadedEstate>> {
      const clock = new StepClock(deps.clock);
      const estate = deps.estates.load(input.pool);
      return clock.observed(
        `estate of ${estate.pool} from ${estate.file} (sha256 ${estate.digest.slice(0, 12)})`,
        estate,
      );
    },

    /**
     * Whether every instance of the pool's estate answers as the pchat-dr simulator: a rehearsal's gates are answered
     * for the drill only then, whatever the estate file says (a `simulated: true` file pointing at real servers gets
     * no auto-approval).
     */
    async confirmSimulatedEstate(input: {
      pool: string;
    }): Promise<StepResult<{ confirmed: boolean; instances: { instance: string; marker: string | null }[] }>> {
      const clock = new StepClock(deps.clock);
      const { topology } = deps.estates.load(input.pool);
      const instances = await Promise.all(
        topology.instances.map(async (instance) => {
          try {
            const row = await deps.sql.firstRow<{ marker: string | null }>(instance, SIMULATOR_MARKER);
            return { instance: instance.name, marker: row?.marker ?? null };
          } catch (error) {
            return { instance: instance.name, marker: null, problem: (error as Error).message };
          }
        }),
      );
      const confirmed = topology.simulated && instances.every((instance) => instance.marker !== null);
      const others = instances.filter((instance) => instance.marker === null).map((instance) => instance.instance);
      const summary = confirmed
        ? `every instance of ${input.pool} answers as the pchat-dr simulator`
        : !topology.simulated
          ? `${input.pool} is not a rehearsal estate (simulated: false)`
          : `${others.join(', ')} did not answer as the pchat-dr simulator`;
      return clock.observed(summary, { confirmed, instances });
    },
  };
}

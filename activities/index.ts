/**
 * Every activity the worker serves, built over injected dependencies (activities/dependencies.ts): the worker wires
 * the real ones; workflows see only the type (`import type { Activities }`).
 */
import { agentJobActivities } from './agent-jobs';
import { chatStoreActivities } from './chat-store';
import type { ActivityDependencies } from './dependencies';
import { drillActivities } from './drill';
import { estateActivities } from './estate-steps';
import { evidenceActivities } from './evidence';
import { filesActivities } from './files';
import { keepAlive } from './heartbeat';
import { incidentActivities } from './incidents';
import { logShippingActivities } from './log-shipping';
import { mirroringActivities } from './mirroring';
import { notifyActivities } from './notify';
import { poolControlActivities } from './pool-control';
import { restoreActivities } from './restore';
import { signatureActivities } from './signatures';

/** The families of activities, each built over the same dependencies. */
const FAMILIES = [
  estateActivities,
  mirroringActivities,
  logShippingActivities,
  agentJobActivities,
  restoreActivities,
  filesActivities,
  evidenceActivities,
  poolControlActivities,
  notifyActivities,
  incidentActivities,
  drillActivities,
  signatureActivities,
  chatStoreActivities,
] as const;

/** Every family's activities in one object, typed as all of them at once. */
type AllOf<Built> = (Built extends unknown ? (all: Built) => void : never) extends (all: infer Every) => void
  ? Every
  : never;

export function createActivities(deps: ActivityDependencies) {
  const activities = Object.assign({}, ...FAMILIES.map((family) => family(deps))) as AllOf<
    ReturnType<(typeof FAMILIES)[number]>
  >;
  // Every step heartbeats while it runs: a dead worker is noticed within the heartbeat timeout (activities/heartbeat.ts).
  return Object.fromEntries(
    Object.entries(activities).map(([name, activity]) => [
      name,
      keepAlive(activity as (...input: unknown[]) => Promise<unknown>),
    ]),
  ) as typeof activities;
}

export type Activities = ReturnType<typeof createActivities>;

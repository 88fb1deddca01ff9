/**
 * `pchat-dr worker`: runs the worker process (worker/main.ts) in the foreground until SIGINT/SIGTERM. Every flag
 * has a PCHAT_DR_* variable; the Temporal connection comes from TEMPORAL_* / temporal.toml (docs/operations.md).
 */
import { Command } from 'commander';
import { DEFAULT_TASK_QUEUE } from '../../runtime/temporal-connection';
import {
  DEFAULT_LOG_LEVEL,
  DEFAULT_METRICS_ADDRESS,
  DEFAULT_SHUTDOWN_GRACE,
  LOG_LEVELS,
  type WorkerFlags,
} from '../../worker/settings';

export function workerCommand(): Command {
  return (
    new Command('worker')
      .description('run the worker that executes every runbook (until SIGINT/SIGTERM; logs are JSON lines on stdout)')
      .option(
        '--estate <file-or-folder>',
        "a topology file of a pool this worker serves, or a folder of them; repeat for more (env PCHAT_DR_ESTATES, ':'-separated); runs name only their pool",
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option('--task-queue <name>', `task queue to serve (env PCHAT_DR_TASK_QUEUE; default ${DEFAULT_TASK_QUEUE})`)
      .option(
        '--metrics <ip:port|off>',
        `Prometheus endpoint (env PCHAT_DR_METRICS_ADDRESS; default ${DEFAULT_METRICS_ADDRESS})`,
      )
      .option('--log-level <level>', `${LOG_LEVELS.join(', ')} (env PCHAT_DR_LOG_LEVEL; default ${DEFAULT_LOG_LEVEL})`)
      .option(
        '--shutdown-grace <duration>',
        `how long running activities may take to finish after a stop signal, e.g. 30s, 5m (env PCHAT_DR_SHUTDOWN_GRACE; default ${DEFAULT_SHUTDOWN_GRACE})`,
      )
      .option(
        '--workflow-bundle <file>',
        'prebuilt workflow bundle (env PCHAT_DR_WORKFLOW_BUNDLE; default dist/workflow-bundle.js)',
      )
      // Loaded on use: the Temporal worker package takes most of a second to load, which other commands need not pay.
      .action((options: WorkerFlags) =>
        (require('../../worker/main') as typeof import('../../worker/main')).runWorker(options),
      )
  );
}

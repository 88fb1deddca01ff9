/**
 * Tells people: a webhook POST of a gate or report event as JSON (the topology's notifications.webhook), retried
 * within the attempt and then by Temporal. No webhook configured: nothing to do.
 */
import type { ActivityDependencies } from './dependencies';
import { stepFailure } from './failures';
import { StepClock, type StepResult } from './step-result';

export interface NotificationEvent {
  kind:
    | 'gate-opened'
    | 'gate-escalated'
    | 'gate-timed-out'
    | 'run-finished'
    | 'run-failed'
    | 'drill-failed'
    | 'objective-missed';
  pool: string;
  runbook: string;
  workflowId: string;
  /** One line for a chat channel. */
  summary: string;
  gate?: string;
  /** People the event is for (approvers, the escalation list). */
  recipients?: string[];
  [key: string]: unknown;
}

const ATTEMPTS = 3;

export function notifyActivities(deps: ActivityDependencies) {
  return {
    async notify(input: {
      webhook?: string;
      event: NotificationEvent;
    }): Promise<StepResult<{ webhook: string | null }, { status: number | null; attempts: number }>> {
      const clock = new StepClock(deps.clock);
      if (!input.webhook)
        return clock.skipped(
          'no webhook configured (notifications.webhook)',
          { webhook: null },
          { status: null, attempts: 0 },
        );
      const body = { ...input.event, sentAt: deps.clock().toISOString() };
      let lastProblem = '';
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        try {
          const status = await deps.notifier.post(input.webhook, body, 10_000);
          if (status >= 200 && status < 300)
            return clock.acted(
              `notified ${input.webhook}: ${input.event.summary}`,
              { webhook: input.webhook },
              { status, attempts: attempt },
            );
          // A 4xx means the receiver refuses this request: retrying the same body will not help.
          if (status >= 400 && status < 500)
            throw stepFailure('NotificationFailed', `${input.webhook} refused the notification with HTTP ${status}`, {
              status,
            });
          lastProblem = `HTTP ${status}`;
        } catch (error) {
          if ((error as { type?: string }).type === 'NotificationFailed') throw error;
          lastProblem = (error as Error).message;
        }
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      }
      throw stepFailure(
        'NotReachable',
        `${input.webhook} did not take the notification after ${ATTEMPTS} attempts (${lastProblem})`,
        { webhook: input.webhook },
      );
    },
  };
}

/**
 * Tells people: a webhook POST of a gate or report event as JSON (the topology's notifications.webhook, a secret
 * reference), retried within the attempt and then by Temporal. No webhook configured: nothing to do.
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

/** The webhook's URL from its secret reference; only http(s) (a file: or data: URL would read or leak locally). */
function webhookUrl(deps: ActivityDependencies, reference: string): string {
  let url: URL;
  try {
    url = new URL(deps.resolveSecret(reference));
  } catch (error) {
    const why = error instanceof TypeError ? 'it is not a URL' : (error as Error).message;
    throw stepFailure('SecretUnavailable', `the webhook ${reference} cannot be used: ${why}`, { webhook: reference });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw stepFailure(
      'SecretUnavailable',
      `the webhook ${reference} is a ${url.protocol} URL: only http(s) is posted to`,
      {
        webhook: reference,
      },
    );
  return url.href;
}

/**
 * Where to answer an opened or escalated gate: its page in the approval console (the estate's console.url), so a
 * chat message leads straight to the gate. Read from the worker's estate; none when the estate names no console.
 */
export function consoleLinkOf(
  deps: Pick<ActivityDependencies, 'estates'>,
  event: NotificationEvent,
): { console?: string; summary?: string } {
  if (!event.gate || (event.kind !== 'gate-opened' && event.kind !== 'gate-escalated')) return {};
  let base: string | undefined;
  try {
    base = deps.estates.load(event.pool).topology.console?.url;
  } catch {
    return {};
  }
  if (!base) return {};
  const link = new URL(
    `runs/${encodeURIComponent(event.workflowId)}/gates/${encodeURIComponent(event.gate)}`,
    base.endsWith('/') ? base : `${base}/`,
  ).href;
  return { console: link, summary: `${event.summary} (answer: ${link})` };
}

export function notifyActivities(deps: ActivityDependencies) {
  return {
    /**
     * POSTs the event to the webhook its secret reference names (the topology's notifications.webhook). Results and
     * failures name the reference, never the URL, which may carry a token.
     */
    async notify(input: {
      webhook?: string;
      event: NotificationEvent;
    }): Promise<StepResult<{ webhook: string | null }, { status: number | null; attempts: number }>> {
      const clock = new StepClock(deps.clock);
      const reference = input.webhook;
      if (!reference)
        return clock.skipped(
          'no webhook configured (notifications.webhook)',
          { webhook: null },
          { status: null, attempts: 0 },
        );
      const url = webhookUrl(deps, reference);
      const body = { ...input.event, ...consoleLinkOf(deps, input.event), sentAt: deps.clock().toISOString() };
      let lastProblem = '';
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        try {
          const status = await deps.notifier.post(url, body, 10_000);
          if (status >= 200 && status < 300)
            return clock.acted(
              `notified the webhook ${reference}: ${input.event.summary}`,
              { webhook: reference },
              { status, attempts: attempt },
            );
          // A 4xx means the receiver refuses this request: retrying the same body will not help.
          if (status >= 400 && status < 500)
            throw stepFailure(
              'NotificationFailed',
              `the webhook ${reference} refused the notification with HTTP ${status}`,
              {
                status,
              },
            );
          lastProblem = `HTTP ${status}`;
        } catch (error) {
          if ((error as { type?: string }).type === 'NotificationFailed') throw error;
          // fetch's own errors may quote the URL: say what kind of failure it was, not where.
          lastProblem = (error as Error).name === 'TimeoutError' ? 'timed out' : 'the connection failed';
        }
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      }
      throw stepFailure(
        'NotReachable',
        `the webhook ${reference} did not take the notification after ${ATTEMPTS} attempts (${lastProblem})`,
        { webhook: reference },
      );
    },
  };
}

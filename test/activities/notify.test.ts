/**
 * Webhook notifications, received by a local HTTP server: JSON posted, a failing receiver retried, a refusing one
 * reported, no webhook skipped.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { realDependencies } from '../../activities/dependencies';
import type { NotificationEvent } from '../../activities/notify';
import { webhookReceiver, type WebhookReceiver } from '../helpers/webhook';

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

async function receiver(statuses: number[]): Promise<WebhookReceiver> {
  const started = await webhookReceiver(statuses);
  receivers.push(started);
  return started;
}

const event: NotificationEvent = {
  kind: 'gate-opened',
  pool: 'pchat.sim.local',
  runbook: 'failover',
  workflowId: 'failover-pchat.sim.local',
  gate: 'declare-disaster',
  summary: 'failover waits for declare-disaster',
};
const activities = createActivities(realDependencies());
const notify = (webhook: string | undefined): ReturnType<typeof activities.notify> =>
  new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') }).run(activities.notify, {
    webhook,
    event,
  }) as ReturnType<typeof activities.notify>;

describe('notify', () => {
  it('POSTs the event as JSON', async () => {
    const hook = await receiver([204]);
    const result = await notify(hook.url);
    expect(result).toMatchObject({ outcome: 'acted', figures: { status: 204, attempts: 1 } });
    expect(hook.received).toEqual([
      { contentType: 'application/json', body: expect.objectContaining({ ...event, sentAt: expect.any(String) }) },
    ]);
  });

  it('retries a receiver that fails, and stops at one that refuses', async () => {
    const flaky = await receiver([503, 200]);
    expect((await notify(flaky.url)).figures.attempts).toBe(2);
    const refusing = await receiver([403]);
    await expect(notify(refusing.url)).rejects.toMatchObject({ type: 'NotificationFailed', nonRetryable: true });
    expect(refusing.received).toHaveLength(1);
  });

  it('skips when no webhook is configured', async () => {
    expect(await notify(undefined)).toMatchObject({
      outcome: 'skipped',
      summary: 'no webhook configured (notifications.webhook)',
    });
  });
});

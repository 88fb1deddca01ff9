/**
 * Webhook notifications, received by a local HTTP server: JSON posted, a failing receiver retried, a refusing one
 * reported, no webhook skipped; the webhook is a secret reference whose URL never shows in results or failures, and
 * only http(s) URLs are posted to.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import path from 'node:path';
import { realDependencies } from '../../activities/dependencies';
import { EstateRegistry } from '../../activities/estates';
import { PROJECT_ROOT } from '../../runtime/package';
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
const activities = createActivities(
  realDependencies({ estates: EstateRegistry.open([path.join(PROJECT_ROOT, 'examples', 'simulated.yaml')]) }),
);
/** Notifies the webhook a secret reference names: the topology never holds the URL itself. */
const notifyReference = (webhook: string | undefined): ReturnType<typeof activities.notify> =>
  new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') }).run(activities.notify, {
    webhook,
    event,
  }) as ReturnType<typeof activities.notify>;
/** Notifies a URL through an env: reference to it. */
const notify = (url: string | undefined): ReturnType<typeof activities.notify> => {
  if (url === undefined) return notifyReference(undefined);
  process.env.PCHAT_DR_TEST_WEBHOOK = url;
  return notifyReference('env:PCHAT_DR_TEST_WEBHOOK');
};

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

  it('names the secret reference, never the URL, in what it returns and how it fails', async () => {
    const hook = await receiver([204, 403]);
    const secretUrl = `${hook.url}?token=s3cret`;
    expect(JSON.stringify(await notify(secretUrl))).not.toContain('s3cret');
    const refused = await notify(secretUrl).catch((error: unknown) => error);
    expect(
      JSON.stringify({ message: (refused as Error).message, details: (refused as { details?: unknown }).details }),
    ).not.toContain('s3cret');
    expect((refused as Error).message).toContain('env:PCHAT_DR_TEST_WEBHOOK');
  });

  it('posts only to http(s): a file: or javascript: URL, or a reference that does not resolve, is refused', async () => {
    for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'not a url']) {
      await expect(notify(url)).rejects.toMatchObject({ type: 'SecretUnavailable', nonRetryable: true });
    }
    await expect(notifyReference('env:PCHAT_DR_NO_SUCH_VARIABLE')).rejects.toMatchObject({ type: 'SecretUnavailable' });
  });

  it('skips when no webhook is configured', async () => {
    expect(await notify(undefined)).toMatchObject({
      outcome: 'skipped',
      summary: 'no webhook configured (notifications.webhook)',
    });
  });
});

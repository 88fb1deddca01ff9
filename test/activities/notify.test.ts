/**
 * Webhook notifications, received by a local HTTP server: JSON posted, a failing receiver retried, a refusing one
 * reported, no webhook skipped.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { realDependencies } from '../../activities/dependencies';
import type { NotificationEvent } from '../../activities/notify';

let server: http.Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A receiver answering each POST with the next status of `statuses` (the last one repeats). */
async function receiver(statuses: number[]): Promise<{ url: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  server = http.createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      bodies.push({ contentType: request.headers['content-type'], body: JSON.parse(text) });
      response.writeHead(statuses[Math.min(bodies.length - 1, statuses.length - 1)]);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/hook`, bodies };
}

const event: NotificationEvent = { kind: 'gate-opened', pool: 'pchat.sim.local', runbook: 'failover', workflowId: 'failover-pchat.sim.local', gate: 'declare-disaster', summary: 'failover waits for declare-disaster' };
const activities = createActivities(realDependencies());
const notify = (webhook: string | undefined): ReturnType<typeof activities.notify> =>
  new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') }).run(activities.notify, { webhook, event }) as ReturnType<typeof activities.notify>;

describe('notify', () => {
  it('POSTs the event as JSON', async () => {
    const hook = await receiver([204]);
    const result = await notify(hook.url);
    expect(result).toMatchObject({ outcome: 'acted', figures: { status: 204, attempts: 1 } });
    expect(hook.bodies).toEqual([{ contentType: 'application/json', body: expect.objectContaining({ ...event, sentAt: expect.any(String) }) }]);
  });

  it('retries a receiver that fails, and stops at one that refuses', async () => {
    const flaky = await receiver([503, 200]);
    expect((await notify(flaky.url)).figures.attempts).toBe(2);
    server!.close();
    const refusing = await receiver([403]);
    await expect(notify(refusing.url)).rejects.toMatchObject({ type: 'NotificationFailed', nonRetryable: true });
    expect(refusing.bodies).toHaveLength(1);
  });

  it('skips when no webhook is configured', async () => {
    expect(await notify(undefined)).toMatchObject({ outcome: 'skipped', summary: 'no webhook configured (notifications.webhook)' });
  });
});

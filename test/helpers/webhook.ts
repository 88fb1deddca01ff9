/**
 * A local webhook receiver: records every JSON POST and answers with the next status of `statuses` (the last
 * repeats). A topology names it by `reference`, a file: secret reference to its URL (the URL itself never goes in).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface WebhookReceiver {
  url: string;
  /** file:/... a topology's notifications.webhook names it by. */
  reference: string;
  /** Each POST: its content type and parsed body, in arrival order. */
  received: { contentType: string | undefined; body: Record<string, unknown> }[];
  close(): Promise<void>;
}

export async function webhookReceiver(statuses: number[] = [204]): Promise<WebhookReceiver> {
  const received: WebhookReceiver['received'] = [];
  const server = http.createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      received.push({ contentType: request.headers['content-type'], body: JSON.parse(text) });
      response.writeHead(statuses[Math.min(received.length - 1, statuses.length - 1)]);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-webhook-')), 'url');
  writeFileSync(file, `${url}\n`);
  return {
    url,
    reference: `file:${file}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

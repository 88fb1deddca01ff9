/** A local webhook receiver: records every JSON POST and answers with the next status of `statuses` (the last repeats). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  url: string;
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
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

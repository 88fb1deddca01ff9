/**
 * The simulator's control API: the faults and reads of SimulatedEstate over HTTP on loopback, so `pchat-dr sim
 * status|fault|chat` (another process) can drive a running `pchat-dr sim start`. The address is written to
 * <state folder>/control.json while the simulator runs.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FaultDatabaseState, SimulatedEstate } from './estate';
import type { EstateSnapshot } from './estate-snapshot';

/** Every fault the simulator can inject, as the CLI and the HTTP API name them. */
export type Fault =
  | { kind: 'stop' | 'start' | 'rebuild' | 'stop-agent' | 'start-agent' | 'accept-logins' | 'clear'; instance: string }
  | { kind: 'partition' | 'heal'; instance: string; other: string }
  | { kind: 'latency' | 'slow-jobs'; instance: string; ms: number }
  | { kind: 'refuse-logins'; instance: string; error?: number }
  | { kind: 'db-state'; instance: string; database: string; state: FaultDatabaseState }
  | { kind: 'fail-next'; instance: string; pattern: string; error: number; message?: string; count?: number }
  | { kind: 'delete-backup' | 'corrupt-backup'; file: string }
  | { kind: 'pause-job' | 'resume-job'; instance: string; job: string };

export type ChatCommand = { action: 'start'; rate?: number } | { action: 'stop' };

export const FAULT_KINDS = [
  'stop',
  'start',
  'rebuild',
  'partition',
  'heal',
  'latency',
  'fail-next',
  'refuse-logins',
  'accept-logins',
  'db-state',
  'delete-backup',
  'corrupt-backup',
  'pause-job',
  'resume-job',
  'slow-jobs',
  'stop-agent',
  'start-agent',
  'clear',
] as const;

export async function applyFault(estate: SimulatedEstate, fault: Fault): Promise<string> {
  switch (fault.kind) {
    case 'stop':
      await estate.stopInstance(fault.instance);
      return `${fault.instance} stopped: its port refuses connections`;
    case 'start':
      await estate.startInstance(fault.instance);
      return `${fault.instance} started`;
    case 'rebuild':
      await estate.rebuildInstance(fault.instance);
      return `${fault.instance} rebuilt: fresh databases, no mirroring, no log shipping`;
    case 'partition':
      estate.partition(fault.instance, fault.other);
      return `${fault.instance} and ${fault.other} can no longer reach each other`;
    case 'heal':
      estate.heal(fault.instance, fault.other);
      return `${fault.instance} and ${fault.other} can reach each other again`;
    case 'latency':
      estate.setLatency(fault.instance, fault.ms);
      return `${fault.instance} answers every request ${fault.ms} ms late`;
    case 'fail-next':
      estate.failNext(
        fault.instance,
        fault.pattern,
        { number: fault.error, message: fault.message ?? `Injected failure ${fault.error}.` },
        fault.count ?? 1,
      );
      return `the next ${fault.count ?? 1} statement(s) on ${fault.instance} matching /${fault.pattern}/i fail with error ${fault.error}`;
    case 'refuse-logins':
      estate.refuseLogins(fault.instance, fault.error);
      return `logins to ${fault.instance} fail with error ${fault.error ?? 18456}; its port still answers`;
    case 'accept-logins':
      estate.acceptLogins(fault.instance);
      return `logins to ${fault.instance} succeed again`;
    case 'db-state':
      estate.setDatabaseState(fault.instance, fault.database, fault.state);
      return `${fault.database} on ${fault.instance} is ${fault.state}`;
    case 'slow-jobs':
      estate.setJobStepDelay(fault.instance, fault.ms);
      return `every job step on ${fault.instance} runs ${fault.ms} ms longer`;
    case 'clear':
      estate.clearFaults(fault.instance);
      return `faults on ${fault.instance} cleared`;
    case 'delete-backup':
      estate.deleteBackupFile(fault.file);
      return `${fault.file} deleted`;
    case 'corrupt-backup':
      estate.corruptBackupFile(fault.file);
      return `${fault.file} damaged`;
    case 'pause-job':
    case 'resume-job':
      estate.setJobEnabled(fault.instance, fault.job, fault.kind === 'resume-job');
      return `job ${fault.job} on ${fault.instance} ${fault.kind === 'pause-job' ? 'disabled' : 'enabled'}`;
    case 'stop-agent':
    case 'start-agent':
      estate.setAgentRunning(fault.instance, fault.kind === 'start-agent');
      return `SQL Server Agent on ${fault.instance} ${fault.kind === 'start-agent' ? 'started' : 'stopped'}`;
  }
}

export interface ControlEndpoint {
  url: string;
  pid: number;
  startedAt: string;
}

export function controlFileOf(stateDir: string): string {
  return path.join(stateDir, 'control.json');
}

/** Serves the control API; returns its URL and a function that stops it (and removes control.json). */
export async function serveControl(
  estate: SimulatedEstate,
  stateDir: string,
  port = 0,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((request, response) => {
    void handle(estate, request).then(
      ({ status, body }) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)),
        );
      },
      (err: Error) => {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: err.message }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const endpoint: ControlEndpoint = { url, pid: process.pid, startedAt: new Date().toISOString() };
  writeFileSync(controlFileOf(stateDir), `${JSON.stringify(endpoint, null, 2)}\n`);
  return {
    url,
    close: async () => {
      rmSync(controlFileOf(stateDir), { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(
  estate: SimulatedEstate,
  request: http.IncomingMessage,
): Promise<{ status: number; body: unknown }> {
  const body = await readBody(request);
  try {
    if (request.method === 'GET' && request.url === '/state') return { status: 200, body: estate.snapshot() };
    if (request.method === 'POST' && request.url === '/faults')
      return { status: 200, body: { done: await applyFault(estate, body as Fault) } };
    if (request.method === 'POST' && request.url === '/chat') {
      const command = body as ChatCommand;
      if (command.action === 'start') estate.chat.start(command.rate ?? 5);
      else estate.chat.stop();
      return { status: 200, body: estate.chat.snapshot() };
    }
    return { status: 404, body: { error: `no ${request.method} ${request.url} in the simulator control API` } };
  } catch (err) {
    // A fault that cannot apply (unknown instance, missing file ...) is the caller's mistake.
    return { status: 400, body: { error: (err as Error).message } };
  }
}

function readBody(request: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch (err) {
        reject(err);
      }
    });
    request.on('error', reject);
  });
}

export class SimulatorNotRunning extends Error {
  constructor(stateDir: string, reason: string) {
    super(
      `no simulator is running for state folder ${stateDir} (${reason}); start one with pchat-dr sim start -f <topology>`,
    );
    this.name = 'SimulatorNotRunning';
  }
}

/** A client of a running simulator's control API, found through its control.json. */
export class ControlClient {
  constructor(private readonly url: string) {}

  static forStateDir(stateDir: string): ControlClient {
    let endpoint: ControlEndpoint;
    try {
      endpoint = JSON.parse(readFileSync(controlFileOf(stateDir), 'utf8')) as ControlEndpoint;
    } catch {
      throw new SimulatorNotRunning(stateDir, 'no control.json');
    }
    return new ControlClient(endpoint.url);
  }

  state(): Promise<EstateSnapshot> {
    return this.call('GET', '/state') as Promise<EstateSnapshot>;
  }

  async fault(fault: Fault): Promise<string> {
    return ((await this.call('POST', '/faults', fault)) as { done: string }).done;
  }

  chat(command: ChatCommand): Promise<unknown> {
    return this.call('POST', '/chat', command);
  }

  private async call(method: string, route: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${route}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new SimulatorNotRunning(this.url, `cannot reach ${this.url}: ${(err as Error).message}`);
    }
    const result = (await response.json()) as { error?: string };
    if (!response.ok) throw new Error(result.error ?? `${method} ${route} answered ${response.status}`);
    return result;
  }
}

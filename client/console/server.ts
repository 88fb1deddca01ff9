/**
 * The approval console's web server (Hono on Node): pages that read runs through the Temporal client, forms that
 * answer them through the runs' updates, and the enrolment of passkeys. It holds no secret of the estate and
 * verifies no signature: the worker does. Bound to loopback unless told otherwise.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Client } from '@temporalio/client';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { CliError } from '../../runtime/exit';
import { PROJECT_ROOT } from '../../runtime/package';
import type { RelyingParty } from '../../signatures/passkey-verify';
import { firstLine } from '../run-access';
import { AnswerRefused, issueStatement, IssuedStatements, parseAnswerFields, sendAnswer } from './answers';
import { Enrolment } from './enrol';
import { answerPage, enrolPage, errorPage, runLink, runsPage } from './pages';
import { planNextSteps } from './plan';
import { liveParts, runPage } from './run-page';
import { openRuns, runView } from './runs';
import { CsrfGuard, securityHeaders } from './security';

export interface ConsoleOptions {
  client: Client;
  taskQueue: string;
  /** Where to listen: loopback by default. */
  host: string;
  port: number;
  /** The address people open (the estate's console.url): its origin and host are what passkeys sign for. */
  url?: string;
}

export interface RunningConsole {
  /** The address people open. */
  url: string;
  /** Where it listens (host:port). */
  listening: string;
  close(): Promise<void>;
}

const ASSETS = path.join(PROJECT_ROOT, 'client', 'console', 'assets');
const ASSET_TYPES: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

/** A workflow id from a path: what Temporal accepts, no control characters, at most 255 characters. */
function workflowIdOf(c: Context): string {
  const id = c.req.param('id') ?? '';
  if (id.length === 0 || id.length > 255 || /\p{Cc}/u.test(id))
    throw new AnswerRefused('that is not a run id: open the run from the list of open runs');
  return id;
}

/** The form's fields as text (a file upload is not an answer). */
async function formOf(c: Context): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (typeof value !== 'string') throw new AnswerRefused(`the form field ${key} must be text`);
    fields[key] = value;
  }
  return fields;
}

const wantsJson = (c: Context) => (c.req.header('accept') ?? '').includes('application/json');

export function consoleApp(options: ConsoleOptions & { url: string }) {
  const { client, taskQueue } = options;
  const origin = new URL(options.url).origin;
  const relyingParty: RelyingParty = { origin, rpId: new URL(options.url).hostname };
  const csrf = new CsrfGuard(origin);
  const issued = new IssuedStatements();
  const enrolment = new Enrolment(relyingParty);
  const assets = new Map(
    Object.keys(ASSET_TYPES).map((name) => [name, readFileSync(path.join(ASSETS, name), 'utf8')] as const),
  );
  const app = new Hono();
  app.use(securityHeaders());
  app.use(async (c, next) => {
    await next();
    if (!c.req.path.startsWith('/assets/')) c.header('Cache-Control', 'no-store');
  });
  app.use(
    bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.html(errorPage('Too large', 'The form is too large.'), 413) }),
  );
  // Every POST: the CSRF token of this browser, from the console's own origin.
  app.use(async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const fields = await formOf(c);
    const refusal = csrf.refusal(c, fields.csrf);
    if (refusal)
      return wantsJson(c)
        ? c.json({ counted: false, error: refusal, message: refusal }, 403)
        : c.html(errorPage('Refused', refusal), 403);
    c.set('form' as never, fields as never);
    return next();
  });
  const form = (c: Context) => c.get('form' as never) as Record<string, string>;

  app.get('/assets/:name', (c) => {
    const name = c.req.param('name');
    const body = assets.get(name);
    if (!body) return c.notFound();
    c.header('Content-Type', ASSET_TYPES[name]);
    c.header('Cache-Control', 'no-cache');
    return c.body(body);
  });

  app.get('/', async (c) => {
    const runs = await openRuns(client, taskQueue);
    return c.html(runsPage(runs, { namespace: client.options.namespace, taskQueue }));
  });

  app.get('/runs/:id', async (c) => c.html(runPage(await runView(client, workflowIdOf(c)), csrf.token(c))));

  app.get('/runs/:id/live', async (c) => c.json(liveParts(await runView(client, workflowIdOf(c)), csrf.token(c))));

  // The link a notification carries: the run's page, at the gate.
  app.get('/runs/:id/gates/:gate', (c) =>
    c.redirect(`${runLink(workflowIdOf(c))}#gate-${encodeURIComponent(c.req.param('gate'))}`, 303),
  );

  app.post('/runs/:id/statement', async (c) => {
    const fields = parseAnswerFields(form(c));
    const { statement, challenge } = await issueStatement(client, workflowIdOf(c), fields, issued);
    return c.json({ statement, challenge, rpId: relyingParty.rpId });
  });

  app.post('/runs/:id/answer', async (c) => {
    const workflowId = workflowIdOf(c);
    let outcome: { counted: boolean; message: string };
    try {
      outcome = await sendAnswer(client, workflowId, parseAnswerFields(form(c)), issued);
    } catch (error) {
      if (!(error instanceof AnswerRefused) && !(error instanceof CliError)) throw error;
      outcome = { counted: false, message: error.message };
    }
    return wantsJson(c) ? c.json(outcome) : c.html(answerPage(workflowId, outcome), outcome.counted ? 200 : 409);
  });

  // A dry run of the same runbook: what its next steps will send (the plan is on the dry run's own page).
  app.post('/runs/:id/plan', async (c) =>
    c.redirect(runLink(await planNextSteps(client, workflowIdOf(c), taskQueue)), 303),
  );

  app.get('/enrol', (c) => c.html(enrolPage(csrf.token(c), relyingParty)));
  app.post('/enrol/options', async (c) => c.json(await enrolment.options(form(c))));
  app.post('/enrol/verify', async (c) => c.json(await enrolment.verify(form(c))));

  app.notFound((c) => c.html(errorPage('Not found', `The console has no page ${c.req.path}.`), 404));
  app.onError((error, c) => {
    // Say what to fix; never a stack (nor anything else the process holds).
    const known = error instanceof AnswerRefused || error instanceof CliError;
    const message = known ? error.message : `the console could not do that: ${firstLine(error)}`;
    const status = error instanceof CliError && /^no run with id/.test(error.message) ? 404 : known ? 409 : 500;
    if (wantsJson(c) || c.req.path.endsWith('/live') || c.req.method === 'POST')
      return c.json({ counted: false, error: message, message }, status);
    return c.html(errorPage(status === 404 ? 'No such run' : 'Cannot show that', message), status);
  });
  return app;
}

/** Starts the console; resolves once it listens. */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  let server: ServerType | undefined;
  // The URL may name the port the console is about to take (port 0: the one it gets): build the app once it listens.
  const built: { app?: Hono } = {};
  const fetchWith = (request: Request) => built.app!.fetch(request);
  const address = await new Promise<AddressInfo>((resolve, reject) => {
    server = serve({ fetch: fetchWith, hostname: options.host, port: options.port }, (info) => resolve(info));
    server.once('error', reject);
  });
  const url = options.url ?? `http://localhost:${address.port}/`;
  built.app = consoleApp({ ...options, url });
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: url.endsWith('/') ? url : `${url}/`,
    listening: `${host}:${address.port}`,
    close: () => new Promise<void>((resolve) => server!.close(() => resolve())),
  };
}

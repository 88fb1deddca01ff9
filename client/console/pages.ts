/**
 * The console's pages around the run page: the layout every page shares, the list of open runs, the enrolment page,
 * an answer's result for a browser without JavaScript, and error pages that say what to fix. Server-rendered HTML;
 * the one script (assets/console.js) only adds live updates and passkeys.
 */
import { durationMs } from '../../topology/durations';
import { policyText } from '../report-view';
import { ago, html, time, type Html } from './html';
import { gateDeadlines, type OpenRun } from './runs';

export function layout(title: string, body: Html, options: { liveReading?: boolean } = {}): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>${title} · pchat-dr console</title>
        <link rel="stylesheet" href="/assets/console.css" />
        <script type="module" src="/assets/console.js"></script>
        ${options.liveReading ? html`<noscript><meta http-equiv="refresh" content="15" /></noscript>` : ''}
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">pchat-dr console</a>
          <nav><a href="/">Open runs</a> <a href="/enrol">Enrol a passkey</a></nav>
        </header>
        <main>${body}</main>
      </body>
    </html> `.text;
}

export const runLink = (workflowId: string) => `/runs/${encodeURIComponent(workflowId)}`;

function gateLine(run: OpenRun, now: number): Html[] {
  return run.gates.map((gate) => {
    const { escalatesAt, timesOutAt } = gateDeadlines(gate, durationMs);
    return html`<li class="gate-line">
      <a href="${runLink(run.workflowId)}#gate-${gate.id}"><strong>${gate.id}</strong></a
      >: ${gate.question}<br /><small
        >waiting ${ago(gate.openedAt, now)} (since ${time(gate.openedAt)});
        ${gate.kind === 'approval' ? `${new Set(gate.approvals.map((vote) => vote.by)).size} of ${gate.required} approvals; ` : ''}
        ${escalatesAt ? html`escalates ${gate.escalatedAt ? html`at ${time(gate.escalatedAt)} (done)` : time(escalatesAt)}; ` : ''}
        times out ${time(timesOutAt)}</small
      >
    </li>`;
  });
}

export function runsPage(runs: OpenRun[], context: { namespace: string; taskQueue: string }): string {
  const now = Date.now();
  const body = html`<h1>Open runs</h1>
    <p class="muted">
      Runbook runs still running in Temporal namespace <code>${context.namespace}</code>, task queue
      <code>${context.taskQueue}</code>, newest first.
    </p>
    ${
      runs.length === 0
        ? html`<p class="empty">No open runs. Start one with <code>pchat-dr run</code>; it shows here as it starts.</p>`
        : html`<ul class="runs">
            ${runs.map(
              (run) =>
                html`<li class="run-card">
                  <h2><a href="${runLink(run.workflowId)}">${run.runbook} on ${run.pool}</a></h2>
                  <p><code class="id">${run.workflowId}</code></p>
                  <p>
                    phase <strong>${run.phase}</strong>; started ${time(run.startedAt)} (${ago(run.startedAt, now)} ago)
                  </p>
                  ${
                    run.gates.length > 0
                      ? html`<ul class="gates">
                          ${gateLine(run, now)}
                        </ul>`
                      : html`<p class="muted">${run.unread ?? 'waits on no gate'}</p>`
                  }
                </li>`,
            )}
          </ul>`
    }`;
  return layout('Open runs', body, { liveReading: true });
}

export function enrolPage(csrf: string, rp: { origin: string; rpId: string }): string {
  const body = html`<h1>Enrol a passkey</h1>
    <p>
      Creates a passkey on this device (or a security key) for signing answers in the console at
      <code>${rp.origin}</code>. Enrolment grants nothing: it prints the line an administrator adds to the estate's
      passkeys file (<code>signatures.passkeys</code>); only then do your signatures count.
    </p>
    <form method="post" action="/enrol" data-enrol>
      <input type="hidden" name="csrf" value="${csrf}" />
      <label
        >Your name, as the estate's approval policy names you
        <input name="person" required maxlength="128" autocomplete="username" pattern="[A-Za-z0-9._@-]+"
      /></label>
      <button type="submit">Create a passkey</button>
    </form>
    <noscript><p class="refused">Creating a passkey needs JavaScript (the browser's WebAuthn API).</p></noscript>
    <p id="enrol-result" role="status" aria-live="polite"></p>
    <pre id="enrol-line" class="line" hidden></pre>`;
  return layout('Enrol a passkey', body);
}

/** An answer's outcome as a page (a browser without JavaScript posts the form and lands here). */
export function answerPage(workflowId: string, outcome: { counted: boolean; message: string }): string {
  const body = html`<h1>${outcome.counted ? 'Your answer counted' : 'Your answer did not count'}</h1>
    <p class="${outcome.counted ? 'counted' : 'refused'}" role="status">${outcome.message}</p>
    <p><a href="${runLink(workflowId)}">Back to the run</a></p>`;
  return layout(outcome.counted ? 'Counted' : 'Did not count', body);
}

export function errorPage(title: string, message: string, back?: { href: string; label: string }): string {
  const body = html`<h1>${title}</h1>
    <p class="refused" role="alert">${message}</p>
    <p><a href="${back?.href ?? '/'}">${back?.label ?? 'Open runs'}</a></p>`;
  return layout(title, body);
}

export { policyText };

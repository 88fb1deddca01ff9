/**
 * A run's page: where it stands, the gate it waits on (question, policy, approvals so far, the evidence rendered as
 * text, the form that answers it), its steps with status and times, the statements planned steps would send (the
 * dry-run renderer's), the abort form, and the report once it ended. The parts that change are rendered separately
 * so the page's script can swap them in without a reload (`livePart`).
 */
import { describeStep } from '../../activities/dry-run';
import type { PendingGate, Progress, RunbookReport, StepRecord } from '../../contracts/run-record';
import { durationMs, formatSeconds } from '../../topology/durations';
import { reportMarkdown } from '../report-markdown';
import { policyText } from '../report-view';
import { ago, html, markup, time, type Html } from './html';
import { layout } from './pages';
import { gateDeadlines, type RunView } from './runs';

/** Facts of the evidence: nested values as nested lists, never as JSON. */
function facts(value: unknown, depth = 0): Html {
  if (value === null || value === undefined) return html`<span class="muted">none</span>`;
  if (Array.isArray(value)) {
    if (value.length === 0) return html`<span class="muted">none</span>`;
    if (depth > 3) return html`${value.length} entries`;
    return html`<ol class="facts">
      ${value.map((item) => html`<li>${facts(item, depth + 1)}</li>`)}
    </ol>`;
  }
  if (typeof value === 'object') {
    if (depth > 3) return html`…`;
    const entries = Object.entries(value as Record<string, unknown>);
    return html`<dl class="facts">
      ${entries.map(
        ([key, item]) =>
          html`<dt>${key}</dt>
            <dd>${facts(item, depth + 1)}</dd>`,
      )}
    </dl>`;
  }
  return html`${String(value)}`;
}

function evidenceOf(gate: PendingGate): Html {
  const evidence = gate.evidence;
  if (!evidence) return html`<p class="muted">This gate has no evidence.</p>`;
  return html`<section class="evidence" aria-label="Evidence">
    <h3>Evidence</h3>
    <ul class="summary">
      ${evidence.summary.map((line) => html`<li>${line}</li>`)}
    </ul>
    <p class="muted">version <code class="digest">${evidence.version}</code>, taken ${time(evidence.takenAt)}</p>
    <details>
      <summary>All the facts it was computed from</summary>
      ${facts(evidence.material)}
    </details>
  </section>`;
}

function answerForm(workflowId: string, gate: PendingGate, csrf: string): Html {
  const base = `/runs/${encodeURIComponent(workflowId)}`;
  const buttons =
    gate.kind === 'decision'
      ? html`<input type="hidden" name="action" value="decide" /> ${(gate.choices ?? ['retry', 'abort']).map(
            (choice) =>
              html`<button type="submit" name="choice" value="${choice}" class="${choice === 'abort' ? 'danger' : ''}">
                ${choice[0].toUpperCase()}${choice.slice(1)}
              </button> `,
          )}`
      : html`<button type="submit" name="action" value="approve" class="primary">Approve</button>
          <button type="submit" name="action" value="reject" class="danger">Reject</button>`;
  return html`<form method="post" action="${base}/answer" class="answer" data-answer data-statement="${base}/statement">
    <input type="hidden" name="csrf" value="${csrf}" />
    <input type="hidden" name="gate" value="${gate.id}" />
    ${gate.kind === 'approval' ? html`<input type="hidden" name="evidenceVersion" value="${gate.evidence?.version ?? 'none'}" />` : ''}
    <label>Your name <input name="as" required maxlength="128" autocomplete="username" /></label>
    <label
      >${gate.kind === 'approval' ? 'Comment (approve) or reason (reject: required)' : 'Reason (required)'}
      <textarea name="text" rows="2" maxlength="2000"></textarea>
    </label>
    <label class="check"><input type="checkbox" name="sign" value="passkey" checked /> Sign with my passkey</label>
    <div class="buttons">${buttons}</div>
  </form>`;
}

function gateSection(workflowId: string, gate: PendingGate, csrf: string): Html {
  const { escalatesAt, timesOutAt } = gateDeadlines(gate, durationMs);
  const voters = gate.approvals;
  return html`<article class="gate" id="gate-${gate.id}">
    <h2>${gate.question}</h2>
    <p class="muted">
      gate <code>${gate.id}</code> (${gate.kind}), open since ${time(gate.openedAt)}, waiting ${ago(gate.openedAt)};
      ${escalatesAt ? html`escalates ${gate.escalatedAt ? 'done' : time(escalatesAt)}; ` : ''}times out
      ${time(timesOutAt)}
    </p>
    <p><strong>Policy:</strong> ${policyText(gate)}</p>
    ${
      gate.kind === 'approval'
        ? html`<p><strong>Approvals so far:</strong> ${voters.length === 0 ? 'none' : ''}</p>
            ${
              voters.length > 0
                ? html`<ul class="votes">
                    ${voters.map((vote) => html`<li>${vote.by} at ${time(vote.at)}${vote.signature ? html` <span class="signed">signed ${vote.signature}</span>` : ''}${vote.comment ? html`: “${vote.comment}”` : ''}</li>`)}
                  </ul>`
                : ''
            }`
        : ''
    }
    ${evidenceOf(gate)} ${answerForm(workflowId, gate, csrf)}
  </article>`;
}

function stepItem(step: StepRecord): Html {
  const summary =
    step.failure && step.status === 'failed'
      ? `${step.failure.type}: ${step.failure.message}`
      : (step.summary ?? step.title);
  return html`<li class="step status-${step.status}" data-step="${step.name}">
    <span class="step-status">${step.status}</span>
    <strong>${step.name}</strong>${step.target ? html` <small>on ${step.target}</small>` : ''} <br /><small
      >${time(step.startedAt)} →
      ${time(step.finishedAt)}${step.attempts > 1 ? `, ${step.attempts} attempts` : ''}</small
    >
    <p>${summary}</p>
  </li>`;
}

/** Steps that carry a plan (a dry run's): the exact T-SQL or cmdlet line each would send, from the dry-run renderer. */
function plans(steps: StepRecord[]): Html {
  const planned = steps.filter((step) => step.plan);
  if (planned.length === 0) return html``;
  return html`<section id="plan">
    <h2>What the steps would send</h2>
    ${planned.map((step) => {
      const plan = step.plan!;
      const lines =
        'runbook' in plan
          ? [`runs the ${plan.runbook} runbook as a child run`]
          : describeStep(plan.activity, plan.input);
      return html`<h3>${step.name}${step.target ? ` on ${step.target}` : ''}</h3>
        <pre class="sql">${lines.join('\n') || '-- reads only'}</pre>`;
    })}
  </section>`;
}

/** Asks for a dry run of this runbook: the exact statements its next steps will send. */
function planForm(base: string, csrf: string): Html {
  return html`<section id="next">
    <h2>What the next steps will send</h2>
    <form method="post" action="${base}/plan">
      <input type="hidden" name="csrf" value="${csrf}" />
      <p class="muted">
        A dry run of this runbook with the same options, on the estate as it is now: every step, its server and the
        exact T-SQL or cmdlet line. It changes nothing.
      </p>
      <button type="submit" name="plan" value="dry-run">Show what the next steps will send</button>
    </form>
  </section>`;
}

function statusPart(progress: Progress): Html {
  const ended = progress.outcome !== 'running';
  return html`<p class="status ${ended ? `outcome-${progress.outcome}` : ''}">
    <span class="badge" data-outcome="${progress.outcome}">${ended ? progress.outcome : progress.phase}</span>
    started ${time(progress.startedAt)} by
    ${progress.initiator}${ended ? html`, ended ${time(progress.finishedAt)}` : ''}
    ${progress.outcomeReason ? html`<br />${progress.outcomeReason}` : ''}
  </p>`;
}

function reportPart(report: RunbookReport | undefined): Html {
  if (!report) return html``;
  const { rto, rpo, serviceInterruption } = report.measures;
  return html`<section class="report">
    <h2>Report</h2>
    <ul>
      <li>
        outcome
        <strong>${report.outcome}</strong
        >${report.durationSeconds !== null ? `, in ${formatSeconds(Math.round(report.durationSeconds))}` : ''}
      </li>
      ${rto ? html`<li>RTO ${formatSeconds(rto.seconds)} (objective ${formatSeconds(rto.objectiveSeconds)}: ${rto.met ? 'met' : 'MISSED'})</li>` : ''}
      ${rpo ? html`<li>RPO ${rpo.seconds === null ? 'unknown' : formatSeconds(rpo.seconds)} (recovery point ${time(rpo.recoveryPoint)}; ${rpo.logsNotApplied} log(s) not applied)</li>` : ''}
      ${serviceInterruption ? html`<li>service interruption ${formatSeconds(serviceInterruption.seconds)}</li>` : ''}
      ${report.gates.map((gate) => html`<li>gate ${gate.id}: ${gate.status}${gate.approvals.length > 0 ? ` by ${gate.approvals.map((vote) => vote.by).join(', ')}` : ''}</li>`)}
      ${(report.signed ?? []).map((signed) => html`<li class="signed">${signed.action}${signed.gate ? ` ${signed.gate}` : ''} by ${signed.by}: signed with ${signed.key.type} ${signed.key.fingerprint}</li>`)}
    </ul>
    <details>
      <summary>The whole report (Markdown, as <code>pchat-dr report</code> prints it)</summary>
      <pre class="report-text">${reportMarkdown(report)}</pre>
    </details>
  </section>`;
}

/** The parts the page's script swaps in; `gatesKey` changes only when the gates do, so a half-typed answer stays. */
export function liveParts(view: RunView, csrf: string) {
  const { progress } = view;
  const gates = progress.openGates;
  return {
    gatesKey: `${progress.outcome}|${gates
      .map((gate) => `${gate.id}:${gate.evidence?.version ?? ''}:${gate.approvals.map((vote) => vote.by).join(',')}`)
      .join('|')}`,
    ended: progress.outcome !== 'running',
    parts: {
      status: statusPart(progress).text,
      steps: stepsPart(progress.steps).text,
      gates: gatesPart(view, csrf).text,
      report: reportPart(view.report).text,
    },
  };
}

function stepsPart(steps: StepRecord[]): Html {
  return steps.length === 0
    ? html`<p class="muted">No step has run yet.</p>`
    : html`<ol class="steps">
        ${steps.map(stepItem)}
      </ol>`;
}

function gatesPart(view: RunView, csrf: string): Html {
  const gates = view.progress.openGates;
  if (gates.length === 0)
    return html`<p class="muted">
      ${view.progress.outcome === 'running' ? 'The run waits on no gate now.' : 'The run has ended.'}
    </p>`;
  return html`${gates.map((gate) => gateSection(view.run.workflowId, gate, csrf))}`;
}

export function runPage(view: RunView, csrf: string): string {
  const { progress, run } = view;
  const live = liveParts(view, csrf);
  const base = `/runs/${encodeURIComponent(run.workflowId)}`;
  const body = html`<h1>${progress.runbook} on ${progress.pool}</h1>
    <p><code class="id">${run.workflowId}</code></p>
    <div id="run-status" data-part="status">${markup(live.parts.status)}</div>
    <p id="answer-result" role="status" aria-live="polite"></p>
    <section id="gates" data-part="gates" data-gates-key="${live.gatesKey}" aria-label="Open gates">
      ${markup(live.parts.gates)}
    </section>
    <section aria-label="Steps">
      <h2>Steps</h2>
      <div id="steps" data-part="steps">${markup(live.parts.steps)}</div>
    </section>
    ${plans(progress.steps)} ${live.ended || progress.steps.some((step) => step.plan) ? '' : planForm(base, csrf)}
    <div id="report" data-part="report">${markup(live.parts.report)}</div>
    ${
      live.ended
        ? ''
        : html`<section class="abort">
            <details>
              <summary>Abort the run</summary>
              <form method="post" action="${base}/answer" class="answer" data-answer data-statement="${base}/statement">
                <input type="hidden" name="csrf" value="${csrf}" />
                <label>Your name <input name="as" required maxlength="128" autocomplete="username" /></label>
                <label>Reason (required) <textarea name="text" rows="2" maxlength="2000" required></textarea></label>
                <label class="check"
                  ><input type="checkbox" name="sign" value="passkey" checked /> Sign with my passkey</label
                >
                <div class="buttons">
                  <button type="submit" name="action" value="abort" class="danger">Abort the run</button>
                </div>
              </form>
            </details>
          </section>`
    }
    <div hidden data-live="${base}/live"></div>`;
  return layout(`${progress.runbook} ${run.workflowId}`, body, { liveReading: !live.ended });
}

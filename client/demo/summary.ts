/**
 * How the demo ends: a summary per run of the story (RTO, RPO, service interruption, messages lost, who approved,
 * the report and the run in the Web UI), and with --keep what still runs and how to look around.
 */
import { PROJECT_ROOT } from '../../runtime/package';
import { CLI_COMMAND, FROM_CHECKOUT, shownPath } from '../../runtime/state-dirs';
import { formatDuration, formatSeconds } from '../../topology/durations';
import { rpoVerdict, rpoWindow } from '../report-markdown';
import { stampOf } from '../report-view';
import { DEMO_TASK_QUEUE, ON_CALL, type DemoStage } from './stage';
import type { DemoStory } from './story';

/** The end of the story: a summary per run (RTO, RPO, service interruption, messages lost, gates, report, Web UI link). */
export function printSummary(stage: DemoStage, story: DemoStory, tookMs: number): void {
  const ui = stage.cast.server.uiUrl;
  stage.say();
  stage.say(`Summary: ${story.runs.length} runs, the story took ${formatDuration(tookMs)}`);
  for (const run of story.runs) {
    const { report } = run;
    const { rto, rpo, serviceInterruption } = report.measures;
    const options = Object.entries(report.options)
      .map(([key, value]) => `--${key} ${String(value)}`)
      .join(' ');
    stage.say(
      `  [${run.step}] ${report.runbook}${options ? ` ${options}` : ''} ${report.workflowId} ${report.outcome} in ${formatSeconds(report.durationSeconds)}`,
    );
    const measures = [
      `RTO ${rto ? `${formatSeconds(rto.seconds)} (objective ${formatSeconds(rto.objectiveSeconds)}: ${rto.met ? 'met' : 'MISSED'})` : 'n/a'}`,
      `RPO ${rpo ? `${rpoWindow(rpo)} (objective ${formatSeconds(rpo.objectiveSeconds)}: ${rpoVerdict(rpo)}; recovery point ${stampOf(rpo.recoveryPoint)})` : 'n/a'}`,
      `service interruption ${serviceInterruption ? formatSeconds(serviceInterruption.seconds) : 'n/a'}`,
      `messages lost ${run.lost}`,
    ];
    stage.say(`       ${measures.join(' | ')}`);
    const approvals = report.gates
      .filter((gate) => gate.approvals.length > 0)
      .map((gate) => `${gate.id} by ${gate.approvals.map((vote) => vote.by).join(', ')}`);
    const waived = report.gates.filter((gate) => gate.status === 'waived').map((gate) => gate.id);
    if (approvals.length > 0 || waived.length > 0)
      stage.say(`       gates: ${[...approvals, ...waived.map((id) => `${id} waived`)].join('; ')}`);
    if (report.children.length > 0)
      stage.say(
        `       child runs: ${report.children.map((child) => `${child.workflowId} (${child.runbook} ${child.outcome ?? 'running'})`).join(', ')}`,
      );
    stage.say(
      `       report: ${shownPath(run.reportFile, process.cwd())}; Web UI: ${ui}/namespaces/default/workflows/${encodeURIComponent(report.workflowId)}`,
    );
  }
  const chat = stage.cast.estate.chat.snapshot();
  const lost = story.missingOn(story.servingInstance()).length;
  stage.say(
    stage.options.short
      ? `Chat: ${chat.acknowledged} messages acknowledged, ${chat.failed} posts refused, ${lost} lost`
      : `Chat: ${chat.acknowledged} messages acknowledged, ${chat.failed} posts refused while the service was down, ${lost} lost in all (in the disaster)`,
  );
  stage.say('The story is done: every runbook succeeded.');
}

/** --keep: what still runs, and the commands to look around with. */
export function printKeepInstructions(stage: DemoStage, story: DemoStory): void {
  const { server, topologyFile } = stage.cast;
  // From a checkout the commands run in it (npx pchat-dr); installed, `pchat-dr` runs anywhere.
  const topology = FROM_CHECKOUT ? shownPath(topologyFile, PROJECT_ROOT) : topologyFile;
  const failover = (story.runs.find((run) => run.report.runbook === 'failover') ?? story.runs.at(-1))?.report
    .workflowId;
  stage.say();
  stage.say(
    'Still running (--keep): the dev server, the Web UI, the estate (chat load on) and the worker. Ctrl+C stops everything.',
  );
  stage.say(`  Web UI: ${server.uiUrl}/namespaces/default/workflows`);
  stage.say(`  the CLI, from another terminal${FROM_CHECKOUT ? ` in ${PROJECT_ROOT}` : ''}:`);
  stage.say(
    `    export TEMPORAL_ADDRESS=${server.address} PCHAT_DR_TASK_QUEUE=${DEMO_TASK_QUEUE} PCHAT_DR_UI_URL=${server.uiUrl}`,
  );
  stage.say(`    ${CLI_COMMAND} list`);
  stage.say(`    ${CLI_COMMAND} report ${failover ?? '<id>'}`);
  stage.say(`    ${CLI_COMMAND} run failover -f ${topology} --mode planned --as ${ON_CALL} --follow`);
  stage.say(`    ${CLI_COMMAND} run drill -f ${topology} --as ${ON_CALL} --follow`);
  stage.say(`    ${CLI_COMMAND} sim status -f ${topology}`);
}

/**
 * Who answers the demo's gates: by default its named approvers, at once, through the same update the CLI sends
 * (a gate the demo cannot answer, or a decision after a failed step, ends the demo); with --interactive, you, from
 * another terminal: the demo prints the exact commands and waits until the gates are answered.
 */
import { approveUpdate } from '../../contracts/messages';
import type { PendingGate, Progress } from '../../contracts/run-record';
import { PROJECT_ROOT } from '../../runtime/package';
import { CLI_COMMAND, FROM_CHECKOUT } from '../../runtime/state-dirs';
import { answerStatement } from '../gate-answers';
import { findRun, innermostMessage, progressOfRun } from '../run-access';
import { signNow } from '../signing';
import { DemoFailure } from './failure';
import { DEMO_TASK_QUEUE, ON_CALL, type DemoStage } from './stage';

/** Who answers which gate when the demo answers (examples/simulated.yaml: dba = alice, bob; incident-commanders = carol, dave). */
const APPROVERS: Record<string, string[]> = {
  'declare-disaster': ['carol', 'dave'],
  'override-split-brain-guard': ['carol', 'dave'],
  'approve-switchover': ['carol'],
  'accept-data-loss': ['carol', 'alice'],
  'approve-failback': ['carol'],
};
const DEFAULT_APPROVERS = ['alice', 'bob', 'carol', 'dave'];
const COMMENTS: Record<string, string> = {
  'declare-disaster': 'DC1 is lost: both of its SQL Server instances are down',
  'approve-failback': 'DC1 is rebuilt; maintenance window agreed',
  'approve-mirror-failover': 'planned switch between the mirroring partners',
};
const DEFAULT_COMMENT = 'evidence reviewed';
/** Decisions (a step that failed for good) may be taken by the dba group. */
const DECISION_MAKER = 'alice';

/** A gate open in a run of the story (or in a child run of it). */
export interface GateTarget {
  workflowId: string;
  gate: PendingGate;
}

/** The demo's approvers answer each open gate (a decision gate, a step that failed for good, ends the demo). */
export async function answerAsApprovers(stage: DemoStage, targets: GateTarget[]): Promise<void> {
  const { client } = stage.cast;
  for (const { workflowId, gate } of targets) {
    if (gate.kind === 'decision')
      throw new DemoFailure(`${gate.step ? `step ${gate.step}` : 'a step'} of ${workflowId} failed: ${gate.question}`);
    const people = approversFor(gate);
    if (people.length < gate.required - gate.approvals.length)
      throw new DemoFailure(
        `gate ${gate.id} of ${workflowId} needs ${gate.required} approvals and the demo has nobody left to give them (approvers: ${gate.approvers.join(', ')})`,
      );
    for (const by of people) {
      const comment = `${COMMENTS[gate.gate] ?? DEFAULT_COMMENT} (demo)`;
      const evidence = gate.evidence?.version ?? '';
      let message: string;
      try {
        // Each approver signs their approval with their own key: this run, this gate, this evidence.
        const run = await stage.guard(findRun(client, workflowId));
        const statement = await stage.guard(
          answerStatement(run, { action: 'approve', gate: gate.id, by, comment, evidence }, 'approval'),
        );
        const signature = await stage.guard(signNow(statement, stage.cast.signers.keys[by]));
        const outcome = await stage.guard(
          client.workflow.getHandle(workflowId).executeUpdate(approveUpdate, {
            args: [{ gate: gate.id, by, comment, evidenceVersion: evidence, signature }],
          }),
        );
        if (!outcome.counted) throw new Error(outcome.message);
        message = outcome.message;
      } catch (error) {
        if (stage.options.signal.aborted) throw error;
        throw new DemoFailure(`the approval of ${gate.id} by ${by} did not count: ${innermostMessage(error)}`);
      }
      stage.say(`  ${by} approves ${gate.id} ("${comment}", signed): ${message}`);
    }
  }
}

/** --interactive: print the exact commands that answer the gates, and wait until they are answered. */
export async function waitForPeople(stage: DemoStage, targets: GateTarget[], progress: Progress): Promise<void> {
  const { server, client } = stage.cast;
  const keyOf = (person: string) => stage.cast.signers.keys[person] ?? `<${person}'s key>`;
  stage.say();
  stage.say(`  >> Your turn (--interactive). From another terminal${FROM_CHECKOUT ? `, in ${PROJECT_ROOT}` : ''}:`);
  stage.say(`       export TEMPORAL_ADDRESS=${server.address} PCHAT_DR_TASK_QUEUE=${DEMO_TASK_QUEUE}`);
  for (const { workflowId, gate } of targets) {
    if (gate.kind === 'decision') {
      for (const choice of gate.choices ?? ['retry', 'abort'])
        stage.say(
          `       ${CLI_COMMAND} decide ${workflowId} ${choice} --gate ${gate.id} --as ${DECISION_MAKER} --reason "<why>" --sign ${keyOf(DECISION_MAKER)}`,
        );
      continue;
    }
    for (const by of approversFor(gate))
      stage.say(
        `       ${CLI_COMMAND} approve ${workflowId} --gate ${gate.id} --as ${by} --comment "${COMMENTS[gate.gate] ?? DEFAULT_COMMENT}" --sign ${keyOf(by)}`,
      );
    const rejecter = approversFor(gate)[0] ?? gate.approvers[0];
    stage.say(
      `     or refuse: ${CLI_COMMAND} reject ${workflowId} --gate ${gate.id} --as ${rejecter} --reason "<why>" --sign ${keyOf(rejecter)}`,
    );
    stage.say(
      `     (${gate.required} of ${gate.approvers.join(', ')}${gate.twoPersonRule ? `; ${progress.initiator} started the run and may not approve` : ''}; ${CLI_COMMAND} status ${workflowId} shows the evidence)`,
    );
  }
  stage.say(
    `     or in the approval console: ${stage.cast.consoleUrl}runs/${encodeURIComponent(targets[0].workflowId)} (sign with a passkey you enrolled there)`,
  );
  stage.say(
    `     waiting until ${targets.map((target) => target.gate.id).join(', ')} ${targets.length === 1 ? 'is' : 'are'} answered (Ctrl+C stops the demo)...`,
  );

  const counted = new Set<string>();
  for (;;) {
    let open = 0;
    for (const workflowId of new Set(targets.map((target) => target.workflowId))) {
      const run = await stage.guard(findRun(client, workflowId));
      if (run.status !== 'RUNNING') continue;
      const now = await stage.guard(progressOfRun(run));
      for (const { gate } of targets.filter((target) => target.workflowId === workflowId)) {
        const still = now.openGates.find((candidate) => candidate.id === gate.id);
        if (!still) continue;
        open++;
        for (const vote of still.approvals) {
          const key = `${workflowId}/${gate.id}/${vote.by}`;
          if (counted.has(key) || gate.approvals.some((earlier) => earlier.by === vote.by)) continue;
          counted.add(key);
          stage.say(
            `  ${vote.by} approved ${gate.id}${vote.comment ? ` ("${vote.comment}")` : ''}: ${still.approvals.length} of ${still.required}`,
          );
        }
      }
    }
    if (open === 0) {
      stage.say('  answered: the run goes on');
      return;
    }
    await stage.sleep(500);
  }
}

/** The people the demo has approve a gate: the preferred ones who may, then the rest of its approvers; never the initiator. */
function approversFor(gate: PendingGate): string[] {
  const preferred = [...(APPROVERS[gate.gate] ?? []), ...DEFAULT_APPROVERS, ...gate.approvers];
  const allowed = new Set(
    [...gate.approvers, ...(gate.escalatedAt && gate.escalation ? gate.escalation.people : [])].map((person) =>
      person.toLowerCase(),
    ),
  );
  const voted = new Set(gate.approvals.map((vote) => vote.by.toLowerCase()));
  const people = [...new Set(preferred)].filter(
    (person) => allowed.has(person.toLowerCase()) && !voted.has(person.toLowerCase()) && person !== ON_CALL,
  );
  return people.slice(0, Math.max(0, gate.required - gate.approvals.length));
}

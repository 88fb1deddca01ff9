/**
 * Signed approvals (issue 16; docs/operations.md "Approvals and identity"), end to end against the dev server and
 * the simulator, with keys made by OpenSSH's ssh-keygen: on an estate whose signers file says who holds which key,
 * a signed approval counts; every way a signature can be wrong is refused with its reason, recorded, and changes
 * nothing; one person's key cannot make another's approval; the initiator's own signed approval of a critical gate
 * is refused; a start must be signed, by its initiator, and counts for one run only.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  abortUpdate,
  approveSignal,
  approveUpdate,
  rejectUpdate,
  reportQuery,
  type ApproveMessage,
} from '../../contracts/messages';
import { startStatementOf } from '../../contracts/runbooks';
import { statementText, statementTime, type SignaturePart, type Statement } from '../../contracts/statements';
import { eventually } from '../helpers/estate';
import { gateOpen, refusal, result, runbookHarness, type RunbookHarness } from '../helpers/runbooks';
import { makeKey, makeSigners, signerLine, sshSign, type SshPerson } from '../helpers/ssh-keys';
import { testNamespace } from '../helpers/temporal';

let harness: RunbookHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** alice, bob, carol and erin have keys in the estate's allowed_signers; dave has a key but no line there. */
let signers: Awaited<ReturnType<typeof makeSigners>>;
let dave: SshPerson;
beforeAll(async () => {
  signers = await makeSigners(['alice', 'bob', 'carol', 'erin']);
  dave = await makeKey(signers.dir, 'dave');
});

/** The simulated estate with signers: every start, approval, rejection, decision and abort must be signed. */
function signedEstate(label: string, policy = 'required') {
  return runbookHarness({
    label,
    edit: (yaml) => `${yaml}\nsignatures:\n  allowedSigners: ${signers.file}\n  policy: ${policy}\n`,
    signStart: (statement) => sign(statement, signers.people[statement.signer].key),
  });
}

async function sign(
  statement: Omit<Statement, 'time'>,
  key: string,
  options: { time?: Date; namespace?: string } = {},
): Promise<SignaturePart> {
  const text = statementText({ ...statement, time: statementTime(options.time ?? new Date()) } as Statement);
  return { statement: text, sshsig: await sshSign(key, text, options.namespace) };
}

/** The statement an approval of the open gate needs, as `pchat-dr statement` prints it. */
async function approvalStatement(handle: WorkflowHandle, gateName: string, by: string, comment?: string) {
  const gate = await gateOpen(handle, gateName);
  const { runId } = await handle.describe();
  return {
    gate,
    statement: {
      action: 'approve',
      temporalNamespace: testNamespace(),
      workflowId: handle.workflowId,
      runId,
      gate: gate.id,
      evidence: gate.evidence!.version,
      ...(comment ? { comment } : {}),
      signer: by,
    } satisfies Omit<Statement, 'time'>,
  };
}

describe('signed approvals', () => {
  it(
    'a signed approval counts; a missing, foreign, misdirected, stale or bad signature is refused with its reason and changes nothing',
    { timeout: 180_000 },
    async () => {
      harness = await signedEstate('signed-gates');
      const h = harness;
      await h.env.estate.stopInstance('dc1-sql-a');
      await h.withWorker(async () => {
        // alice starts the run (signed): a forced mirror failover waits at accept-data-loss (2 people, not alice).
        const handle = await h.start('mirror-failover', { to: 'mirror' }, { initiator: 'alice' });
        const { gate, statement } = await approvalStatement(handle, 'accept-data-loss', 'bob', 'mirror is current');
        expect(gate.answerWith).toContain(
          `pchat-dr approve ${handle.workflowId} --gate accept-data-loss --comment <text> --sign`,
        );
        const send = (message: Partial<ApproveMessage> & { by: string }) =>
          handle.executeUpdate(approveUpdate, {
            args: [{ gate: 'accept-data-loss', evidenceVersion: gate.evidence!.version, ...message }],
          });
        const bobKey = signers.people.bob.key;
        const carolKey = signers.people.carol.key;
        const comment = 'mirror is current';

        // Refused before anything is verified: the validator's rules, then the statement against this run.
        expect(await send({ by: 'bob', comment })).toMatchObject({
          counted: false,
          message: expect.stringMatching(/^approval must be signed: .* requires signed approvals .*--sign\)$/),
        });
        const aliceOwn = await approvalStatement(handle, 'accept-data-loss', 'alice');
        expect(
          await refusal(send({ by: 'alice', signature: await sign(aliceOwn.statement, signers.people.alice.key) })),
        ).toBe('alice started this run and may not approve accept-data-loss (two-person rule)');
        const cases: [string, Promise<SignaturePart>, RegExp][] = [
          [
            'another run of this workflow',
            sign({ ...statement, runId: 'a-run-that-is-not-this-one' }, bobKey),
            /^the signed statement is for another run of this workflow \(run a-run-that-is-not-this-one\), not this run/,
          ],
          [
            'another workflow',
            sign({ ...statement, workflowId: 'failover-elsewhere' }, bobKey),
            /^the signed statement is for another run \(workflow failover-elsewhere\)/,
          ],
          [
            'another gate',
            sign({ ...statement, gate: 'approve-mirror-failover' }, bobKey),
            /^the signed statement is for gate approve-mirror-failover, not accept-data-loss$/,
          ],
          [
            'other evidence',
            sign({ ...statement, evidence: 'f'.repeat(64) }, bobKey),
            /^the signed statement approves evidence f{64}, but the gate's evidence is [0-9a-f]{64}: review it again/,
          ],
          [
            'expired',
            sign(statement, bobKey, { time: new Date(Date.now() - 2 * 3_600_000) }),
            /^the signature has expired: signed at .*, more than 1h \(the timeout\) before /,
          ],
          [
            'wrong namespace',
            sign(statement, bobKey, { namespace: 'git' }),
            /^the signature is for namespace "git", not "pchat-dr"/,
          ],
          [
            // carol's key, signing bob's approval: one person cannot make another's.
            'someone else’s key',
            sign(statement, carolKey),
            /^the ED25519 key SHA256:\S+ is not one of bob's keys in .*allowed_signers \(it is carol's\)$/,
          ],
          [
            'bad signature',
            sign({ ...statement, comment: 'something else' }, bobKey).then((signed) => ({
              ...signed,
              statement: statementText({ ...statement, time: /time: (\S+)/.exec(signed.statement)![1] } as Statement),
            })),
            /^bad signature: it does not verify over this statement/,
          ],
        ];
        const said: string[] = [];
        for (const [what, signature, reason] of cases) {
          const outcome = await send({ by: 'bob', comment, signature: await signature });
          expect(outcome, what).toMatchObject({ counted: false, message: expect.stringMatching(reason) });
          said.push(outcome.message);
        }
        // dave may approve but is not among the signers.
        const daves = await approvalStatement(handle, 'accept-data-loss', 'dave');
        expect(await send({ by: 'dave', signature: await sign(daves.statement, dave.key) })).toMatchObject({
          counted: false,
          message: expect.stringMatching(/^unknown signer: dave has no key in .*allowed_signers$/),
        });
        // A signed approval of another person, as a signal (the Temporal UI): refused and recorded the same way.
        const asCarol = await approvalStatement(handle, 'accept-data-loss', 'carol');
        await handle.signal(approveSignal, {
          gate: 'accept-data-loss',
          by: 'carol',
          evidenceVersion: gate.evidence!.version,
          signature: await sign(asCarol.statement, bobKey),
        });
        await eventually(
          async () => (await handle.query(reportQuery)).refused.length >= cases.length + 3,
          15_000,
          'the refused signal to be recorded',
        );

        // Nothing changed: the gate is open with no approval.
        const still = await gateOpen(handle, 'accept-data-loss');
        expect(still.approvals).toEqual([]);
        expect(still.id).toBe('accept-data-loss');

        // bob's own signed approval counts (update); carol's (a signal) completes the gate.
        expect(await send({ by: 'bob', comment, signature: await sign(statement, bobKey) })).toMatchObject({
          counted: true,
          approvals: 1,
          required: 2,
        });
        await handle.signal(approveSignal, {
          gate: 'accept-data-loss',
          by: 'carol',
          evidenceVersion: gate.evidence!.version,
          signature: await sign(asCarol.statement, carolKey),
        });
        const report = await result(handle);
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        expect(report.signing).toEqual({ policy: 'required', allowedSigners: signers.file });
        expect(report.steps.find((step) => step.name === 'verify-start-signature')?.summary).toMatch(
          /^pchat-dr signature of alice verified: ED25519 key SHA256:/,
        );
        expect(report.signed?.map((signed) => [signed.action, signed.gate ?? null, signed.by])).toEqual([
          ['start', null, 'alice'],
          ['approve', 'accept-data-loss', 'bob'],
          ['approve', 'accept-data-loss', 'carol'],
        ]);
        const votes = report.gates.find((candidate) => candidate.id === 'accept-data-loss')!.approvals;
        expect(votes.map((vote) => [vote.by, vote.signature?.split(' ')[0]])).toEqual([
          ['bob', 'ED25519'],
          ['carol', 'ED25519'],
        ]);
        // Every refusal after the validator is in the report, with its reason.
        const refused = report.refused.map((entry) => `${entry.by}: ${entry.message}`);
        expect(refused).toEqual(
          expect.arrayContaining([
            expect.stringMatching(/^bob: approval: approval must be signed/),
            expect.stringMatching(/^bob: approval: the signed statement is for another run of this workflow/),
            expect.stringMatching(/^bob: approval: the signature has expired/),
            expect.stringMatching(/^bob: approval: bad signature/),
            expect.stringMatching(/^dave: approval: unknown signer/),
            expect.stringMatching(/^carol: approval: the ED25519 key \S+ is not one of carol's keys .*\(it is bob's\)/),
          ]),
        );
        // ... every case, with the reason its sender was told.
        for (const message of said) expect(refused).toContain(`bob: approval: ${message}`);
      });
    },
  );

  it(
    'a start must be signed, by its initiator, and its signature counts for one run only',
    { timeout: 120_000 },
    async () => {
      harness = await signedEstate('signed-starts', 'critical');
      const h = harness;
      await h.withWorker(async () => {
        const pool = h.env.topology.pool.fqdn;
        const input = { pool, initiator: 'erin', reason: 'test signed start', options: { to: 'mirror' } };
        const statementFor = (workflowId: string, extra: object = {}) =>
          startStatementOf('mirror-failover', { ...input, ...extra }, testNamespace(), workflowId);

        // Unsigned: refused before any step acts.
        const bare = await h.client.workflow.start('mirrorFailover', {
          taskQueue: h.taskQueue,
          workflowId: `${h.taskQueue}-bare`,
          args: [input],
        });
        const bareReport = await result(bare);
        expect(bareReport).toMatchObject({ outcome: 'rejected' });
        expect(bareReport.outcomeReason).toMatch(
          /^the start must be signed: .* requires signed starts \(signatures\.policy critical\)/,
        );
        expect(bareReport.steps.map((step) => step.name)).toEqual(['load-estate']);

        // Signed by bob for erin: bob's key is not erin's.
        const forged = `${h.taskQueue}-forged`;
        const forgedRun = await h.client.workflow.start('mirrorFailover', {
          taskQueue: h.taskQueue,
          workflowId: forged,
          args: [{ ...input, signature: await sign(statementFor(forged), signers.people.bob.key) }],
        });
        expect((await result(forgedRun)).outcomeReason).toMatch(
          /^the signed start does not count: the ED25519 key \S+ is not one of erin's keys .*\(it is bob's\)$/,
        );

        // A statement of other options than the input's.
        const other = `${h.taskQueue}-other`;
        const otherRun = await h.client.workflow.start('mirrorFailover', {
          taskQueue: h.taskQueue,
          workflowId: other,
          args: [
            {
              ...input,
              signature: await sign(statementFor(other, { options: { to: 'primary' } }), signers.people.erin.key),
            },
          ],
        });
        expect((await result(otherRun)).outcomeReason).toMatch(
          /^the signed start does not count: the signed statement says options "\{\\"to\\":\\"primary\\"\}", the message "\{\\"to\\":\\"mirror\\"\}"$/,
        );

        // A signed dry run counts once: the same signed input, started again under the same id, is refused.
        const once = `${h.taskQueue}-once`;
        const dryInput = { ...input, dryRun: true };
        const signed = {
          ...dryInput,
          signature: await sign(statementFor(once, { dryRun: true }), signers.people.erin.key),
        };
        const first = await h.client.workflow.start('mirrorFailover', {
          taskQueue: h.taskQueue,
          workflowId: once,
          args: [signed],
        });
        const firstReport = await result(first);
        expect(firstReport.outcome, firstReport.outcomeReason).toBe('planned');
        expect(firstReport.signed?.map((entry) => entry.action)).toEqual(['start']);
        const again = await h.client.workflow.start('mirrorFailover', {
          taskQueue: h.taskQueue,
          workflowId: once,
          args: [signed],
        });
        const againReport = await result(again);
        expect(againReport.outcome).toBe('rejected');
        expect(againReport.outcomeReason).toMatch(
          new RegExp(
            `^the signed start does not count: the signed start was already used: run ${first.firstExecutionRunId} of ${once} started `,
          ),
        );
      });
    },
  );

  it(
    'a rejection under the critical policy must be signed at a critical gate, and counts when it is',
    { timeout: 120_000 },
    async () => {
      harness = await signedEstate('signed-reject', 'critical');
      const h = harness;
      await h.env.estate.stopInstance('dc1-sql-a');
      await h.withWorker(async () => {
        const handle = await h.start('mirror-failover', { to: 'mirror' });
        const gate = await gateOpen(handle, 'accept-data-loss');
        const reject = (signature?: SignaturePart) =>
          handle.executeUpdate(rejectUpdate, {
            args: [
              {
                gate: 'accept-data-loss',
                by: 'carol',
                reason: 'not without the DBA',
                ...(signature ? { signature } : {}),
              },
            ],
          });
        expect(await reject()).toMatchObject({
          counted: false,
          message: expect.stringMatching(/^rejection must be signed: .* requires signed rejections at critical gates/),
        });
        const { runId } = await handle.describe();
        const statement: Omit<Statement, 'time'> = {
          action: 'reject',
          temporalNamespace: testNamespace(),
          workflowId: handle.workflowId,
          runId,
          gate: gate.id,
          reason: 'not without the DBA',
          signer: 'carol',
        };
        expect(await reject(await sign(statement, signers.people.carol.key))).toMatchObject({
          counted: true,
          gateStatus: 'rejected',
        });
        const report = await result(handle);
        expect(report.outcome).toBe('rejected');
        expect(report.gates[0].rejection).toMatchObject({
          by: 'carol',
          signature: expect.stringMatching(/^ED25519 SHA256:/),
        });
      });
    },
  );

  it(
    'a key given to several people counts as one person: it signs one approval of a gate, and never its starter’s',
    { timeout: 120_000 },
    async () => {
      // bob and carol share a key on one line; alice's key is also on a line of dave's.
      const shared = await makeKey(signers.dir, 'bob-and-carol');
      const file = path.join(signers.dir, 'allowed_signers.shared');
      writeFileSync(
        file,
        [
          signerLine({ ...shared, name: 'bob,carol' }),
          signerLine(signers.people.alice),
          signerLine({ ...signers.people.alice, name: 'dave' }),
          signerLine(signers.people.erin),
        ].join(''),
      );
      harness = await runbookHarness({
        label: 'signed-shared-key',
        edit: (yaml) => `${yaml}\nsignatures:\n  allowedSigners: ${file}\n  policy: critical\n`,
        signStart: (statement) => sign(statement, signers.people[statement.signer].key),
      });
      const h = harness;
      await h.env.estate.stopInstance('dc1-sql-a');
      await h.withWorker(async () => {
        const handle = await h.start('mirror-failover', { to: 'mirror' }, { initiator: 'alice' });
        const send = async (by: string, key: string) => {
          const { gate, statement } = await approvalStatement(handle, 'accept-data-loss', by);
          return handle.executeUpdate(approveUpdate, {
            args: [
              {
                gate: 'accept-data-loss',
                by,
                evidenceVersion: gate.evidence!.version,
                signature: await sign(statement, key),
              },
            ],
          });
        };
        // dave's approval, signed with the key that signed alice's start: the two-person rule holds for keys too.
        expect(await send('dave', signers.people.alice.key)).toMatchObject({
          counted: false,
          message: expect.stringMatching(
            /^the ED25519 key \S+ signed this run's start \(alice's\) and may not approve accept-data-loss \(two-person rule/,
          ),
        });
        expect(await send('bob', shared.key)).toMatchObject({ counted: true, approvals: 1, required: 2 });
        // carol's, with the key that signed bob's: one key is one person.
        expect(await send('carol', shared.key)).toMatchObject({
          counted: false,
          message: expect.stringMatching(
            /^the ED25519 key \S+ already signed bob's approval of accept-data-loss: each approval needs its own person's key/,
          ),
        });
        const still = await gateOpen(handle, 'accept-data-loss');
        expect(still.approvals.map((vote) => vote.by)).toEqual(['bob']);
        const report = await handle.query(reportQuery);
        expect(report.refused.map((entry) => entry.by)).toEqual(['dave', 'carol']);
        await handle.executeUpdate(abortUpdate, { args: [{ by: 'alice', reason: 'test done' }] });
        expect((await result(handle)).outcome).toBe('aborted');
      });
    },
  );
});

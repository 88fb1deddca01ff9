/**
 * `pchat-dr report ID --verify`: every signed message of a report checked again, offline, as an auditor would:
 * the SSH signature over the statement printed (node:crypto), the statement against what the report says happened
 * (this run, this gate, the evidence and its digest, the person, the comment or reason), and — given the estate's
 * allowed_signers file — that the key was the signer's, allowed for pchat-dr and valid when signed. Also: every
 * answer the report shows as signed has its statement, and where the run's policy required a signature there is one.
 * A passkey's signature (the approval console) is checked the same way: its WebAuthn assertion with the public key
 * and for the origin the report recorded, and — given the estate's passkeys file — that the credential was the
 * signer's.
 */
import {
  evidenceDigest,
  parseStatement,
  SIGNATURE_NAMESPACE,
  signatureRequired,
  stableJson,
} from '../contracts/statements';
import type { GateRecord, RunbookReport } from '../contracts/run-record';
import type { SignedMessage, Statement } from '../contracts/statements';
import { CRITICAL_GATES } from '../topology/gates';
import type { AllowedSigners } from '../signatures/allowed-signers';
import { verifyPasskeySignature } from '../signatures/passkey-verify';
import type { Passkeys } from '../signatures/passkeys';
import { parseSshSignature, verifySshSignature } from '../signatures/sshsig';
import { verifyStatementSignature, type Verification } from '../signatures/verify';
import { describeSigned } from './report-signed';

export interface SignatureCheckResult {
  /** What was checked: "approve declare-disaster by carol", or an unsigned answer the policy required signed. */
  message: string;
  ok: boolean;
  /** Why it failed, or what verified it. */
  detail: string;
}

/** Why the statement does not say what the report says happened, or null. */
function disagreement(report: RunbookReport, signed: SignedMessage, statement: Statement): string | null {
  const expect = (what: string, given: unknown, wanted: unknown) =>
    given === wanted
      ? null
      : `${what}: the statement says ${JSON.stringify(given ?? null)}, the report ${JSON.stringify(wanted ?? null)}`;
  const gate: GateRecord | undefined = report.gates.find((candidate) => candidate.id === signed.gate);
  const checks: (string | null)[] = [
    expect('action', statement.action, signed.action),
    expect('signer', statement.signer, signed.by),
    expect('workflow id', statement.workflowId, report.workflowId),
  ];
  if (statement.action !== 'start') checks.push(expect('run id', statement.runId, report.runId));
  if (statement.action !== 'start' && statement.action !== 'abort') {
    checks.push(expect('gate', statement.gate, signed.gate));
    if (!gate) checks.push(`the report has no gate ${signed.gate}`);
  }
  switch (statement.action) {
    case 'start':
      checks.push(
        expect('runbook', statement.runbook, report.runbook),
        expect('pool', statement.pool, report.pool),
        expect('initiator', statement.signer, report.initiator),
        expect('reason', statement.reason, report.reason),
        expect('options', statement.options, stableJson(report.options)),
        expect('dry run', statement.dryRun, report.dryRun),
        expect('estate', statement.estate, report.estate?.callerDigest ?? statement.estate),
      );
      break;
    case 'approve': {
      const vote = gate?.approvals.find((candidate) => candidate.by === signed.by);
      if (gate && !vote) checks.push(`the report shows no approval of ${gate.id} by ${signed.by}`);
      if (vote) {
        checks.push(
          expect('evidence', statement.evidence, vote.evidenceVersion),
          expect('comment', statement.comment, vote.comment),
        );
      }
      const evidence = gate?.evidence;
      if (evidence) {
        checks.push(expect('evidence', statement.evidence, evidence.version));
        // The digest of the evidence the report shows: the material approved is the material printed.
        if (/^[0-9a-f]{64}$/.test(evidence.version) && evidenceDigest(evidence.material) !== evidence.version)
          checks.push(`the evidence material of ${gate.id} in the report does not have the digest ${evidence.version}`);
      }
      break;
    }
    case 'reject':
      checks.push(
        expect('rejected by', gate?.rejection?.by, signed.by),
        expect('reason', statement.reason, gate?.rejection?.reason),
      );
      break;
    case 'decide':
      checks.push(
        expect('decided by', gate?.decision?.by, signed.by),
        expect('choice', statement.choice, gate?.decision?.choice),
        expect('reason', statement.reason, gate?.decision?.reason),
      );
      break;
    case 'abort':
      break;
  }
  return checks.find((check) => check !== null) ?? null;
}

/** What report --verify checks signatures against: the estate's allowed_signers file, its passkeys file. */
export interface SignerFiles {
  signers?: AllowedSigners;
  passkeys?: Passkeys;
}

/**
 * The verdict on a signature that verifies by itself and says what the report says: good — and, given the estate's
 * list of signers (allowed_signers, passkeys), only if that list gives the key to the signer.
 */
async function vouchedFor(
  message: string,
  key: string,
  signer: string,
  signers: { missing: string; list?: { file: string; check: () => Verification | Promise<Verification> } },
): Promise<SignatureCheckResult> {
  const { list, missing } = signers;
  if (!list) return { message, ok: true, detail: `good signature with ${key} (not checked against ${missing})` };
  const verified = await list.check();
  return verified.ok
    ? { message, ok: true, detail: `good signature with ${key}, ${signer}'s in ${list.file} line ${verified.line}` }
    : { message, ok: false, detail: verified.reason };
}

async function checkPasskey(
  report: RunbookReport,
  signed: SignedMessage & { webauthn: NonNullable<SignedMessage['webauthn']> },
  statement: Statement,
  passkeys?: Passkeys,
): Promise<SignatureCheckResult> {
  const message = describeSigned(signed);
  const fail = (detail: string) => ({ message, ok: false, detail });
  const { publicKey, origin, rpId, ...assertion } = signed.webauthn;
  // First with the key the report recorded: the signature over the statement printed, for the console named.
  const alone = await verifyPasskeySignature({
    statement: signed.statement,
    assertion,
    signer: signed.by,
    relyingParty: { origin, rpId },
    publicKey,
  });
  if (!alone.ok) return fail(`${alone.reason} (the statement or the assertion was altered)`);
  if (alone.key.fingerprint !== signed.key.fingerprint)
    return fail(`signed by passkey ${alone.key.fingerprint}, the report says ${signed.key.fingerprint}`);
  const differs = disagreement(report, signed, statement);
  if (differs) return fail(`the statement does not match the report: ${differs}`);
  return vouchedFor(message, `passkey ${alone.key.fingerprint} at ${origin}`, signed.by, {
    missing: 'a passkeys file: give --passkeys',
    list: passkeys && {
      file: passkeys.file,
      check: () =>
        verifyPasskeySignature({
          statement: signed.statement,
          assertion,
          signer: signed.by,
          relyingParty: { origin, rpId },
          passkeys,
        }),
    },
  });
}

async function checkSigned(
  report: RunbookReport,
  signed: SignedMessage,
  files: SignerFiles,
): Promise<SignatureCheckResult> {
  const { signers } = files;
  const message = describeSigned(signed);
  const fail = (detail: string) => ({ message, ok: false, detail });
  const parsed = parseStatement(signed.statement);
  if (!parsed.ok) return fail(`the statement cannot be read: ${parsed.problem}`);
  if (signed.webauthn)
    return checkPasskey(report, { ...signed, webauthn: signed.webauthn }, parsed.statement, files.passkeys);
  let signature;
  try {
    signature = parseSshSignature(signed.sshsig ?? '');
  } catch (error) {
    return fail(`the signature cannot be read: ${(error as Error).message}`);
  }
  if (signature.namespace !== SIGNATURE_NAMESPACE)
    return fail(`the signature is for namespace "${signature.namespace}", not "${SIGNATURE_NAMESPACE}"`);
  if (!verifySshSignature(signature, signed.statement, SIGNATURE_NAMESPACE))
    return fail(
      'bad signature: it does not verify over the statement printed (the statement or the signature was altered)',
    );
  if (signature.publicKey.fingerprint !== signed.key.fingerprint)
    return fail(`signed by key ${signature.publicKey.fingerprint}, the report says ${signed.key.fingerprint}`);
  const differs = disagreement(report, signed, parsed.statement);
  if (differs) return fail(`the statement does not match the report: ${differs}`);
  return vouchedFor(message, `${signature.publicKey.label} key ${signature.publicKey.fingerprint}`, signed.by, {
    missing: 'an allowed_signers file: give --allowed-signers',
    list: signers && {
      file: signers.file,
      check: () =>
        verifyStatementSignature({
          statement: signed.statement,
          sshsig: signed.sshsig ?? '',
          signer: signed.by,
          signers,
          at: new Date(parsed.statement.time),
        }),
    },
  });
}

/** Every signed message of the report checked, then the answers shown as signed or required signed without one. */
export async function verifyReport(report: RunbookReport, files: SignerFiles = {}): Promise<SignatureCheckResult[]> {
  const signed = report.signed ?? [];
  const results: SignatureCheckResult[] = [];
  for (const entry of signed) results.push(await checkSigned(report, entry, files));
  const has = (action: string, gate: string | undefined, by: string) =>
    signed.some((entry) => entry.action === action && entry.gate === gate && entry.by === by);
  const policy = report.signing?.policy ?? 'off';
  for (const gate of report.gates) {
    const critical = (CRITICAL_GATES as readonly string[]).includes(gate.gate);
    const answers: { action: 'approve' | 'reject' | 'decide'; by: string; signature?: string }[] = [
      ...gate.approvals
        .filter((vote) => !vote.comment?.startsWith('rehearsal on a simulated estate'))
        .map((vote) => ({ action: 'approve' as const, by: vote.by, signature: vote.signature })),
      ...(gate.rejection ? [{ action: 'reject' as const, ...gate.rejection }] : []),
      ...(gate.decision ? [{ action: 'decide' as const, ...gate.decision }] : []),
    ];
    for (const answer of answers) {
      if (has(answer.action, gate.id, answer.by)) continue;
      const what = describeSigned({ action: answer.action, gate: gate.id, by: answer.by });
      if (answer.signature)
        results.push({
          message: what,
          ok: false,
          detail: `shown as signed (${answer.signature}) but the report has no statement for it`,
        });
      else if (signatureRequired(policy, answer.action, critical))
        results.push({ message: what, ok: false, detail: `not signed, but the run's policy (${policy}) required it` });
    }
  }
  // One key, one person: two approvals of a gate signed with one key are one person's, whatever names they carry.
  const keyOfApproval = new Map<string, SignedMessage>();
  for (const entry of signed.filter((candidate) => candidate.action === 'approve')) {
    const seen = keyOfApproval.get(`${entry.gate} ${entry.key.fingerprint}`);
    if (seen && seen.by !== entry.by)
      results.push({
        message: describeSigned(entry),
        ok: false,
        detail: `signed with the key that signed ${seen.by}'s approval of ${entry.gate} (${entry.key.fingerprint}): one key counts as one person`,
      });
    else keyOfApproval.set(`${entry.gate} ${entry.key.fingerprint}`, entry);
  }
  if (
    signatureRequired(policy, 'start', false) &&
    !report.parent &&
    !report.dryRun &&
    report.runbook !== 'drill' &&
    !has('start', undefined, report.initiator)
  )
    results.push({
      message: `start by ${report.initiator}`,
      ok: false,
      detail: `not signed, but the run's policy (${policy}) required it`,
    });
  return results;
}

/**
 * The "Signed messages" section of a report: every signed message with its exact statement and signature, and how
 * an auditor checks each without pchat-dr (ssh-keygen -Y verify) or with it (report --verify, for passkeys).
 */
import { SIGNATURE_NAMESPACE, type SignedMessage } from '../contracts/statements';
import type { RunbookReport } from '../contracts/run-record';
import { stampOf } from './report-view';

/** What a signed message is, in a few words: "approve declare-disaster by carol". */
export function describeSigned(signed: Pick<SignedMessage, 'action' | 'gate' | 'by'>): string {
  return `${signed.action}${signed.gate ? ` ${signed.gate}` : ''} by ${signed.by}`;
}

/** A fence longer than any run of backticks in the text, so a statement shows as written. */
function fenceFor(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  return '`'.repeat(longest + 1);
}

/** ssh-keygen's -O verify-time form of a statement's time (2026-05-01T10:00:00Z → 20260501100000Z). */
function verifyTime(statement: string): string | null {
  const time = /^time: (\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/m.exec(statement);
  return time ? `${time.slice(1).join('')}Z` : null;
}

/**
 * Every signed message, with the exact statement and signature, and how to verify each with OpenSSH alone: an
 * auditor needs neither pchat-dr nor Temporal to check who approved.
 */
export function signedMarkdown(report: RunbookReport): string[] {
  const signed = report.signed ?? [];
  const out = [
    '## Signed messages',
    '',
    `Each message below counted after the worker verified its SSH signature (namespace \`${SIGNATURE_NAMESPACE}\`) against the estate's allowed_signers file. To verify one with OpenSSH: save its statement as \`N.txt\` exactly as shown (each line ended by a newline) and its signature as \`N.sig\`, then run the \`ssh-keygen -Y verify\` line given, with the estate's allowed_signers file (\`-O verify-time\` checks the key as it was when signed; a good signature prints \`Good "${SIGNATURE_NAMESPACE}" signature for ...\`). \`pchat-dr report ${report.workflowId} --verify --allowed-signers FILE\` checks them all, and that each statement matches this report.`,
    '',
  ];
  signed.forEach((entry, index) => {
    const n = index + 1;
    const time = verifyTime(entry.statement);
    out.push(
      `### ${n}. ${describeSigned(entry)} at ${stampOf(entry.at)}`,
      '',
      `- Key: ${entry.key.type} ${entry.key.fingerprint}; verified against \`${entry.allowedSigners.file}\` (sha256 \`${entry.allowedSigners.digest}\`)`,
      '',
      `Statement (\`${n}.txt\`):`,
      '',
      fenceFor(entry.statement) + 'text',
      entry.statement.replace(/\n$/, ''),
      fenceFor(entry.statement),
      '',
      ...(entry.webauthn ? passkeyMarkdown(entry.webauthn, report.workflowId) : sshMarkdown(entry, n, time)),
    );
  });
  return out;
}

function sshMarkdown(entry: SignedMessage, n: number, time: string | null): string[] {
  return [
    `Signature (\`${n}.sig\`):`,
    '',
    '```text',
    (entry.sshsig ?? '').trim(),
    '```',
    '',
    '```sh',
    `ssh-keygen -Y verify -f allowed_signers -I ${entry.by} -n ${SIGNATURE_NAMESPACE}${time ? ` -O verify-time=${time}` : ''} -s ${n}.sig < ${n}.txt`,
    '```',
    '',
  ];
}

/** A passkey's signature: the WebAuthn assertion (its challenge is the statement's SHA-256) and what checks it. */
function passkeyMarkdown(webauthn: NonNullable<SignedMessage['webauthn']>, workflowId: string): string[] {
  return [
    `Passkey signature (WebAuthn, for ${webauthn.origin}; its challenge is the SHA-256 of the statement, base64url):`,
    '',
    '```json',
    JSON.stringify(webauthn, null, 2),
    '```',
    '',
    `Checked by \`pchat-dr report ${workflowId} --verify --passkeys FILE\` with the estate's passkeys file.`,
    '',
  ];
}

/**
 * SSH signatures made by OpenSSH's ssh-keygen, verified by pchat-dr's verifier (node:crypto), and statements as
 * ssh-keygen -Y verify checks them: every key type the estate's signers may hold, and each way a signature fails.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  evidenceDigest,
  parseStatement,
  stableJson,
  statementText,
  statementTime,
  type Statement,
} from '../../contracts/statements';
import { AllowedSignersError, loadAllowedSigners, parseAllowedSigners } from '../../signatures/allowed-signers';
import { parseSshSignature } from '../../signatures/sshsig';
import { verifyStatementSignature } from '../../signatures/verify';
import { verifyReport } from '../../client/report-verify';
import type { RunbookReport } from '../../contracts/run-record';
import { makeKey, securityKeySign, signerLine, sshSign, sshVerify } from '../helpers/ssh-keys';

const approval: Statement = {
  action: 'approve',
  temporalNamespace: 'default',
  workflowId: 'failover-pchat.sim.local-20260501T100000Z',
  runId: '0196a0b1-0000-7000-8000-000000000001',
  gate: 'declare-disaster',
  evidence: 'a'.repeat(64),
  comment: 'DC1 is gone: "both" instances\nconfirmed',
  signer: 'carol',
  time: '2026-05-01T10:03:12Z',
};

describe('statements', () => {
  it('are canonical text: built, read back, and anything else refused', () => {
    const text = statementText(approval);
    expect(text).toBe(
      [
        'pchat-dr statement v1',
        'action: approve',
        'temporal-namespace: default',
        'workflow-id: failover-pchat.sim.local-20260501T100000Z',
        'run-id: 0196a0b1-0000-7000-8000-000000000001',
        'gate: declare-disaster',
        `evidence: ${'a'.repeat(64)}`,
        'comment: "DC1 is gone: \\"both\\" instances\\nconfirmed"',
        'signer: carol',
        'time: 2026-05-01T10:03:12Z',
        '',
      ].join('\n'),
    );
    expect(parseStatement(text)).toEqual({ ok: true, statement: approval });
    const { comment: _comment, ...uncommented } = approval;
    expect(parseStatement(statementText(uncommented))).toEqual({ ok: true, statement: uncommented });
    // Reordered fields, a missing newline, an unknown field, a bad time: not a statement.
    const lines = text.split('\n');
    [lines[3], lines[4]] = [lines[4], lines[3]];
    expect(parseStatement(lines.join('\n'))).toMatchObject({ ok: false, problem: /not in canonical form/ });
    expect(parseStatement(text.trimEnd())).toMatchObject({ ok: false, problem: /end with a newline/ });
    expect(parseStatement(text.replace('signer:', 'extra: x\nsigner:'))).toMatchObject({
      ok: false,
      problem: /a line it does not know: extra: x/,
    });
    expect(parseStatement(text.replace('2026-05-01T10:03:12Z', 'yesterday'))).toMatchObject({
      ok: false,
      problem: /time must be a UTC time/,
    });
    expect(statementTime(new Date('2026-05-01T10:03:12.345Z'))).toBe('2026-05-01T10:03:12Z');
  });

  it('bind the evidence by its SHA-256 digest', () => {
    const material = { principals: ['dc1-sql-a'], gap: null, recoveryPoint: '2026-05-01T10:00:00Z' };
    expect(evidenceDigest(material)).toBe(createHash('sha256').update(stableJson(material)).digest('hex'));
    expect(evidenceDigest({ ...material, principals: [] })).not.toBe(evidenceDigest(material));
    expect(evidenceDigest(material)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('SSH signatures made by ssh-keygen', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-sshsig-'));
  const text = statementText(approval);

  it.each([
    ['ed25519', ['-t', 'ed25519'], 'ED25519'],
    ['ecdsa-p256', ['-t', 'ecdsa', '-b', '256'], 'ECDSA-P256'],
    ['ecdsa-p384', ['-t', 'ecdsa', '-b', '384'], 'ECDSA-P384'],
    ['ecdsa-p521', ['-t', 'ecdsa', '-b', '521'], 'ECDSA-P521'],
    ['rsa-3072', ['-t', 'rsa', '-b', '3072'], 'RSA'],
  ])('verify with a %s key, and fail on an altered statement', async (name, type, label) => {
    const person = await makeKey(dir, `carol-${name}`, type);
    const signers = parseAllowedSigners(signerLine({ ...person, name: 'carol' }), 'allowed_signers', 'x');
    const sshsig = await sshSign(person.key, text);
    const at = new Date('2026-05-01T10:03:12Z');
    const verified = verifyStatementSignature({ statement: text, sshsig, signer: 'carol', signers, at });
    expect(verified).toMatchObject({ ok: true, key: { type: label } });
    const fingerprint = (await import('node:child_process')).execFileSync('ssh-keygen', [
      '-l',
      '-f',
      `${person.key}.pub`,
    ]);
    expect(fingerprint.toString()).toContain(verified.ok ? verified.key.fingerprint : 'none');
    expect(
      verifyStatementSignature({
        statement: text.replace('confirmed', 'confirmeD'),
        sshsig,
        signer: 'carol',
        signers,
        at,
      }),
    ).toMatchObject({ ok: false, failure: 'bad-signature' });
  });

  it.each([
    ['ed25519', 'ED25519-SK'],
    ['ecdsa', 'ECDSA-SK'],
  ] as const)(
    'verify a security key’s %s signature as ssh-keygen does, and only with user presence',
    async (kind, label) => {
      const at = new Date('2026-05-01T10:03:12Z');
      const check = async (signed: { publicKey: string; sshsig: string }, name: string) => {
        const file = path.join(dir, `allowed_signers.${name}`);
        writeFileSync(file, `carol namespaces="pchat-dr" ${signed.publicKey}\n`);
        const statementFile = path.join(dir, `${name}.txt`);
        const signatureFile = path.join(dir, `${name}.txt.sig`);
        writeFileSync(statementFile, text);
        writeFileSync(signatureFile, signed.sshsig);
        const openssh = await sshVerify({ allowedSigners: file, principal: 'carol', statementFile, signatureFile });
        const ours = verifyStatementSignature({
          statement: text,
          sshsig: signed.sshsig,
          signer: 'carol',
          signers: loadAllowedSigners(file),
          at,
        });
        return { openssh, ours };
      };
      const touched = await check(securityKeySign(kind, text), `sk-${kind}`);
      expect(touched.openssh.stdout).toMatch(
        new RegExp(`^Good "pchat-dr" signature for carol with ${label} key SHA256:`),
      );
      expect(touched.ours).toMatchObject({ ok: true, key: { type: label } });
      // Another statement: a bad signature for both.
      const other = securityKeySign(kind, text.replace('confirmed', 'confirmeD'));
      const altered = await check(other, `sk-${kind}-altered`);
      expect(altered.openssh.code).not.toBe(0);
      expect(altered.ours).toMatchObject({ ok: false, failure: 'bad-signature' });
      // Nobody touched the token (no "user present" flag): pchat-dr does not count it.
      const untouched = await check(securityKeySign(kind, text, { flags: 0 }), `sk-${kind}-untouched`);
      expect(untouched.ours).toMatchObject({ ok: false, failure: 'bad-signature', reason: /nobody touched it/ });
    },
  );

  it('fail with the reason: namespace, signer, key, expiry, malformed', async () => {
    const carol = await makeKey(dir, 'carol');
    const dave = await makeKey(dir, 'dave');
    const at = new Date('2026-05-01T10:03:12Z');
    const file = path.join(dir, 'allowed_signers');
    writeFileSync(
      file,
      [
        '# the estate signers\n',
        signerLine(carol),
        signerLine(dave),
        signerLine({ ...carol, name: 'alice' }, 'namespaces="git"'),
        signerLine({ ...dave, name: 'bob' }, 'valid-before="20260101Z"'),
      ].join(''),
    );
    const signers = loadAllowedSigners(file);
    expect(signers.signers.map((signer) => signer.principals[0])).toEqual(['carol', 'dave', 'alice', 'bob']);
    const byCarol = await sshSign(carol.key, text);
    const check = (signer: string, sshsig = byCarol) =>
      verifyStatementSignature({ statement: text, sshsig, signer, signers, at });
    expect(check('carol')).toMatchObject({ ok: true });
    expect(check('erin')).toMatchObject({
      ok: false,
      failure: 'unknown-signer',
      reason: /erin has no key in .*carol, alice's/,
    });
    expect(check('dave')).toMatchObject({
      ok: false,
      failure: 'key-not-allowed',
      reason: /not one of dave's keys .*it is carol, alice's/,
    });
    expect(check('alice')).toMatchObject({ ok: false, failure: 'wrong-namespace', reason: /namespaces="git"/ });
    expect(check('bob', await sshSign(dave.key, text))).toMatchObject({ ok: false, failure: 'key-expired' });
    expect(check('carol', await sshSign(carol.key, text, 'git'))).toMatchObject({
      ok: false,
      failure: 'wrong-namespace',
      reason: /namespace "git", not "pchat-dr"/,
    });
    expect(check('carol', byCarol.replace('-----BEGIN SSH SIGNATURE-----', ''))).toMatchObject({
      ok: false,
      failure: 'malformed',
    });
    expect(parseSshSignature(byCarol).hashAlgorithm).toBe('sha512');

    // What pchat-dr verifies, ssh-keygen -Y verify verifies too.
    const statementFile = path.join(dir, 'statement.txt');
    const signatureFile = path.join(dir, 'statement.txt.sig');
    writeFileSync(statementFile, text);
    writeFileSync(signatureFile, byCarol);
    const good = await sshVerify({ allowedSigners: file, principal: 'carol', statementFile, signatureFile });
    expect(good.stdout).toMatch(/^Good "pchat-dr" signature for carol with ED25519 key SHA256:/);
    const wrong = await sshVerify({ allowedSigners: file, principal: 'dave', statementFile, signatureFile });
    expect(wrong.code).not.toBe(0);
  });

  it('allowed_signers files with patterns, certificate authorities or bad keys are refused, line by line', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPcyc9lFh1m0B1zO2D4L6K9lVwWLqYv8r3lW7y3u8kQp';
    expect(() =>
      parseAllowedSigners(`*@contoso.com ${key}\ncarol cert-authority ${key}\ndave ssh-rsa AAAA\n`, 'f', 'x'),
    ).toThrow(AllowedSignersError);
    try {
      parseAllowedSigners(`*@contoso.com ${key}\ncarol cert-authority ${key}\ndave ssh-rsa AAAA\n`, 'f', 'x');
    } catch (error) {
      expect((error as AllowedSignersError).problems).toEqual([
        expect.stringMatching(/^line 1: principals must be names/),
        expect.stringMatching(/^line 2: cert-authority lines are not supported/),
        expect.stringMatching(/^line 3: /),
      ]);
    }
  });
});

describe('report --verify', () => {
  it('fails two approvals of one gate signed with one key, whatever names they carry', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-verify-'));
    const shared = await makeKey(dir, 'shared');
    const signers = parseAllowedSigners(signerLine({ ...shared, name: 'bob,carol' }), 'allowed_signers', 'x');
    const material = { facts: 'the mirror is current' };
    const evidence = evidenceDigest(material);
    const base = { ...approval, gate: 'accept-data-loss', evidence, comment: undefined };
    const signedBy = async (signer: string) => {
      const { comment: _comment, ...statement } = { ...base, signer };
      const text = statementText(statement);
      const sshsig = await sshSign(shared.key, text);
      const { label, fingerprint } = parseSshSignature(sshsig).publicKey;
      const key = { type: label, fingerprint };
      return {
        action: 'approve' as const,
        gate: 'accept-data-loss',
        by: signer,
        at: approval.time,
        statement: text,
        sshsig,
        key,
        allowedSigners: { file: 'allowed_signers', digest: 'x' },
      };
    };
    const report = {
      workflowId: approval.workflowId,
      runId: approval.runId,
      runbook: 'mirror-failover',
      initiator: 'erin',
      gates: [
        {
          id: 'accept-data-loss',
          gate: 'accept-data-loss',
          evidence: { version: evidence, takenAt: approval.time, summary: [], material },
          approvals: ['bob', 'carol'].map((by) => ({ by, at: approval.time, evidenceVersion: evidence })),
        },
      ],
      signing: { policy: 'critical', allowedSigners: 'allowed_signers' },
      signed: [await signedBy('bob'), await signedBy('carol')],
    } as unknown as RunbookReport;
    const results = await verifyReport(report, { signers });
    expect(results.map((result) => [result.message, result.ok])).toEqual([
      ['approve accept-data-loss by bob', true],
      ['approve accept-data-loss by carol', true],
      ['approve accept-data-loss by carol', false],
      ['start by erin', false],
    ]);
    expect(results[2].detail).toMatch(
      /^signed with the key that signed bob's approval of accept-data-loss .*one key counts as one person$/,
    );
  });
});

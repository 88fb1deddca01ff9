/**
 * Signing from the command line, as approvers would (issue 16): `run --sign KEY`, an unsigned approval that does
 * not count, `approve --sign` with the key ssh-agent holds, `pchat-dr statement` signed elsewhere with
 * `ssh-keygen -Y sign` and sent with `--signature`; then the report: `report --verify` passes on the real run and
 * fails on a report whose statement was edited, and `ssh-keygen -Y verify` accepts every statement and signature the
 * Markdown report prints, with the command it prints.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunbookReport } from '../../contracts/run-record';
import { result, runbookHarness, type RunbookHarness } from '../helpers/runbooks';
import { makeSigners } from '../helpers/ssh-keys';
import { testNamespace } from '../helpers/temporal';
import { cli, cliEnv, expectOneLineError } from './cli-env';
import { runCli } from '../helpers/cli';

const exec = promisify(execFile);

let harness: RunbookHarness | undefined;
let agentPid: number | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  if (agentPid) process.kill(agentPid);
  agentPid = undefined;
});

/** An ssh-agent of the test's own holding one key: SSH_AUTH_SOCK for the CLI. */
async function agentWith(key: string, dir: string): Promise<string> {
  const socket = path.join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  agentPid = agent.pid;
  for (let attempt = 0; ; attempt++) {
    try {
      await exec('ssh-add', [key], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      return socket;
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('pchat-dr with signatures', () => {
  it(
    'signs the start and the approvals (a key file, ssh-agent, a statement signed elsewhere); report --verify and ssh-keygen -Y verify check them',
    { timeout: 180_000 },
    async () => {
      const signers = await makeSigners(['alice', 'bob', 'carol', 'erin']);
      harness = await runbookHarness({
        label: 'cli-signed',
        edit: (yaml) => `${yaml}\nsignatures:\n  allowedSigners: ${signers.file}\n`,
      });
      const h = harness;
      const work = mkdtempSync(path.join(os.tmpdir(), 'pchat-cli-signed-'));
      // No git, agent or key of the machine's user may stand in for the test's.
      const clean = { HOME: work, SSH_AUTH_SOCK: '', PCHAT_DR_SIGNING_KEY: '' };
      const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
        runCli(args, { env: { ...cliEnv(h), ...clean, ...env } });
      await h.env.estate.stopInstance('dc1-sql-a');
      const id = `${h.taskQueue}-forced`;
      await h.withWorker(async () => {
        // Unsigned, the start is refused (the default policy of an estate with signers is required).
        expectOneLineError(
          await run(['run', 'mirror-failover', '-f', h.env.topologyFile, '--as', 'erin', '--id', `${id}-unsigned`]),
          3,
          /^run .*-unsigned refused: the start must be signed: .* requires signed starts \(signatures\.policy required\); start it with pchat-dr run \.\.\. --sign$/,
        );
        const started = await run([
          'run',
          'mirror-failover',
          '-f',
          h.env.topologyFile,
          '--as',
          'erin',
          '--id',
          id,
          '--reason',
          'dc1-sql-a lost',
          '--sign',
          signers.people.erin.key,
          '--follow',
        ]);
        expect(started.code, started.stderr).toBe(0);
        expect(started.stdout).toMatch(
          /verify-start-signature on .*: pchat-dr signature of erin verified: ED25519 key/,
        );
        expect(started.stdout).toContain(`pchat-dr approve ${id} --gate accept-data-loss --comment <text> --sign`);

        // Unsigned: accepted by the rules, refused for want of a signature (exit 3, one line, recorded).
        expectOneLineError(
          await run(['approve', id, '--gate', 'accept-data-loss', '--as', 'bob']),
          3,
          /^approval did not count: approval must be signed: .*--sign\)$/,
        );
        // bob signs with the key his ssh-agent holds (--sign with no key: the agent's first).
        const socket = await agentWith(signers.people.bob.key, work);
        const byBob = await run(
          ['approve', id, '--gate', 'accept-data-loss', '--as', 'bob', '--comment', 'mirror is current', '--sign'],
          { SSH_AUTH_SOCK: socket },
        );
        expect(byBob.code, byBob.stderr).toBe(0);
        expect(byBob.stdout).toMatch(/^approval counted: 1 of 2, waiting for 1 more/);

        // carol signs elsewhere: the statement printed, signed with ssh-keygen, sent with --signature.
        const statementFile = path.join(work, 'carol.txt');
        const printed = await run([
          'statement',
          id,
          '--gate',
          'accept-data-loss',
          '--as',
          'carol',
          '--comment',
          'agreed with bob',
          '--out',
          statementFile,
        ]);
        expect(printed.code, printed.stderr).toBe(0);
        const statement = readFileSync(statementFile, 'utf8');
        expect(statement).toMatch(
          new RegExp(
            `^pchat-dr statement v1\naction: approve\ntemporal-namespace: ${testNamespace()}\nworkflow-id: ${id}\nrun-id: \\S+\ngate: accept-data-loss\nevidence: [0-9a-f]{64}\ncomment: "agreed with bob"\nsigner: carol\ntime: \\S+Z\n$`,
          ),
        );
        await exec('ssh-keygen', ['-Y', 'sign', '-f', signers.people.carol.key, '-n', 'pchat-dr', statementFile]);
        const byCarol = await run(['approve', id, '--gate', 'accept-data-loss', '--signature', `${statementFile}.sig`]);
        expect(byCarol.code, byCarol.stderr).toBe(0);
        expect(byCarol.stdout).toMatch(/^approval counted: accept-data-loss approved \(2 of 2\)/);

        const report = await result(h.client.workflow.getHandle(id));
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        expect(report.gates[0].approvals.map((vote) => [vote.by, vote.comment])).toEqual([
          ['bob', 'mirror is current'],
          ['carol', 'agreed with bob'],
        ]);

        // report --verify: every signature again, against the signers file.
        const verified = await run(['report', id, '--verify', '--allowed-signers', signers.file]);
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        expect(verified.stdout.trimEnd().split('\n')).toEqual([
          expect.stringMatching(/^ok {6}start by erin: good signature with ED25519 key \S+, erin's in .* line 4$/),
          expect.stringMatching(/^ok {6}approve accept-data-loss by bob: good signature with ED25519 key \S+, bob's/),
          expect.stringMatching(/^ok {6}approve accept-data-loss by carol: good signature/),
          `${id}: 3 signed message(s) verified`,
        ]);
        // ... and on a report kept in a file, whose statement someone edited: it fails.
        const kept = path.join(work, 'report.json');
        expect((await run(['report', id, '-o', 'json', '--out', kept])).code).toBe(0);
        expect((await run(['report', '--verify', '--from', kept, '--allowed-signers', signers.file])).code).toBe(0);
        const edited = JSON.parse(readFileSync(kept, 'utf8')) as RunbookReport;
        edited.signed![2].statement = edited.signed![2].statement.replace('agreed with bob', 'agreed with nobody');
        edited.gates[0].approvals[1].comment = 'agreed with nobody';
        writeFileSync(kept, JSON.stringify(edited));
        const tampered = await run(['report', '--verify', '--from', kept, '--allowed-signers', signers.file]);
        expect(tampered.code).toBe(3);
        expect(tampered.stdout).toMatch(
          /^FAILED {2}approve accept-data-loss by carol: bad signature: it does not verify over the statement printed/m,
        );
        expect(tampered.stdout).toContain(`${id}: 1 of 3 check(s) FAILED`);

        // The Markdown report prints each statement, its signature and the ssh-keygen line that verifies it.
        const markdown = (await cli(h, ['report', id])).stdout;
        expect(markdown).toContain('## Signed messages');
        const blocks = [
          ...markdown.matchAll(
            /Statement \(`(\d+)\.txt`\):\n\n(`{3,})text\n([\s\S]*?)\n\2\n\nSignature \(`\1\.sig`\):\n\n```text\n([\s\S]*?)\n```\n\n```sh\n(.*)\n```/g,
          ),
        ];
        expect(blocks).toHaveLength(3);
        const audit = mkdtempSync(path.join(os.tmpdir(), 'pchat-audit-'));
        copyFileSync(signers.file, path.join(audit, 'allowed_signers'));
        for (const [, n, , text, signature, command] of blocks) {
          writeFileSync(path.join(audit, `${n}.txt`), `${text}\n`);
          writeFileSync(path.join(audit, `${n}.sig`), `${signature}\n`);
          const { stdout } = await exec('bash', ['-c', command], { cwd: audit });
          expect(stdout).toMatch(/^Good "pchat-dr" signature for (erin|bob|carol) with ED25519 key SHA256:/);
        }
      });
    },
  );
});

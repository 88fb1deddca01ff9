/**
 * The approval console in a real Chromium (issue 17), against the dev server, a real worker and the simulated
 * estate: carol and dave enrol passkeys, a disaster failover is started from the CLI, both approve declare-disaster
 * from the page and the steps advance to the end without a reload. A passkey not in the estate, a signature made for
 * another gate or evidence version, a tampered or replayed request are refused and change nothing. The page on a
 * phone shows the gate and its buttons without horizontal scrolling. Screenshots go to a temporary folder, or with
 * UPDATE_SCREENSHOTS=1 to docs/console/ (what docs/console.md shows): a test run leaves the checkout as it found it.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { approveUpdate, pendingGatesQuery } from '../../contracts/messages';
import { statementText, statementTime, type PasskeyAssertion, type Statement } from '../../contracts/statements';
import { PROJECT_ROOT } from '../../runtime/package';
import { freePort, launchChromium, pageWithAuthenticator, startConsoleCli } from '../helpers/browser';
import { runCli } from '../helpers/cli';
import { gateOpen, refusal, result, runbookHarness, type RunbookHarness } from '../helpers/runbooks';
import { makeSigners, sshSign } from '../helpers/ssh-keys';
import { testNamespace } from '../helpers/temporal';
import { loseDc1, setUpLogShipping, takeLogBackups } from '../helpers/story';
import { cliEnv, simulatedSecret } from '../cli/cli-env';

const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? path.join(PROJECT_ROOT, 'docs', 'console')
  : mkdtempSync(path.join(os.tmpdir(), 'pchat-console-shots-'));
afterAll(() => {
  if (!process.env.UPDATE_SCREENSHOTS) rmSync(SHOTS, { recursive: true, force: true });
});

let harness: RunbookHarness | undefined;
let browser: Browser | undefined;
let stopConsole: (() => Promise<void>) | undefined;
afterEach(async () => {
  await browser?.close();
  await stopConsole?.();
  await harness?.close();
  browser = harness = stopConsole = undefined;
});

/** In the page (no DOM types here): the page's passkey signs a statement's digest, as the console's script does. */
const SIGN_IN_PAGE = `async (text) => {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  const credential = await navigator.credentials.get({
    publicKey: { challenge: digest, rpId: location.hostname, userVerification: 'preferred' },
  });
  const b64 = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  return {
    credentialId: credential.id,
    authenticatorData: b64(credential.response.authenticatorData),
    clientDataJSON: b64(credential.response.clientDataJSON),
    signature: b64(credential.response.signature),
  };
}`;

/** In the page: asks the console for the statement to sign with the gate form's fields, some replaced. */
const ISSUE_IN_PAGE = `async (extra) => {
  const form = document.querySelector('article.gate form');
  const fields = new URLSearchParams(new FormData(form));
  fields.set('action', 'approve');
  fields.set('as', 'dave');
  for (const [key, value] of Object.entries(extra)) fields.set(key, value);
  const response = await fetch(form.dataset.statement, { method: 'POST', body: fields, headers: { Accept: 'application/json' } });
  return response.json();
}`;

/** Creates a passkey for `person` on the page's authenticator; the line the page prints. */
async function enrol(page: Page, base: string, person: string): Promise<string> {
  await page.goto(`${base}enrol`);
  await page.fill('input[name=person]', person);
  await page.click('button[type=submit]');
  const line = page.locator('#enrol-line');
  await line.waitFor({ state: 'visible', timeout: 20_000 });
  return (await line.textContent())!.trim();
}

/** Answers the open gate from the run page as `person`, signed with the page's passkey; what the page says. */
async function answer(page: Page, person: string, text: string, button = 'Approve'): Promise<string> {
  const gate = page.locator('article.gate').first();
  await gate.locator('input[name=as]').fill(person);
  await gate.locator('textarea[name=text]').fill(text);
  await gate.getByRole('button', { name: button }).click();
  const said = page.locator('#answer-result');
  await expect
    .poll(async () => (await said.textContent()) ?? '', { timeout: 30_000 })
    .toMatch(/^(Counted|Did not count|Not sent)/);
  return (await said.textContent())!;
}

describe('the approval console', () => {
  it(
    'carol and dave enrol passkeys and approve declare-disaster from the page; forged answers are refused; the run ends live',
    { timeout: 240_000 },
    async () => {
      mkdirSync(SHOTS, { recursive: true });
      const port = await freePort();
      const base = `http://localhost:${port}/`;
      const signers = await makeSigners(['erin', 'carol', 'dave']);
      const passkeys = path.join(signers.dir, 'passkeys');
      writeFileSync(passkeys, "# carol's and dave's passkeys, as the console's enrolment page printed them\n");
      harness = await runbookHarness({
        label: 'console',
        edit: (yaml) =>
          `${yaml}\nsignatures:\n  allowedSigners: ${signers.file}\n  passkeys: ${passkeys}\n  policy: critical\nconsole:\n  url: ${base}\n`,
        signStart: async (statement) => {
          const text = statementText({ ...statement, time: statementTime(new Date()) } as Statement);
          return { statement: text, sshsig: await sshSign(signers.people.erin.key, text) };
        },
      });
      const h = harness;
      const env = { ...cliEnv(h), HOME: signers.dir, SSH_AUTH_SOCK: '' };
      const started = await startConsoleCli(['--listen', `127.0.0.1:${port}`, '--url', base], env);
      stopConsole = started.stop;
      expect(started.url).toBe(base);
      browser = await launchChromium();
      const carol = await pageWithAuthenticator(await browser.newContext({ viewport: { width: 1100, height: 900 } }));
      const dave = await pageWithAuthenticator(await browser.newContext({ viewport: { width: 1100, height: 900 } }));
      const stranger = await pageWithAuthenticator(await browser.newContext());

      // Enrolment prints the line for the estate's passkeys file; it grants nothing until the line is added.
      const carolLine = await enrol(carol.page, base, 'carol');
      expect(carolLine).toMatch(/^carol passkey [A-Za-z0-9_-]+ [A-Za-z0-9_-]+ enrolled-\d{4}-\d{2}-\d{2}$/);
      await carol.page.screenshot({ path: path.join(SHOTS, 'enrol.png') });
      const daveLine = await enrol(dave.page, base, 'dave');
      appendFileSync(passkeys, `${carolLine}\n${daveLine}\n`);
      // The stranger's passkey is dave's name on a device the estate does not list.
      await enrol(stranger.page, base, 'dave');

      await h.withWorker(async () => {
        await setUpLogShipping(h);
        await takeLogBackups(h.env, 2, 1);
        await loseDc1(h.env);
        const id = `${h.taskQueue}-disaster`;
        const run = await runCli(
          [
            'run',
            'failover',
            '-f',
            h.env.topologyFile,
            '--mode',
            'disaster',
            '--as',
            'erin',
            '--id',
            id,
            '--reason',
            'DC1 is down',
            '--sign',
            signers.people.erin.key,
          ],
          { env },
        );
        expect(run.code, run.stdout + run.stderr).toBe(0);
        const handle = h.client.workflow.getHandle(id);
        const gate = await gateOpen(handle, 'declare-disaster');

        // The open runs: the failover, waiting on declare-disaster.
        await carol.page.goto(base);
        await expect.poll(() => carol.page.locator('.run-card').count(), { timeout: 15_000 }).toBe(1);
        await expect(carol.page.locator('.run-card').textContent()).resolves.toMatch(/failover on .*declare-disaster/s);
        await carol.page.screenshot({ path: path.join(SHOTS, 'runs.png'), fullPage: true });
        await carol.page.click(`.run-card a[href="/runs/${id}"]`);
        await carol.page
          .locator('article.gate h2')
          .waitFor()
          .catch(async (error: Error) => {
            throw new Error(`${error.message}\n${await carol.page.content()}\n${started.output()}`);
          });
        expect(await carol.page.locator('article.gate h2').textContent()).toBe(gate.question);
        expect(await carol.page.locator('.evidence .summary').textContent()).toMatch(/dc1-sql-a: unreachable/);
        let navigations = 0;
        carol.page.on('framenavigated', () => navigations++);

        expect(await answer(carol.page, 'carol', 'DC1 is gone')).toMatch(
          /^Counted: approval counted: 1 of 2, waiting for 1 more/,
        );
        await carol.page.locator('.votes li').waitFor();
        expect(await carol.page.locator('.votes').textContent()).toMatch(/carol .*signed PASSKEY SHA256:/s);
        await carol.page.screenshot({ path: path.join(SHOTS, 'run.png'), fullPage: true });
        const approvals = async () =>
          (await handle.query(pendingGatesQuery))
            .find((open) => open.gate === 'declare-disaster')!
            .approvals.map((vote) => vote.by);

        // A phone: the gate and its buttons, nothing wider than the screen.
        const phoneContext = await browser!.newContext({
          viewport: { width: 390, height: 844 },
          isMobile: true,
          hasTouch: true,
          deviceScaleFactor: 2,
        });
        const phone = await phoneContext.newPage();
        await phone.goto(`${base}runs/${id}`);
        await phone.locator('article.gate').waitFor();
        expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
        for (const name of ['Approve', 'Reject']) {
          const box = (await phone.getByRole('button', { name }).first().boundingBox())!;
          expect(box.x).toBeGreaterThanOrEqual(0);
          expect(box.x + box.width).toBeLessThanOrEqual(390);
        }
        await phone.locator('article.gate form').scrollIntoViewIfNeeded();
        await phone.screenshot({ path: path.join(SHOTS, 'phone.png') });

        // Without JavaScript the page reads (and shows no secret); an unsigned answer lands on its outcome.
        const plain = await (await browser!.newContext({ javaScriptEnabled: false })).newPage();
        await plain.goto(`${base}runs/${id}`);
        expect(await plain.locator('article.gate h2').textContent()).toBe(gate.question);
        expect(await plain.content()).not.toContain(simulatedSecret(h));
        await plain.fill('article.gate input[name=as]', 'dave');
        await plain.uncheck('article.gate input[name=sign]');
        await plain.click('article.gate button[value=approve]');
        expect(await plain.locator('h1').textContent(), (await plain.locator('main').textContent()) ?? '').toBe(
          'Your answer did not count',
        );
        expect(await plain.locator('p[role=status]').textContent()).toMatch(
          /^approval must be signed: .* requires signed approvals at critical gates/,
        );
        // What the next steps will send: a dry run of the same runbook, its plan rendered by the dry-run renderer.
        await stranger.page.goto(`${base}runs/${id}`);
        await stranger.page.click('#next button');
        await stranger.page.waitForURL(/\/runs\/dry-run-failover-/, { timeout: 90_000 });
        await stranger.page.locator('#plan').waitFor();
        expect(await stranger.page.locator('#plan').textContent()).toMatch(
          /recover on dc2-sql-a[\s\S]*RESTORE DATABASE \[mgc\] WITH RECOVERY/,
        );
        await stranger.page.screenshot({ path: path.join(SHOTS, 'plan.png'), fullPage: true });

        // The console refuses a gate that is not open and evidence that is not the gate's before anything is signed.
        await stranger.page.goto(`${base}runs/${id}`);
        const issue = (extra: Record<string, string>) =>
          stranger.page.evaluate(`(${ISSUE_IN_PAGE})(${JSON.stringify(extra)})`) as Promise<{ error?: string }>;
        expect((await issue({ gate: 'accept-data-loss' })).error).toBe(
          'gate accept-data-loss is not open (open: declare-disaster)',
        );
        expect((await issue({ evidenceVersion: 'e'.repeat(64) })).error).toMatch(
          /^the evidence of declare-disaster changed since you looked \(you saw eeeeeeeeeeee, it is now [0-9a-f]{12}\)/,
        );

        // A passkey the estate does not list: refused by the worker, nothing changes.
        expect(await answer(stranger.page, 'dave', 'agreed')).toMatch(
          /^Did not count: the passkey \S+ is not one of dave's in .*passkeys \(nobody there has it/,
        );
        // A tampered request: the comment changed after dave signed; the worker compares it with the statement.
        await dave.page.goto(`${base}runs/${id}`);
        let sentBody = '';
        await dave.page.route('**/answer', async (route) => {
          sentBody = route.request().postData()!.replace('text=agreed', 'text=agreed+and+more');
          await route.continue({ postData: sentBody });
        });
        expect(await answer(dave.page, 'dave', 'agreed')).toMatch(
          /^Did not count: the signed statement says comment "agreed", the message "agreed and more"/,
        );
        await dave.page.unroute('**/answer');
        // The same request again: the console handed that statement out once.
        const replayed = await dave.page.evaluate(
          async ([url, body]) =>
            (
              await fetch(url, {
                method: 'POST',
                body: new URLSearchParams(body),
                headers: { Accept: 'application/json' },
              })
            ).json(),
          [`/runs/${id}/answer`, sentBody] as const,
        );
        expect((replayed as { message: string }).message).toMatch(
          /was not handed out by this console, has expired or was already sent/,
        );

        // Signatures made by dave's passkey for another gate, another evidence version, or another statement,
        // sent through the raw Temporal API: the worker refuses each as it would a bad SSH signature.
        const { runId } = await handle.describe();
        const statementFor = (overrides: Partial<Statement>) =>
          statementText({
            action: 'approve',
            temporalNamespace: testNamespace(),
            workflowId: id,
            runId,
            gate: 'declare-disaster',
            evidence: gate.evidence!.version,
            comment: 'agreed',
            signer: 'dave',
            time: statementTime(new Date()),
            ...overrides,
          } as Statement);
        const signWithDave = (statement: string): Promise<PasskeyAssertion> =>
          dave.page.evaluate(`(${SIGN_IN_PAGE})(${JSON.stringify(statement)})`);
        const sendRaw = async (statement: string, signedText = statement) =>
          refusal(
            handle
              .executeUpdate(approveUpdate, {
                args: [
                  {
                    gate: 'declare-disaster',
                    by: 'dave',
                    comment: 'agreed',
                    evidenceVersion: gate.evidence!.version,
                    signature: { statement, webauthn: await signWithDave(signedText) },
                  },
                ],
              })
              .then((outcome) => {
                if (!outcome.counted) throw new Error(outcome.message);
                return outcome;
              }),
          );
        expect(await sendRaw(statementFor({ gate: 'accept-data-loss' }))).toMatch(
          /^the signed statement is for gate accept-data-loss, not declare-disaster/,
        );
        expect(await sendRaw(statementFor({ evidence: 'f'.repeat(64) }))).toMatch(
          /^the signed statement approves evidence f{64}, but the gate's evidence is/,
        );
        expect(await sendRaw(statementFor({}), statementFor({ comment: 'something else' }))).toMatch(
          /^bad signature: the passkey signed another statement/,
        );
        expect(await approvals()).toEqual(['carol']);

        // dave approves for real; carol's page follows the run to its end without a reload.
        await dave.page.reload();
        expect(await answer(dave.page, 'dave', 'agreed')).toMatch(/^Counted: declare-disaster approved \(2 of 2\)/);
        await carol.page.locator('.badge[data-outcome="succeeded"]').waitFor({ timeout: 120_000 });
        expect(navigations).toBe(0);
        expect(await carol.page.locator('ol.steps li[data-step="activate-dc2"] .step-status').textContent()).toMatch(
          /acted|skipped/,
        );
        await carol.page.screenshot({ path: path.join(SHOTS, 'ended.png'), fullPage: true });
        const report = await result(handle);
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        expect(report.signed!.filter((signed) => signed.webauthn).map((signed) => signed.by)).toEqual([
          'carol',
          'dave',
        ]);

        // Offline: report --verify checks the passkey signatures against the estate's passkeys file.
        const verified = await runCli(
          ['report', id, '--verify', '--allowed-signers', signers.file, '--passkeys', passkeys],
          { env },
        );
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        expect(verified.stdout).toMatch(
          /^ok {6}approve declare-disaster by carol: good signature with passkey SHA256:\S+ at http:\/\/localhost:\d+, carol's in .*passkeys line 2$/m,
        );
        expect(verified.stdout).toContain(`${id}: 3 signed message(s) verified`);
      });
    },
  );
});

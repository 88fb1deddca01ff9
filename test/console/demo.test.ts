/**
 * The demo's approval console (issue 17): `pchat-dr demo --short --interactive` prints the console's address, and
 * its gates are answered there, in a real Chromium, with a passkey enrolled on the console's page and added to the
 * demo's passkeys file, as its instructions say.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/package';
import { launchChromium, pageWithAuthenticator } from '../helpers/browser';
import { CLI_PATH } from '../helpers/cli';
import { eventually } from '../helpers/estate';

let browser: Browser | undefined;
let stopDemo: (() => void) | undefined;
afterEach(async () => {
  await browser?.close();
  stopDemo?.();
  browser = stopDemo = undefined;
});

describe('the demo with --interactive', () => {
  it("prints the console's address, whose pages answer its gates with a passkey", { timeout: 180_000 }, async () => {
    const state = mkdtempSync(path.join(os.tmpdir(), 'pchat-demo-console-'));
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_')));
    const demo = spawn(process.execPath, [CLI_PATH, 'demo', '--short', '--interactive', '--state', state], {
      env: { ...env, TEMPORAL_CLI: path.join(PROJECT_ROOT, '.tools', 'temporal') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stopDemo = () => demo.kill('SIGINT');
    let stdout = '';
    demo.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    demo.stderr.on('data', () => {});
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));

    const address = await eventually(
      () =>
        /^ {2}approval console +(http:\/\/localhost:\d+\/) \(enrol a passkey there and add its line to (\S+)/m.exec(
          stdout,
        ),
      90_000,
      `the demo to print the console's address:\n${stdout}`,
    );
    const [, base, passkeys] = address;
    expect(passkeys).toBe(path.join(state, 'passkeys'));
    browser = await launchChromium();
    const { page } = await pageWithAuthenticator(await browser.newContext());
    await page.goto(`${base}enrol`);
    await page.fill('input[name=person]', 'bob');
    await page.click('button[type=submit]');
    await page.locator('#enrol-line').waitFor({ state: 'visible', timeout: 20_000 });
    appendFileSync(passkeys, `${(await page.locator('#enrol-line').textContent())!.trim()}\n`);

    // The short story has two gates (the failover and the failover back): each answered in the console as bob.
    for (let turn = 1; turn <= 2; turn++) {
      const link = await eventually(
        () => [...stdout.matchAll(/^ {5}or in the approval console: (\S+) \(sign with a passkey/gm)][turn - 1]?.[1],
        90_000,
        `turn ${turn} of the demo:\n${stdout}`,
      );
      expect(link.startsWith(base)).toBe(true);
      await page.goto(link);
      const gate = page.locator('article.gate').first();
      await gate.locator('input[name=as]').fill('bob');
      await gate.locator('textarea[name=text]').fill('from the console');
      await gate.getByRole('button', { name: 'Approve' }).click();
      await expect
        .poll(async () => (await page.locator('#answer-result').textContent()) ?? '', { timeout: 30_000 })
        .toMatch(/^Counted: approve-mirror-failover(#\d)? approved \(1 of 1\)/);
    }
    expect(await exited).toBe(0);
    expect(stdout.match(/^ {2}answered: the run goes on$/gm)).toHaveLength(2);
  });
});

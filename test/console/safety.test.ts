/**
 * The console safe by default, without a browser: security headers on every page, CSRF protection on every form,
 * forms with unknown or bad fields refused with what to fix, an unknown run a 404; loopback unless told otherwise;
 * the estate's passkeys file read with clear errors; notifications of a gate carry its console link.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { consoleLinkOf } from '../../activities/notify';
import { DEFAULT_CONSOLE_LISTEN, parseListen } from '../../client/commands/console';
import { startConsole, type RunningConsole } from '../../client/console/server';
import { parsePasskeys, PasskeysError } from '../../signatures/passkeys';
import { loadTopology } from '../../topology/load';
import { writeSimulatedTopology } from '../helpers/estate';
import { connectClient, uniqueTaskQueue } from '../helpers/temporal';

let running: RunningConsole | undefined;
let closeClient: (() => Promise<void>) | undefined;
afterEach(async () => {
  await running?.close();
  await closeClient?.();
  running = closeClient = undefined;
});

async function consoleOnTestServer(): Promise<RunningConsole> {
  const { client, close } = await connectClient();
  closeClient = close;
  running = await startConsole({
    client: client as Client,
    taskQueue: uniqueTaskQueue('console-safety'),
    host: '127.0.0.1',
    port: 0,
  });
  return running;
}

/** The page's CSRF cookie and token, as a browser gets them. */
async function formSession(base: string): Promise<{ cookie: string; csrf: string }> {
  const page = await fetch(`${base}enrol`);
  const cookie = page.headers.get('set-cookie')!.split(';')[0];
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1];
  return { cookie, csrf };
}

describe('the console, safe by default', () => {
  it('sends security headers, protects every form against CSRF, and says what to fix', async () => {
    const { url: base } = await consoleOnTestServer();
    expect(base).toMatch(/^http:\/\/localhost:\d+\/$/);
    const home = await fetch(base);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('No open runs');
    const csp = home.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(home.headers.get('x-frame-options')).toBe('DENY');
    expect(home.headers.get('x-content-type-options')).toBe('nosniff');
    expect(home.headers.get('referrer-policy')).toBe('same-origin');
    expect(home.headers.get('cache-control')).toBe('no-store');

    const { cookie, csrf } = await formSession(base);
    expect(cookie).toMatch(/^pchat_dr_csrf=/);
    const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        body: new URLSearchParams(fields),
        headers: { Accept: 'application/json', Cookie: cookie, ...headers },
      });
    const answer = { action: 'approve', as: 'carol', gate: 'declare-disaster', evidenceVersion: 'none', text: '' };

    // No token, a wrong token, a token without its cookie, another site: refused before anything else.
    for (const [fields, headers] of [
      [answer, {}],
      [{ ...answer, csrf: 'x'.repeat(43) }, {}],
      [{ ...answer, csrf }, { Cookie: '' }],
      [{ ...answer, csrf }, { Origin: 'https://evil.example' }],
    ] as const) {
      const refused = await post('runs/some-run/answer', fields, headers);
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: string }).error).toMatch(/CSRF token|sent from https:\/\/evil/);
    }
    // With the token: the fields are checked, every one.
    const unknown = await post('runs/some-run/answer', { ...answer, csrf, admin: 'yes' });
    expect(((await unknown.json()) as { message: string }).message).toBe(
      'the form is not one the console sent: unknown field admin',
    );
    const badEvidence = await post('runs/some-run/answer', { ...answer, csrf, evidenceVersion: 'abc' });
    expect(((await badEvidence.json()) as { message: string }).message).toMatch(
      /evidenceVersion must be the evidence version the page showed/,
    );
    const noReason = await post('runs/some-run/answer', { ...answer, csrf, action: 'reject' });
    expect(((await noReason.json()) as { message: string }).message).toBe(
      'a rejection needs a reason: write why in the reason field',
    );
    const noRun = await post('runs/some-run/answer', { ...answer, csrf });
    expect(((await noRun.json()) as { message: string }).message).toBe('no run with id some-run');
    const signedWithoutScript = await post('runs/some-run/answer', { ...answer, csrf, sign: 'passkey' });
    expect(((await signedWithoutScript.json()) as { message: string }).message).toMatch(/needs JavaScript/);
    const foreign = await post('runs/some-run/answer', {
      ...answer,
      csrf,
      statement: 'pchat-dr statement v1\n',
      credentialId: 'AAAA',
      authenticatorData: 'AAAA',
      clientDataJSON: 'AAAA',
      signature: 'AAAA',
    });
    expect(((await foreign.json()) as { message: string }).message).toMatch(/not handed out by this console/);

    // Pages: an unknown run, an unknown page, each says so.
    const missing = await fetch(`${base}runs/no-such-run`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('no run with id no-such-run');
    expect((await fetch(`${base}nowhere`)).status).toBe(404);
  });

  it('listens on loopback unless told otherwise', () => {
    expect(DEFAULT_CONSOLE_LISTEN).toBe('127.0.0.1:8090');
    expect(parseListen('0.0.0.0:8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseListen('8080')).toThrow(/give host:port/);
  });

  it('reads the passkeys file with an error per bad line', () => {
    const text = [
      '# comment',
      'carol passkey AAAA',
      'carol,dave passkey AAAA pQECAyYgASFYIA',
      'carol sshkey AAAA pQECAyYgASFYIA',
      'carol passkey AAAA bm90LWNvc2U',
    ].join('\n');
    let error: PasskeysError | undefined;
    try {
      parsePasskeys(text, 'passkeys', '0');
    } catch (caught) {
      error = caught as PasskeysError;
    }
    expect(error?.problems).toEqual([
      "line 2: expected: person passkey CREDENTIAL-ID PUBLIC-KEY [comment] (the console's enrolment page prints the line)",
      'line 3: one person per line, by name (carol,dave): a passkey belongs to one person',
      'line 4: the second word must be "passkey", not "sshkey"',
      expect.stringMatching(/^line 5: the public key is not a COSE key/),
    ]);
  });

  it('needs console.url beside a passkeys file, an http(s) address without credentials', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-console-topology-'));
    writeFileSync(path.join(dir, 'allowed_signers'), '');
    writeFileSync(path.join(dir, 'passkeys'), '');
    const check = async (extra: string) => {
      const file = await writeSimulatedTopology(dir, (yaml) => `${yaml}${extra}`);
      try {
        loadTopology(file);
        return null;
      } catch (error) {
        return (error as Error).message;
      }
    };
    const signatures = '\nsignatures:\n  allowedSigners: allowed_signers\n  passkeys: passkeys\n';
    expect(await check(signatures)).toMatch(
      /signatures\.passkeys: passkeys sign for the console's address: set console\.url/,
    );
    expect(await check(`${signatures}console:\n  url: https://user:pw@dr.example.com\n`)).toMatch(
      /console\.url: must be an http\(s\) address without user or password/,
    );
    expect(await check(`${signatures}console:\n  url: https://dr.example.com\n`)).toBeNull();
  });

  it("links an opened or escalated gate's notification to its page in the console", () => {
    const estates = (url?: string) => ({
      load: () => ({ topology: { console: url ? { url } : undefined } }),
    });
    const event = {
      kind: 'gate-opened' as const,
      pool: 'pchat.example.com',
      runbook: 'failover',
      workflowId: 'failover-1',
      gate: 'declare-disaster',
      summary: 'failover waits for declare-disaster',
    };
    const link = 'https://dr.example.com/console/runs/failover-1/gates/declare-disaster';
    expect(consoleLinkOf({ estates: estates('https://dr.example.com/console') } as never, event)).toEqual({
      console: link,
      summary: `failover waits for declare-disaster (answer: ${link})`,
    });
    expect(consoleLinkOf({ estates: estates() } as never, event)).toEqual({});
    expect(consoleLinkOf({ estates: estates('https://x') } as never, { ...event, kind: 'run-finished' })).toEqual({});
  });
});

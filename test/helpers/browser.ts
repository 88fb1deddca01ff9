/**
 * A real Chromium for the console's browser tests: the system's (Debian's chromium, which .ci/run installs; or
 * PCHAT_DR_CHROMIUM), driven by playwright-core, which downloads nothing. Passkeys come from Chromium's virtual
 * authenticator (the DevTools protocol's WebAuthn domain): a platform authenticator that signs without a touch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CLI_PATH } from './cli';

export const CHROMIUM = process.env.PCHAT_DR_CHROMIUM || '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's chromium (bash .ci/run does) or set PCHAT_DR_CHROMIUM`,
    );
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** A page with a virtual platform authenticator of its own (resident keys, user verification, presence simulated). */
export async function pageWithAuthenticator(
  context: BrowserContext,
): Promise<{ page: Page; credentials: () => Promise<unknown[]> }> {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    page,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}

/** A free loopback port (the console's address must be known before the estate that names it is written). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `pchat-dr console` as a user starts it; resolves with its printed address once it listens. */
export async function startConsoleCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ url: string; output: () => string; stop: () => Promise<void>; child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI_PATH, 'console', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the console did not start: ${output}`)), 30_000);
    const check = () => {
      const match = /^pchat-dr console: (\S+)/m.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`the console exited (${code}): ${output}`)));
  });
  return {
    url,
    child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

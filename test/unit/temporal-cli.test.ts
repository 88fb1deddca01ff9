/**
 * Finding the Temporal CLI (scripts/temporal-cli.ts), in its order: TEMPORAL_CLI, a compatible `temporal` on the PATH
 * (an incompatible one skipped, with why), pchat-dr's own copy, the SDK's download (a failure is one line), a build
 * with Go; none of them: the message listing every way to get one, exit 2. The binaries here are small scripts that
 * answer `--version` as the real CLI does; `go` is one that "builds" by writing such a script into GOBIN.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../runtime/exit';
import {
  compatibility,
  ensureTemporalCli,
  oneLine,
  parseTemporalVersion,
  TEMPORAL_CLI_VERSION,
  type TemporalCliSearch,
} from '../../scripts/temporal-cli';

const RELEASE = 'temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)';
const DEV_BUILD = 'temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)';
const OLD_LINE = 'temporal version 0.13.2 (server 1.23.1) (ui 2.26.2)';
const TOO_OLD = 'temporal version 1.0.0 (Server 1.24.2, UI 2.28.0)';

/** A stand-in `temporal` answering `--version` with `says`. */
function fakeTemporal(dir: string, says: string, name = 'temporal'): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\necho '${says}'\n`);
  chmodSync(file, 0o755);
  return file;
}

interface Scene {
  root: string;
  toolsDir: string;
  said: string[];
  search: (env: NodeJS.ProcessEnv, more?: Partial<TemporalCliSearch>) => TemporalCliSearch;
}

function scene(): Scene {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pchat-temporal-cli-'));
  const said: string[] = [];
  const toolsDir = path.join(root, 'tools');
  return {
    root,
    toolsDir,
    said,
    search: (env, more = {}) => ({
      // Only what the scene gives: no TEMPORAL_CLI, PATH or download switch of the machine running the tests.
      env: { PATH: '', ...env },
      toolsDir,
      say: (line) => said.push(line),
      download: () => Promise.reject(new Error('offline in this test')),
      ...more,
    }),
  };
}

describe('the Temporal CLI versions pchat-dr runs on', () => {
  it('takes 1.1 or newer within 1.x, and a development build by the server it carries (1.25 or newer)', () => {
    const judged = (says: string) => compatibility(parseTemporalVersion(says)!);
    expect(judged(RELEASE)).toEqual({ compatible: true, why: 'version 1.5.1 (Server 1.29.1)' });
    expect(judged('temporal version 1.9.1 (Server 1.30.0, UI 2.45.0)').compatible).toBe(true);
    expect(judged(DEV_BUILD)).toEqual({ compatible: true, why: 'a development build (Server 1.29.1)' });
    expect(judged(TOO_OLD)).toMatchObject({ compatible: false, why: expect.stringMatching(/too old.*1\.1\.0/) });
    expect(judged(OLD_LINE)).toMatchObject({ compatible: false, why: expect.stringMatching(/^version 0\.13\.2 /) });
    expect(judged('temporal version 2.0.0 (Server 2.0.0, UI 3.0.0)')).toMatchObject({
      compatible: false,
      why: expect.stringMatching(/written for the 1\.x line/),
    });
    expect(judged('temporal version 0.0.0-DEV (Server 1.24.2, UI 2.28.0)').compatible).toBe(false);
    expect(parseTemporalVersion('usage: something else')).toBeUndefined();
  });
});

describe('finding the Temporal CLI', () => {
  it('uses a compatible temporal on the PATH, and says each step', async () => {
    const s = scene();
    const binary = fakeTemporal(path.join(s.root, 'bin'), RELEASE);
    expect(await ensureTemporalCli(s.search({ PATH: path.join(s.root, 'bin') }))).toBe(binary);
    expect(s.said).toEqual([
      'Finding the Temporal CLI (it runs the dev server):',
      '  TEMPORAL_CLI: not set',
      `  PATH: ${binary}, version 1.5.1 (Server 1.29.1): using it`,
    ]);
  });

  it('skips an incompatible one on the PATH with why, and takes the next compatible one in PATH order', async () => {
    const s = scene();
    const old = fakeTemporal(path.join(s.root, 'old'), OLD_LINE);
    const good = fakeTemporal(path.join(s.root, 'good'), DEV_BUILD);
    const found = await ensureTemporalCli(
      s.search({ PATH: [path.join(s.root, 'old'), path.join(s.root, 'good')].join(path.delimiter) }),
    );
    expect(found).toBe(good);
    expect(s.said).toContain(
      `  PATH: ${old}, version 0.13.2 (Server 1.23.1): pchat-dr is written for the 1.x line (1.1.0 or newer): skipped`,
    );
    expect(s.said.at(-1)).toBe(`  PATH: ${good}, a development build (Server 1.29.1): using it`);
  });

  it('lets TEMPORAL_CLI win, even with a version it does not support (said, not refused); refuses one that is no file', async () => {
    const s = scene();
    const chosen = fakeTemporal(path.join(s.root, 'mine'), TOO_OLD);
    fakeTemporal(path.join(s.root, 'bin'), RELEASE);
    expect(await ensureTemporalCli(s.search({ TEMPORAL_CLI: chosen, PATH: path.join(s.root, 'bin') }))).toBe(chosen);
    expect(s.said.at(-1)).toMatch(/^ {2}TEMPORAL_CLI: .*too old.*: not a supported version, using it anyway$/);

    const missing = ensureTemporalCli(s.search({ TEMPORAL_CLI: path.join(s.root, 'nope') }));
    await expect(missing).rejects.toThrow(/TEMPORAL_CLI=.*nope is not an executable file/);
    await expect(missing).rejects.toMatchObject({ exitCode: 2 });
  });

  it("uses pchat-dr's own copy when the PATH has none, without downloading or building", async () => {
    const s = scene();
    const own = fakeTemporal(s.toolsDir, RELEASE);
    const download = () => Promise.reject(new Error('must not be called'));
    expect(await ensureTemporalCli(s.search({}, { download }))).toBe(own);
    expect(s.said.slice(1)).toEqual([
      '  TEMPORAL_CLI: not set',
      '  PATH: no temporal',
      `  pchat-dr's copy: ${own}, version 1.5.1 (Server 1.29.1): using it`,
    ]);
  });

  it("replaces an incompatible copy with the SDK's download, kept as pchat-dr's copy", async () => {
    const s = scene();
    fakeTemporal(s.toolsDir, TOO_OLD);
    const download = (dir: string) => Promise.resolve(fakeTemporal(dir, RELEASE, 'temporal-sdk-typescript-1.24.0'));
    const own = path.join(s.toolsDir, 'temporal');
    expect(await ensureTemporalCli(s.search({}, { download }))).toBe(own);
    expect(s.said).toContain(
      `  pchat-dr's copy: ${own}, version 1.0.0 (Server 1.24.2): too old, pchat-dr needs 1.1.0 or newer (Temporal Server 1.25.0+): replacing it`,
    );
    expect(s.said.at(-1)).toBe(`  the Temporal SDK's download: ${own}, version 1.5.1 (Server 1.29.1): using it`);
    expect(readFileSync(own, 'utf8')).toContain('1.5.1');
    expect(existsSync(path.join(s.toolsDir, 'download')), 'the staging folder is cleaned up').toBe(false);
  });

  it('says a failed download in one line, then builds with the Go on the PATH', async () => {
    const s = scene();
    // A `go` that "installs" by writing a development build into GOBIN, as go install does.
    const goDir = path.join(s.root, 'go-bin');
    mkdirSync(goDir);
    writeFileSync(
      path.join(goDir, 'go'),
      `#!/bin/sh\n[ "$1" = install ] || exit 3\nprintf '#!/bin/sh\\necho "${DEV_BUILD}"\\n' > "$GOBIN/temporal"\n/bin/chmod 755 "$GOBIN/temporal"\necho "$2" > "$GOBIN/built-module"\n`,
    );
    chmodSync(path.join(goDir, 'go'), 0o755);
    const download = () =>
      Promise.reject(
        new Error(
          'Failed to start ephemeral server: failed to download: error sending request: error sending request: dns error\n  at somewhere',
        ),
      );
    const own = path.join(s.toolsDir, 'temporal');
    expect(await ensureTemporalCli(s.search({ PATH: goDir }, { download }))).toBe(own);
    expect(s.said).toContain(
      "  the Temporal SDK's download: failed: Failed to start ephemeral server: failed to download: error sending request: dns error at somewhere",
    );
    expect(readFileSync(path.join(s.toolsDir, 'built-module'), 'utf8').trim()).toBe(
      `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`,
    );
    expect(s.said.at(-1)).toMatch(new RegExp(`^ {2}Go: built ${own} in \\d+ s: using it$`));
  });

  it('without any of them: one message listing every way to get one, exit 2; PCHAT_DR_TEMPORAL_DOWNLOAD=off skips the download', async () => {
    const s = scene();
    fakeTemporal(path.join(s.root, 'bin'), OLD_LINE);
    let downloads = 0;
    const download = () => {
      downloads++;
      return Promise.reject(new Error('offline'));
    };
    const error = await ensureTemporalCli(
      s.search({ PATH: path.join(s.root, 'bin'), PCHAT_DR_TEMPORAL_DOWNLOAD: 'off' }, { download }),
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    const message = (error as CliError).message;
    expect(message).toMatch(/^pchat-dr needs the Temporal CLI \(temporal 1\.1\.0 or newer, 1\.x\) .*found none/);
    for (const way of ['brew install temporal', 'TEMPORAL_CLI', 'temporal.download', 'install Go'])
      expect(message).toContain(way);
    expect(message).toContain(s.toolsDir);
    expect(downloads).toBe(0);
    expect(s.said.slice(1)).toEqual([
      '  TEMPORAL_CLI: not set',
      expect.stringMatching(/^ {2}PATH: .*temporal, version 0\.13\.2 .*: skipped$/),
      `  pchat-dr's copy: none in ${s.toolsDir}`,
      "  the Temporal SDK's download: off (PCHAT_DR_TEMPORAL_DOWNLOAD=off)",
      '  Go: no go on the PATH',
    ]);
  });

  it('says an error in one line, each repeated cause once', () => {
    expect(oneLine(new Error('a: b (u): b (u): c\n  d'))).toBe('a: b (u): c d');
  });
});

/**
 * `pchat-dr topology check --connect`: reaches every instance (read-only, through mssql and the secret references)
 * and the pool shell; exit 0 when all answer, 3 when one does not, which it names.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { startTestEstate, type TestEstate } from '../helpers/estate';
import { readFileSync } from 'node:fs';
import path from 'node:path';

let env: TestEstate;
afterEach(async () => env?.close());

describe('pchat-dr topology check --connect', () => {
  it('says what answered, and exits 3 naming what did not', async () => {
    env = await startTestEstate();
    const secret = readFileSync(path.join(env.dir, 'simulated.secret'), 'utf8').trim();
    const all = await runCli(['topology', 'check', '-f', env.topologyFile, '--connect']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/INSTANCE\s+ADDRESS\s+ANSWERED\s+SERVER NAME\s+DATABASES/);
    expect(all.stdout).toMatch(
      /dc1-sql-a\s+127\.0\.0\.\d+:\d+\s+yes\s+SQLDC1A\s+mgc ONLINE PRINCIPAL SYNCHRONIZED; mgccomp ONLINE PRINCIPAL SYNCHRONIZED/,
    );
    expect(all.stdout).toMatch(/dc2-sql-a\s+127\.0\.0\.\d+:\d+\s+yes\s+SQLDC2A\s+mgc absent; mgccomp absent/);
    expect(all.stdout).toMatch(/pool shell answered: Get-CsPersistentChatState: pool pchat\.sim\.local is Normal/);
    expect(all.stdout).toContain('all 5 answered');

    await env.estate.stopInstance('dc2-sql-b');
    const one = await runCli(['topology', 'check', '-f', env.topologyFile, '--connect']);
    expect(one.code).toBe(3);
    expect(one.stdout).toMatch(/dc2-sql-b\s+127\.0\.0\.\d+:\d+\s+NO\s+-\s+\S/);
    expect(one.stderr.trim()).toBe('1 of 5 did not answer: dc2-sql-b');
    const json = await runCli(['topology', 'check', '-f', env.topologyFile, '--connect', '-o', 'json']);
    expect(json.code).toBe(3);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.reachable).toBe(false);
    expect(parsed.reached.find((reach: { name: string }) => reach.name === 'dc2-sql-b')).toMatchObject({
      answered: false,
    });
    for (const output of [all.stdout, one.stdout, one.stderr, json.stdout]) expect(output).not.toContain(secret);
  });
});

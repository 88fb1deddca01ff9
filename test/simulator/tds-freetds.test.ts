/**
 * The simulator's TDS server with FreeTDS' tsql as the client, over TCP, with a fixture model behind it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TdsServer } from '../../simulator/tds/server';
import { FIXTURE_PASSWORD, Statements } from './fixtures/fake-sql-model';
import { HOST, startFixtureServer } from './fixtures/tds-server';

describe('TDS server with FreeTDS tsql', () => {
  const TSQL = '/usr/bin/tsql';
  let server: TdsServer;

  beforeAll(async () => {
    ({ server } = await startFixtureServer());
  });

  afterAll(async () => {
    await server?.close();
  });

  /** Runs tsql with a script on stdin; TDSVER picks the protocol version it asks for. tsql prints messages on stderr. */
  function runTsql(script: string, tdsVersion: string): Promise<{ stdout: string; stderr: string }> {
    if (!existsSync(TSQL)) {
      throw new Error(
        `FreeTDS tsql not found at ${TSQL}: install the Debian package freetds-bin (apt-get install freetds-bin)`,
      );
    }
    return new Promise((resolve, reject) => {
      const child = spawn(TSQL, ['-H', HOST, '-p', String(server.port), '-U', 'sa', '-P', FIXTURE_PASSWORD], {
        env: { ...process.env, TDSVER: tdsVersion },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('close', () => resolve({ stdout, stderr }));
      child.stdin.end(script);
    });
  }

  it.each(['7.4', '7.3', '7.2', '7.1'])('runs SELECTs and reports errors over TDS %s', async (tdsVersion) => {
    const script = [Statements.answer, Statements.typedColumns, Statements.failingRestore].map(
      (statement) => `${statement}\ngo\n`,
    );
    const { stdout, stderr } = await runTsql(`${script.join('')}exit\n`, tdsVersion);
    expect(stdout).toMatch(/answer\s+42\s/);
    // FreeTDS prints numeric exactly: the LSN survives the wire digit for digit.
    const typedRow = stdout.split('\n').find((line) => line.startsWith('2147483647\t'));
    expect(typedRow?.split('\t')).toEqual([
      '2147483647',
      '9007199254740993',
      '1',
      'Persistent Chat – pool',
      'x'.repeat(5000),
      '34000000016700001',
      'May  6 2024 07:08AM',
      tdsVersion >= '7.3' ? 'May  6 2024 07:08AM' : '2024-05-06 07:08:09.1230000', // datetime2 arrives as text before TDS 7.3
      '6F9619FF-8B86-D011-B42D-00C04FC964FF',
      'café €5',
      '0.25',
      'deadbeef',
    ]);
    expect(stderr).toContain('Msg 3013 (severity 16, state 1) from FIXTURE01');
    expect(stderr).toContain('RESTORE LOG is terminating abnormally.');
  });
});

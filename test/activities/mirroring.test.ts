/**
 * Mirroring activities against the simulator: each acts once and is skipped the second time, and failures come out
 * classified (NotSynchronized, retryable NotReachable, non-retryable LoginFailed, PrincipalReachable).
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterEach, describe, expect, it } from 'vitest';
import { activityHarness, simulatedPassword, type ActivityHarness } from '../helpers/activities';
import { eventually, startTestEstate, type TestEstate } from '../helpers/estate';

let env: TestEstate;
let harness: ActivityHarness;

async function start(options: Parameters<typeof startTestEstate>[0] = {}) {
  env = await startTestEstate(options);
  harness = activityHarness(env);
}

afterEach(async () => {
  // No secret in anything an activity received or returned (docs/runbooks.md rule 6).
  if (harness) expect(harness.recorded()).not.toContain(simulatedPassword(env));
  await harness?.close();
  await env?.close();
});

const mgc = (instance: string) =>
  env.estate
    .snapshot()
    .instances.find((candidate) => candidate.name === instance)!
    .databases.find((database) => database.name === 'mgc');

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error, 'the activity should have failed').toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

describe('mirroring activities', () => {
  it('reads a partner, and reports an unreachable one as evidence rather than failing', async () => {
    await start();
    const principal = await harness.run('readMirroringState', {
      instance: harness.instance('dc1-sql-a'),
      database: 'mgc',
    });
    expect(principal).toMatchObject({
      outcome: 'observed',
      found: {
        reachable: true,
        state: 'ONLINE',
        role: 'PRINCIPAL',
        mirroringState: 'SYNCHRONIZED',
        safety: 'FULL',
        partner: 'SQLDC1B',
      },
    });
    await env.estate.stopInstance('dc1-sql-a');
    const gone = await harness.run('readMirroringState', { instance: harness.instance('dc1-sql-a'), database: 'mgc' });
    expect(gone).toMatchObject({
      outcome: 'observed',
      found: { reachable: false },
      summary: 'dc1-sql-a cannot be reached',
    });
  });

  it('planned failover acts once, then reports skipped and changes nothing', async () => {
    await start();
    const input = { database: 'mgc', target: harness.instance('dc1-sql-b'), partner: harness.instance('dc1-sql-a') };
    const first = await harness.run('plannedMirrorFailover', input);
    expect(first.outcome).toBe('acted');
    expect(first.figures.roleSequence).toBe(2);
    expect(mgc('dc1-sql-b')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
    const before = JSON.stringify(env.estate.snapshot().instances.map((instance) => instance.databases));
    const second = await harness.run('plannedMirrorFailover', input);
    expect(second).toMatchObject({ outcome: 'skipped', summary: 'dc1-sql-b is already the principal of mgc' });
    expect(JSON.stringify(env.estate.snapshot().instances.map((instance) => instance.databases))).toBe(before);
  });

  it('refuses a planned failover on a SYNCHRONIZING session (NotSynchronized), with the session state in the details', async () => {
    await start({ synchronizeAfterMs: 60_000 });
    const principal = harness.instance('dc1-sql-a');
    expect((await harness.run('setMirroringSafety', { database: 'mgc', principal, safety: 'OFF' })).outcome).toBe(
      'acted',
    );
    expect((await harness.run('setMirroringSafety', { database: 'mgc', principal, safety: 'OFF' })).outcome).toBe(
      'skipped',
    );
    const safetyOff = await failureOf(
      harness.run('plannedMirrorFailover', {
        database: 'mgc',
        target: harness.instance('dc1-sql-b'),
        partner: principal,
      }),
    );
    expect(safetyOff).toMatchObject({ type: 'SafetyNotFull', nonRetryable: true });
    await harness.run('setMirroringSafety', { database: 'mgc', principal, safety: 'FULL' });
    const failure = await failureOf(
      harness.run('plannedMirrorFailover', {
        database: 'mgc',
        target: harness.instance('dc1-sql-b'),
        partner: principal,
      }),
    );
    expect(failure).toMatchObject({ type: 'NotSynchronized', nonRetryable: true });
    expect(failure.details?.[0]).toMatchObject({ instance: 'dc1-sql-a', mirroringState: 'SYNCHRONIZING' });
    expect(mgc('dc1-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
  });

  it('fails as retryable NotReachable on a stopped instance and as non-retryable LoginFailed with a wrong password', async () => {
    await start();
    await env.estate.stopInstance('dc1-sql-a');
    const stopped = await failureOf(
      harness.run('plannedMirrorFailover', {
        database: 'mgc',
        target: harness.instance('dc1-sql-b'),
        partner: harness.instance('dc1-sql-a'),
      }),
    );
    expect(stopped).toMatchObject({ type: 'NotReachable', nonRetryable: false });
    expect(stopped.details?.[0]).toMatchObject({ instance: 'dc1-sql-a' });

    const wrongSecret = { ...harness.instance('dc1-sql-b'), password: 'env:PCHAT_TEST_WRONG_PASSWORD' };
    process.env.PCHAT_TEST_WRONG_PASSWORD = 'not-the-password';
    try {
      // Reading a partner records the refusal as a fact (a DC1 that answers badly does not serve)...
      const read = await harness.run('readMirroringState', { instance: wrongSecret, database: 'mgc' });
      expect(read.found).toMatchObject({ reachable: false, unreachableType: 'LoginFailed' });
      expect(read.found.unreachableReason).toBe(
        "it answers but does not serve (LoginFailed): dc1-sql-b: Login failed for user 'sa'. Check the login and the secret reference in the topology.",
      );
      // ...while a step that must act there fails for good with the refusal's type.
      const login = await failureOf(
        harness.run('plannedMirrorFailover', {
          database: 'mgc',
          target: harness.instance('dc1-sql-a'),
          partner: wrongSecret,
        }),
      );
      expect(login).toMatchObject({ type: 'LoginFailed', nonRetryable: true });
      expect(login.message).toContain("Login failed for user 'sa'.");
    } finally {
      delete process.env.PCHAT_TEST_WRONG_PASSWORD;
    }
  });

  it('waits until SYNCHRONIZED (heartbeating), then reports skipped', async () => {
    await start({ synchronizeAfterMs: 700 });
    const principal = harness.instance('dc1-sql-a');
    await harness.run('setMirroringSafety', { database: 'mgc', principal, safety: 'OFF' });
    await harness.run('setMirroringSafety', { database: 'mgc', principal, safety: 'FULL' });
    const heartbeats: unknown[] = [];
    const waited = await harness.run(
      'waitUntilSynchronized',
      { database: 'mgc', principal, timeoutSeconds: 10, pollMs: 100 },
      { onHeartbeat: (details) => heartbeats.push(details) },
    );
    expect(waited.outcome).toBe('acted');
    expect(heartbeats).toContainEqual({ mirroringState: 'SYNCHRONIZING' });
    expect(
      (await harness.run('waitUntilSynchronized', { database: 'mgc', principal, timeoutSeconds: 10 })).outcome,
    ).toBe('skipped');
  });

  it('forces service only when the principal cannot be reached (PrincipalReachable otherwise), once', async () => {
    await start();
    const input = { database: 'mgc', mirror: harness.instance('dc1-sql-b'), principal: harness.instance('dc1-sql-a') };
    const refused = await failureOf(harness.run('forceMirrorService', input));
    expect(refused).toMatchObject({ type: 'PrincipalReachable', nonRetryable: true });
    expect(mgc('dc1-sql-b')).toMatchObject({ state: 'RESTORING' });

    await env.estate.stopInstance('dc1-sql-a');
    await eventually(() => mgc('dc1-sql-b')?.mirroring?.state === 'DISCONNECTED', 5_000, 'DISCONNECTED');
    expect((await harness.run('forceMirrorService', input)).outcome).toBe('acted');
    expect(mgc('dc1-sql-b')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL', state: 'SUSPENDED' } });
    expect((await harness.run('forceMirrorService', input)).outcome).toBe('skipped');
  });

  it('removes mirroring once, leaving the former mirror RESTORING', async () => {
    await start();
    const input = { database: 'mgc', instance: harness.instance('dc1-sql-a') };
    expect((await harness.run('removeMirroring', input)).outcome).toBe('acted');
    expect(mgc('dc1-sql-b')).toMatchObject({ state: 'RESTORING', mirroring: null });
    expect((await harness.run('removeMirroring', input)).outcome).toBe('skipped');
  });
});

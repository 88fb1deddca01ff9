/**
 * A few cells of the fault campaign (docs/reliability.md), one per fault kind, across runbooks, through the same
 * runner as `npm run campaign`: each must hold. Three of them are the bad nights the campaign found: a statement
 * failing while the logs to apply are read, the newest log deleted after the run listed it, a planned switchover's
 * tail-log backup deleted before it is applied.
 */
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/temporal';
import { formatMatrix } from './results';
import { runCampaign } from './runner';

const CELLS = [
  'failover-disaster/gather-evidence#3/statement-fails', // the read of the logs to apply
  'failover-disaster/gather-evidence#3/log-backup-lost',
  'failover-disaster/remove-log-shipping/agent-stopped',
  'failover-disaster/recover/instance-stopped',
  'failover-planned/tail-log-backup/worker-killed',
  'failover-planned/copy-logs/log-backup-lost',
  'mirror-failover/planned-failover/partition',
];

describe('the fault campaign, a few cells', () => {
  it('holds in every cell', { timeout: 480_000 }, async () => {
    const { client, close } = await connectClient();
    try {
      const result = await runCampaign({
        client,
        address: inject('temporalAddress'),
        workflowBundle: inject('workflowBundlePath'),
        cells: CELLS,
        concurrency: 4,
      });
      const run = result.cells.filter((cell) => cell.status !== 'n/a');
      expect(
        run.map((cell) => `${cell.scenario}/${cell.step}/${cell.fault}`),
        formatMatrix(result),
      ).toEqual(expect.arrayContaining(CELLS));
      expect(
        run.filter((cell) => cell.status === 'violated').map((cell) => `${cell.step} × ${cell.fault}: ${cell.reason}`),
        formatMatrix(result),
      ).toEqual([]);
    } finally {
      await close();
    }
  });
});

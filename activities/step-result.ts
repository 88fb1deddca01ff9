/**
 * What every activity returns: what it found, what it did (acted, skipped because already done, or only observed),
 * one sentence an operator can read, and the figures a report needs. Plain JSON: it goes into workflow history.
 */
export type Outcome = 'acted' | 'skipped' | 'observed';

export interface StepResult<Found = unknown, Figures extends object = Record<string, unknown>> {
  outcome: Outcome;
  /** What was done, or why nothing needed doing. */
  summary: string;
  found: Found;
  figures: Figures;
  startedAt: string;
  finishedAt: string;
}

/** How an activity ends: the summary, what it found and, when the report needs them, its figures. */
type Ending = <F, G extends object = Record<string, never>>(summary: string, found: F, figures?: G) => StepResult<F, G>;

/** Started when an activity starts, so the result carries its own times. */
export class StepClock {
  private readonly startedAt: string;
  /** It changed something. */
  readonly acted = this.ending('acted');
  /** It found the estate already as asked. */
  readonly skipped = this.ending('skipped');
  /** It only read. */
  readonly observed = this.ending('observed');

  constructor(private readonly clock: () => Date) {
    this.startedAt = clock().toISOString();
  }

  private ending(outcome: Outcome): Ending {
    return (summary, found, figures) => ({
      outcome,
      summary,
      found,
      figures: figures ?? ({} as NonNullable<typeof figures>),
      startedAt: this.startedAt,
      finishedAt: this.clock().toISOString(),
    });
  }
}

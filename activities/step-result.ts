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

/** Started when an activity starts, so the result carries its own times. */
export class StepClock {
  private readonly startedAt: string;

  constructor(private readonly clock: () => Date) {
    this.startedAt = clock().toISOString();
  }

  private finish<F, G extends object>(outcome: Outcome, summary: string, found: F, figures: G): StepResult<F, G> {
    return { outcome, summary, found, figures, startedAt: this.startedAt, finishedAt: this.clock().toISOString() };
  }

  acted<F, G extends object = Record<string, never>>(
    summary: string,
    found: F,
    figures: G = {} as G,
  ): StepResult<F, G> {
    return this.finish('acted', summary, found, figures);
  }

  skipped<F, G extends object = Record<string, never>>(
    summary: string,
    found: F,
    figures: G = {} as G,
  ): StepResult<F, G> {
    return this.finish('skipped', summary, found, figures);
  }

  observed<F, G extends object = Record<string, never>>(
    summary: string,
    found: F,
    figures: G = {} as G,
  ): StepResult<F, G> {
    return this.finish('observed', summary, found, figures);
  }
}

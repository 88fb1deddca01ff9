/**
 * The state of one run, kept as its record (contracts/run-record.ts): what the runbook, its gates and its message
 * handlers all read and write. Plain JSON, so queries answer it and the report is built from it.
 */
import * as wf from '@temporalio/workflow';
import type { LoadedEstate } from '../activities/estates';
import type { AbortMessage } from '../contracts/messages';
import type { FailureRecord, GateRecord, RunOutcome, RunRecord, StepRecord } from '../contracts/run-record';
import { PHASE } from '../contracts/search-attributes';
import type { Topology } from '../topology/schema';

/** Refused messages kept in the log; past that they are only counted, so a flood cannot swell history. */
const REFUSALS_KEPT = 100;
/** A refusal's text is cut to this length (it may quote what a sender wrote). */
const REFUSAL_TEXT = 300;

/** Thrown to end a run early with a given outcome (a rejected gate, an abort, a failed precondition). */
export class RunEnded extends Error {
  constructor(
    readonly outcome: Exclude<RunOutcome, 'running'>,
    readonly why: string,
  ) {
    super(why);
    this.name = 'RunEnded';
  }
}

/** What failed, from an activity's or a child run's failure (the innermost cause says it). */
export function failureOf(error: unknown, at: string): FailureRecord {
  let cause: unknown = error;
  while ((cause instanceof wf.ActivityFailure || cause instanceof wf.ChildWorkflowFailure) && cause.cause)
    cause = cause.cause;
  if (cause instanceof wf.ApplicationFailure)
    return { type: cause.type ?? 'Error', message: cause.message, details: cause.details?.[0], at };
  if (cause instanceof wf.TimeoutFailure)
    return { type: 'Timeout', message: `the step timed out (${cause.timeoutType})`, at };
  return { type: (cause as Error)?.name ?? 'Error', message: (cause as Error)?.message ?? String(cause), at };
}

export class RunState {
  /** Set by an accepted abort: the run stops at its next step boundary. */
  abortRequest: AbortMessage | null = null;
  /** The pool's estate, once the run's first step loaded it from the worker's files. */
  estate: LoadedEstate | null = null;
  private readonly names = new Map<string, number>();

  constructor(readonly record: RunRecord) {}

  /** The estate's topology: every step runs after the estate is loaded. */
  get topology(): Topology {
    if (!this.estate) throw new Error('the estate is not loaded yet');
    return this.estate.topology;
  }

  now(): string {
    return new Date().toISOString();
  }

  setPhase(phase: string): void {
    this.record.phase = phase;
    wf.upsertSearchAttributes([{ key: PHASE, value: phase }]);
  }

  note(text: string): void {
    this.record.notes.push(text);
  }

  /** A line in the run's log (refused messages, escalations, notes the report shows). */
  log(entry: Omit<RunRecord['log'][number], 'at'>): void {
    this.record.log.push({ at: this.now(), ...entry });
  }

  /** A message that did not count, kept (cut short) up to REFUSALS_KEPT, then only counted. */
  refuse(by: unknown, message: string): void {
    if (this.record.log.filter((entry) => entry.kind === 'refused').length >= REFUSALS_KEPT) {
      this.record.refusalsNotKept = (this.record.refusalsNotKept ?? 0) + 1;
      return;
    }
    const sender = typeof by === 'string' ? by.slice(0, 128) : '';
    const text = message.length > REFUSAL_TEXT ? `${message.slice(0, REFUSAL_TEXT)}…` : message;
    this.log({ kind: 'refused', by: sender, message: text });
  }

  checkAbort(): void {
    if (this.abortRequest)
      throw new RunEnded('aborted', `aborted by ${this.abortRequest.by}: ${this.abortRequest.reason}`);
  }

  close(gate: GateRecord, status: GateRecord['status'], because?: string): void {
    gate.status = status;
    gate.closedAt = this.now();
    if (because) gate.closedBecause = because;
  }

  /** The gate's id in this run: its name, with #2, #3 ... when it opens again. */
  uniqueGateId(name: string): string {
    const count = this.record.gates.filter((gate) => gate.id === name || gate.id.startsWith(`${name}#`)).length;
    return count === 0 ? name : `${name}#${count + 1}`;
  }

  newStep(name: string, title: string, target?: string, skippable?: string): StepRecord {
    const count = (this.names.get(name) ?? 0) + 1;
    this.names.set(name, count);
    const record: StepRecord = {
      name: count === 1 ? name : `${name}#${count}`,
      title,
      ...(target ? { target } : {}),
      ...(skippable ? { skippable } : {}),
      status: 'pending',
      attempts: 0,
      decisions: [],
    };
    this.record.steps.push(record);
    return record;
  }
}

/**
 * The messages every runbook answers, defined once and shared with the client (CLI, Temporal UI users).
 *
 * People act through signals (fire and forget: they work from the Temporal UI and `temporal workflow signal`, even
 * with no worker up) or through updates (the CLI uses these: the caller learns at once whether the message counted
 * and, if not, why). Both go through the same validation; a refused update leaves no trace in history, a refused
 * signal is recorded in the run's log with the reason.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PendingGate, Progress, RunbookReport } from './run-record';

export interface ApproveMessage {
  /** Gate name (declare-disaster) or id (declare-disaster#2). */
  gate: string;
  by: string;
  comment?: string;
  /** The evidence version the person looked at; an approval of older evidence does not count. */
  evidenceVersion?: string;
}

export interface RejectMessage {
  gate: string;
  by: string;
  reason: string;
}

export interface DecideMessage {
  choice: 'retry' | 'skip' | 'abort';
  by: string;
  reason: string;
  /** The decision gate; when omitted, the one that is open. */
  gate?: string;
}

export interface AbortMessage {
  by: string;
  reason: string;
}

/** What an update answers: whether the message counted, and where the gate stands. */
export interface MessageOutcome {
  counted: true;
  gate?: string;
  /** approved / rejected / decided / aborted / open (more approvals needed). */
  gateStatus?: string;
  approvals?: number;
  required?: number;
  message: string;
}

export const approveSignal = defineSignal<[ApproveMessage]>('approve');
export const rejectSignal = defineSignal<[RejectMessage]>('reject');
export const decideSignal = defineSignal<[DecideMessage]>('decide');
export const abortSignal = defineSignal<[AbortMessage]>('abort');

export const approveUpdate = defineUpdate<MessageOutcome, [ApproveMessage]>('approveGate');
export const rejectUpdate = defineUpdate<MessageOutcome, [RejectMessage]>('rejectGate');
export const decideUpdate = defineUpdate<MessageOutcome, [DecideMessage]>('decideStep');
export const abortUpdate = defineUpdate<MessageOutcome, [AbortMessage]>('abortRun');

export const progressQuery = defineQuery<Progress>('progress');
export const pendingGatesQuery = defineQuery<PendingGate[]>('pendingGates');
export const reportQuery = defineQuery<RunbookReport>('report');

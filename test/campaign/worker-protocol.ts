/** What the campaign's worker hosts (worker-main.ts) and the campaign say to each other over IPC. */

/** A cell's worker holds an activity before it runs it, or after it ran and before Temporal hears of it. */
export interface ActivityPause {
  kind: 'pause';
  cell: string;
  id: number;
  when: 'before' | 'after';
  activity: string;
  workflowId: string;
  attempt: number;
}

export type HostMessage =
  | { kind: 'ready' }
  | { kind: 'started'; cell: string }
  | { kind: 'stopped'; cell: string }
  | { kind: 'failed'; cell: string; error: string }
  | ActivityPause;

export type CampaignMessage =
  /** Start a worker for the cell: its own task queue, its own estate file. */
  | { kind: 'start'; cell: string; taskQueue: string; estateFile: string }
  | { kind: 'stop'; cell: string }
  /** Go on with the paused activity. */
  | { kind: 'go'; id: number };

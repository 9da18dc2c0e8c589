import type { RestoreOutcome } from '../../protocol';

/** What finish() knows about the verified stream. */
export interface Verified { sha256: string; bytes: number }

/** Where verified bytes go. Writes arrive in order; finish() only after the SHA-256 matched. */
export interface Sink {
  readonly label: string;
  /** After finish(): what a successful sink did, for the report ("swapped into app"). */
  readonly detail?: string;
  /** Restore presets: what happened to the live database. */
  readonly restoreOutcome?: RestoreOutcome;
  /** False: stop writing until onDrain fires. `written`, when the sink can tell, is called once
   *  it no longer needs chunk's memory (the fanout then fills that buffer again). */
  write(chunk: Buffer, written?: () => void): boolean;
  onDrain(cb: () => void): void;
  /** Called once, if the sink fails by itself mid-stream (pipe exited, disk full, ...). */
  onFailure(cb: (f: SinkFailure) => void): void;
  /** Complete the sink: the stream was verified. */
  finish(verified: Verified): Promise<SinkFailure | null>;
  /** Undo: the stream was not verified. Leaves nothing under a final name. */
  abort(): Promise<void>;
}

/** What failed, for the result: 'restore' and 'pipe' are commands whose exit status is reported. */
export type SinkKind = 'output' | 'archive' | 'restore' | 'pipe' | 'stdout';

/** label names the sink in messages ("--pipe pg_restore -d app"); kind says what it is. */
export interface SinkFailure { kind: SinkKind; label: string; message: string; exitCode: number }

/** Where verified bytes go. Writes arrive in order; finish() only after the SHA-256 matched. */
export interface Sink {
  readonly label: string;
  /** False: stop writing until onDrain fires. */
  write(chunk: Buffer): boolean;
  onDrain(cb: () => void): void;
  /** Called once, if the sink fails by itself mid-stream (pipe exited, disk full, ...). */
  onFailure(cb: (f: SinkFailure) => void): void;
  /** Complete the sink: the stream was verified. */
  finish(): Promise<SinkFailure | null>;
  /** Undo: the stream was not verified. Leaves nothing under a final name. */
  abort(): Promise<void>;
}

export interface SinkFailure { label: string; message: string; exitCode: number }

// What `dbcast receive` runs with, as validated from its flags (src/options.ts).
import type { CommonOptions } from '../runtime/common-options';
import type { RestoreTarget } from './restore/target';
import type { ArchiveSpec } from './sinks/archive-sink';

export interface ReceiveOptions extends CommonOptions {
  name: string;
  /** --output FILE (one fixed file) ... */
  outputFile: string | undefined;
  /** ... or --output DIR / a name template (the archive role). */
  archive: ArchiveSpec | undefined;
  restore: RestoreTarget | undefined;
  reportFile: string | undefined;
  senderAddress: string | undefined;
  pipeCommand: string | undefined;
  stdout: boolean;
  startTimeoutMs: number;
  maxWindowBytes: number;
  maxClockSkewMs: number;
  seenSessionsFile: string | undefined;
}

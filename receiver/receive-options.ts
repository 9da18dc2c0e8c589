// What `dbcast receive` runs with, as validated from its flags (src/options.ts).
import type { CommonOptions } from '../runtime/common-options';
import type { PresetTarget } from './restore/presets';
import type { ArchiveSpec } from './sinks/archive-sink';

export interface ReceiveOptions extends CommonOptions {
  name: string;
  /** --output FILE (one fixed file) ... */
  outputFile: string | undefined;
  /** ... or --output DIR / a name template (the archive role). */
  archive: ArchiveSpec | undefined;
  /** --restore: the shared target and its preset's settings. */
  restore: PresetTarget | undefined;
  reportFile: string | undefined;
  senderAddress: string | undefined;
  pipeCommand: string | undefined;
  stdout: boolean;
  startTimeoutMs: number;
  maxWindowBytes: number;
  maxClockSkewMs: number;
  seenSessionsFile: string | undefined;
  /** The split-brain guard's memory: the source identity this job last accepted (receiver/source-state.ts). */
  sourceStateFile: string | undefined;
  /** This run accepts a changed source identity (after a planned failover). */
  acceptNewSource: boolean;
  /** The job restores dumps taken on a replica / read-only server (the sender must allow it too). */
  allowReplicaSource: boolean;
  /** --store: what --output keeps of a compressed stream (plain = decompressed). */
  store: 'plain' | 'compressed';
}

// What a restore preset (--restore NAME) is: one folder beside this file exporting one of
// these, registered by one line in presets.ts. The flags every preset shares (--database,
// --db-host, --restore-arg, --spool-dir, ...) are read once (restore-options.ts); a preset
// brings only its own.
import type { FlagValues } from '../../runtime/flag-values';
import type { Logger } from '../../runtime/log';
import type { Sink } from '../sinks/sink';
import type { RestoreTarget } from './target';

/** A flag as the command line (yargs) and the config file know it. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly describe: string;
  readonly array?: boolean;
}
export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** ready: what the preflight found that the sink needs (resolved settings, the client to use). */
export type PreflightResult<Ready> =
  | { ok: true; ready: Ready; summary: string; warnings: string[] }
  | { ok: false; reason: string };

/** Settings: this preset's own options, carried in the target beside the shared ones. */
export interface RestorePreset<Settings extends object = object, Ready = unknown> {
  /** --restore NAME. */
  readonly name: string;
  /** Flags only this preset takes; with another preset they are refused. */
  readonly flags: FlagTable;
  /** Shared flags (restore-flags.ts) this preset has no use for: given with it, they are refused.
   *  A preset that restores a whole server lists 'database'; its target's database is then ''. */
  readonly refusesShared?: readonly string[];
  /** --restore-arg values that would send the restore elsewhere than the staging database. */
  readonly targetOptions: RegExp;
  /** This preset's flags → its settings; a bad value is a UsageError naming the flag. */
  settings(raw: FlagValues, shared: RestoreTarget): Settings;
  /** Before joining: can the target be restored into? Says why not. */
  preflight(target: RestoreTarget & Settings): Promise<PreflightResult<Ready>>;
  /** The sink that restores the verified stream (opened once the session is joined). */
  openSink(ready: Ready, log: Logger): Sink;
}

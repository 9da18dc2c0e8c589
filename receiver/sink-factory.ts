// The options → the sinks, in the order they are fed: files first, the restore, then the
// commands and stdout. A new sink is its class in sinks/ and one line here.
import type { Logger } from '../runtime/log';
import type { ReceiveOptions } from './receive-options';
import { openRestoreSink, type ReadyRestore } from './restore/preflight';
import { ArchiveSink } from './sinks/archive-sink';
import { FileSink } from './sinks/file-sink';
import { PipeSink } from './sinks/pipe-sink';
import type { Sink } from './sinks/sink';
import { StdoutSink } from './sinks/stdout-sink';

/** What the sinks need beyond the options. */
export interface SinkContext {
  log: Logger;
  /** When the sinks open (the session was joined), for archive names. */
  now: Date;
  /** --restore: its preset and what the preflight found. */
  restore: ReadyRestore | null;
}

type SinkOpener = (opts: ReceiveOptions, ctx: SinkContext) => Sink | null;

const SINKS: SinkOpener[] = [
  (o) => (o.outputFile ? new FileSink(o.outputFile) : null),
  (o, c) => (o.archive ? new ArchiveSink(o.archive, { job: o.job, name: o.name }, c.now) : null),
  (o, c) => (o.restore && c.restore ? openRestoreSink(c.restore, c.log) : null),
  (o) => (o.pipeCommand ? new PipeSink(o.pipeCommand, !o.stdout) : null),
  (o) => (o.stdout ? new StdoutSink() : null),
];

export function openSinks(opts: ReceiveOptions, ctx: SinkContext): Sink[] {
  return SINKS.map((open) => open(opts, ctx)).filter((s): s is Sink => s !== null);
}

// The options → the sinks, in the order they are fed: files first, the restore, then the
// commands and stdout. A new sink is its class in sinks/ and one line here. A compressed
// stream puts a decompressing stage (decompress.ts) in front of the sinks that take plain bytes.
import * as os from 'os';
import type { Logger } from '../runtime/log';
import type { Compression } from '../runtime/stream-info';
import { DecompressingFanout } from './decompress';
import type { ReceiveOptions } from './receive-options';
import { openRestoreSink, type ReadyRestore } from './restore/preflight';
import { ArchiveSink, COMPRESSED_SUFFIX } from './sinks/archive-sink';
import { Fanout } from './sinks/fanout';
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

/** suffix: added to file names that keep the stream as sent (compressed); '' otherwise. */
type SinkOpener = (opts: ReceiveOptions, ctx: SinkContext, suffix: string) => Sink | null;

/** The sinks that store the stream (and so may keep it compressed: --store). */
const FILE_SINKS: SinkOpener[] = [
  (o, _c, s) => (o.outputFile ? new FileSink(o.outputFile + s) : null),
  (o, c, s) => (o.archive ? new ArchiveSink(o.archive, { job: o.job, name: o.name }, c.now, s) : null),
];
const OTHER_SINKS: SinkOpener[] = [
  (o, c) => (o.restore && c.restore ? openRestoreSink(c.restore, c.log) : null),
  (o) => (o.pipeCommand ? new PipeSink(o.pipeCommand, !o.stdout) : null),
  (o) => (o.stdout ? new StdoutSink() : null),
];

function open(openers: SinkOpener[], opts: ReceiveOptions, ctx: SinkContext, suffix = ''): Sink[] {
  return openers.map((o) => o(opts, ctx, suffix)).filter((s): s is Sink => s !== null);
}

export function openSinks(opts: ReceiveOptions, ctx: SinkContext): Sink[] {
  return [...open(FILE_SINKS, opts, ctx), ...open(OTHER_SINKS, opts, ctx)];
}

export type SinkStage = Fanout | DecompressingFanout;

/** The sinks for a stream of this compression (from the ANNOUNCE info), ready to be fed. */
export function openStage(opts: ReceiveOptions, ctx: SinkContext, compression: Compression | undefined, onChange: () => void): SinkStage {
  if (compression === undefined) return new Fanout(openSinks(opts, ctx), onChange);
  const keep = opts.store === 'compressed';
  const files = open(FILE_SINKS, opts, ctx, keep ? COMPRESSED_SUFFIX : '');
  const others = open(OTHER_SINKS, opts, ctx);
  // The decompressed stream waits where the restore spools, or in the temp directory.
  const spoolDir = opts.restore?.spoolDir ?? os.tmpdir();
  return new DecompressingFanout(keep ? files : [], keep ? others : [...files, ...others], spoolDir, 'dbcast-stream.spool', onChange);
}

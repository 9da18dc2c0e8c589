// Logs go to stderr (stdout may carry the stream itself). Under systemd the daemon writes
// JSON lines; on a terminal, readable text.
// - Structured fields (job, role, session, runId, exitCode, bytes, durationSec, receivers...)
//   are passed as winston metadata at the call sites; JSON lines carry them as fields.
// - When stderr is journald's stream (sd-daemon(3): JOURNAL_STREAM names its device and inode)
//   every line starts with its syslog priority, `<3>` error ... `<7>` debug, which journald
//   takes as the entry's priority and strips: `journalctl -p err` works.
// - Text to anything but a terminal or the journal (a file, a pipe) starts with an ISO time;
//   DBCAST_LOG_TIMESTAMPS=0 leaves it out (the daemon sets it for its runs: it logs their lines
//   with its own time).
// - A progress line on the same terminal is cleared before a log line (runtime/progress.ts).
import * as fs from 'fs';
import winston from 'winston';
import { clearProgressLine } from './progress';

export type Logger = winston.Logger;
export type LogFormat = 'auto' | 'text' | 'json';

/** winston's (triple-beam's) key of the finished line. */
const MESSAGE = Symbol.for('message');

/** sd-daemon(3) priorities for our levels. */
export const SYSLOG_PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, verbose: 7, debug: 7, silly: 7 };

/** auto: JSON when started by systemd (INVOCATION_ID) and stderr is not a terminal. */
export function resolveLogFormat(format: LogFormat): 'text' | 'json' {
  if (format !== 'auto') return format;
  return process.env.INVOCATION_ID && !process.stderr.isTTY ? 'json' : 'text';
}

/** Is fd 2 the stream systemd connected to journald? (A child's stderr that is a pipe to its parent inherits JOURNAL_STREAM but is not.) */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fs.fstatSync(2, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch { return false; }
}

/** Writes to stderr, clearing a progress line first. */
class StderrTransport extends winston.transports.Console {
  override log(info: unknown, next: () => void): void {
    clearProgressLine();
    (winston.transports.Console.prototype.log as (i: unknown, n: () => void) => void).call(this, info, next);
  }
}

export function createLogger(role: string, level: string, format: LogFormat = 'text'): Logger {
  const json = resolveLogFormat(format) === 'json';
  const journal = stderrIsJournal();
  const stamped = !json && !journal && !process.stderr.isTTY && process.env.DBCAST_LOG_TIMESTAMPS !== '0';
  const text = winston.format.printf((i) =>
    `${stamped ? `${new Date().toISOString()} ` : ''}dbcast ${role}: ${i.level === 'info' ? '' : `${i.level}: `}${String(i.message)}`);
  // journald reads a priority prefix per line: a message of several lines gets it on each.
  const priority = winston.format((i) => {
    const p = `<${SYSLOG_PRIORITY[i.level] ?? 6}>`;
    (i as Record<symbol, unknown>)[MESSAGE] = String((i as Record<symbol, unknown>)[MESSAGE]).split('\n').map((l) => p + l).join('\n');
    return i;
  });
  const formats = json
    ? [winston.format.timestamp(), winston.format((i) => ({ ...i, component: role }))(), winston.format.json()]
    : [text];
  return winston.createLogger({
    level,
    transports: [new StderrTransport({ stderrLevels: ['error', 'warn', 'info', 'verbose', 'debug', 'silly'] })],
    format: winston.format.combine(...formats, ...(journal ? [priority()] : [])),
  });
}

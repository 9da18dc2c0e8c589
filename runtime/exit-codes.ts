// Process exit codes. Documented in README.md ("Exit codes"); keep both in step.

export const EXIT = {
  OK: 0,
  /** Unexpected internal error, or (receiver) interrupted / local I/O error. */
  INTERNAL: 1,
  /** Bad flags or configuration. */
  USAGE: 2,
  /** Sender: not enough receivers joined. Receiver: no session within --start-timeout-sec. */
  NO_SESSION: 3,
  /** Sender: one or more receivers failed or were dropped. Receiver: refused or dropped by the sender. */
  RECEIVERS_FAILED: 4,
  /** Sender: the input (stdin or --command) failed. Receiver: the sender aborted. */
  ABORTED: 5,
  /** Sender: interrupted by a signal. Receiver: SHA-256 or length mismatch. */
  INTERRUPTED_OR_MISMATCH: 6,
  /** Receiver: a sink failed (--pipe exit status, --output write error, stdout closed). */
  SINK_FAILED: 7,
  /** Receiver: the sender went silent for --idle-timeout-sec. */
  TIMEOUT: 8,
  /** Receiver: the --restore preflight failed (tool missing, database unreachable, no disk); reported to the sender. */
  PREFLIGHT_FAILED: 9,
  /** Sender: every receiver that took part verified the stream, but the transfer started below
   *  --min-receivers (max-wait expired, --max-wait-min-receivers let it start) or a receiver named
   *  in --receivers never joined. Never a plain success; `dbcast status` shows it as WARNING. */
  DEGRADED: 10,
  /** Receiver: a server restore (postgres-cluster, mariadb-server) failed and putting the previous
   *  server back failed too: it may be down. Needs an operator at once. */
  ROLLBACK_FAILED: 11,
  /** Receiver: the source guard refused the sender (split-brain: a rival sender or a changed
   *  source identity; stale-source: an older timeline, a replica not allowed); reported to the sender. */
  SOURCE_REFUSED: 12,
} as const;

/** `dbcast status` (and its bad flags): the monitoring-plugin codes (Nagios, Icinga, Sensu). */
export const STATUS_EXIT = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  /** Also bad flags: 2 would read as CRITICAL. */
  UNKNOWN: 3,
} as const;

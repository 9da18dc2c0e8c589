// The postgres-cluster preset's own flags → its settings; the shared flags it has no use for.
import * as path from 'path';
import { bool, num, text, type FlagValues } from '../../../runtime/flag-values';
import { UsageError } from '../../../runtime/usage-error';
import type { FlagTable } from '../preset';
import type { RestoreTarget } from '../target';

export interface PgClusterSettings {
  dataDir: string;
  /** Unset: derived from Debian's layout by the preflight (pg_ctlcluster VERSION CLUSTER stop|start). */
  stopCommand?: string;
  startCommand?: string;
  /** Unset: Debian's /var/log/postgresql/postgresql-VERSION-CLUSTER.log, or the newest file in DATA/log/. */
  serverLog?: string;
  checkTimeoutSec: number;
  asStandby: boolean;
  primaryConninfo?: string;
  primaryPassfile?: string;
  primarySlotName?: string;
  /** Files of the live data directory that replace the backup's (beside the default list). */
  keepFiles: string[];
}

export const DEFAULT_CHECK_TIMEOUT_SEC = 300;
const MAX_CHECK_TIMEOUT_SEC = 86_400;

export const PG_CLUSTER_FLAGS = {
  'data-dir': { type: 'string', describe: '--restore postgres-cluster: the live cluster\'s data directory (its base backup is extracted beside it as DIR.incoming; the old one is kept as DIR.previous)' },
  'stop-command': { type: 'string', describe: '--restore postgres-cluster: shell command that stops the live cluster [pg_ctlcluster VERSION CLUSTER stop, from Debian\'s layout]' },
  'start-command': { type: 'string', describe: '--restore postgres-cluster: shell command that starts it [pg_ctlcluster VERSION CLUSTER start]' },
  'server-log': { type: 'string', describe: '--restore postgres-cluster: the server\'s log file, whose last lines go in the report when it does not come up [Debian\'s, or the newest in DIR/log/]' },
  'check-timeout-sec': { type: 'string', describe: `--restore postgres-cluster: how long the started server has to answer SELECT 1 (via --db-host/--db-port/--db-user) before the old data is put back [${DEFAULT_CHECK_TIMEOUT_SEC}]` },
  'as-standby': { type: 'boolean', describe: '--restore postgres-cluster: start the copy as a standby streaming from the primary (standby.signal + primary_conninfo) instead of promoting it to its own timeline' },
  'primary-conninfo': { type: 'string', describe: '--restore postgres-cluster --as-standby: primary_conninfo (e.g. "host=db1 user=replicator"; no password here: use --primary-passfile)' },
  'primary-passfile': { type: 'string', describe: '--restore postgres-cluster --as-standby: a .pgpass-format file the standby reads the replication password from (added to primary_conninfo as passfile=)' },
  'primary-slot-name': { type: 'string', describe: '--restore postgres-cluster --as-standby: primary_slot_name, a replication slot on the primary' },
  'keep-file': { type: 'string', array: true, describe: '--restore postgres-cluster: a file of the live data directory kept across the swap, besides postgresql.conf, pg_hba.conf, pg_ident.conf and postgresql.auto.conf (e.g. server.key), repeatable' },
} as const satisfies FlagTable;

/** Shared --restore flags that mean nothing for a whole cluster (no database, no pg_restore, no spool). */
export const PG_CLUSTER_REFUSES = ['database', 'restore-arg', 'restore-user', 'spool-dir', 'restore-while-receiving'] as const;

const absolutePath = (raw: FlagValues, key: string): string | undefined => {
  const v = text(raw, key, undefined, 4096);
  if (v === undefined) return undefined;
  if (!path.isAbsolute(v) || path.resolve(v) === '/') throw new UsageError(key, 'an absolute path (not /)', v);
  return path.resolve(v);
};

export function pgClusterSettings(raw: FlagValues, _shared: RestoreTarget): PgClusterSettings {
  const dataDir = absolutePath(raw, 'data-dir');
  if (dataDir === undefined) throw new UsageError('data-dir', 'the live cluster\'s data directory (needed with --restore postgres-cluster)', undefined);
  const asStandby = bool(raw, 'as-standby');
  for (const k of ['primary-conninfo', 'primary-passfile', 'primary-slot-name']) {
    if (!asStandby && raw[k] !== undefined) throw UsageError.onlyWith(k, '--as-standby', raw[k]);
  }
  const primaryConninfo = text(raw, 'primary-conninfo', undefined, 4096);
  if (asStandby && primaryConninfo === undefined) throw new UsageError('primary-conninfo', 'a connection string for the primary (needed with --as-standby), e.g. "host=db1 user=replicator"', undefined);
  if (primaryConninfo !== undefined && /(^|\s)password\s*=/.test(primaryConninfo)) {
    throw new UsageError('primary-conninfo', 'a connection string without password= (it would be written into postgresql.auto.conf: use --primary-passfile)', '(a password)');
  }
  const primarySlotName = text(raw, 'primary-slot-name', undefined, 63);
  if (primarySlotName !== undefined && !/^[a-z0-9_]+$/.test(primarySlotName)) throw new UsageError('primary-slot-name', 'a slot name of lower-case letters, digits and _', primarySlotName);
  const keep = raw['keep-file'] === undefined ? [] : (Array.isArray(raw['keep-file']) ? raw['keep-file'] : [raw['keep-file']]).map(String);
  for (const f of keep) if (!/^[A-Za-z0-9_.-]+$/.test(f) || f === '.' || f === '..') throw new UsageError('keep-file', 'a file name in the data directory (no /)', f);
  const s: PgClusterSettings = {
    dataDir, asStandby, keepFiles: keep,
    checkTimeoutSec: num(raw, 'check-timeout-sec', DEFAULT_CHECK_TIMEOUT_SEC, 1, MAX_CHECK_TIMEOUT_SEC, true),
  };
  const stop = text(raw, 'stop-command', undefined, 4096); if (stop !== undefined) s.stopCommand = stop;
  const start = text(raw, 'start-command', undefined, 4096); if (start !== undefined) s.startCommand = start;
  const log = absolutePath(raw, 'server-log'); if (log !== undefined) s.serverLog = log;
  if (primaryConninfo !== undefined) s.primaryConninfo = primaryConninfo;
  const passfile = absolutePath(raw, 'primary-passfile'); if (passfile !== undefined) s.primaryPassfile = passfile;
  if (primarySlotName !== undefined) s.primarySlotName = primarySlotName;
  return s;
}

/** What the preflight resolved: commands, the owner, the live cluster's version and identity. */
export interface PgClusterReady extends RestoreTarget, PgClusterSettings {
  stopCommand: string;
  startCommand: string;
  /** '' : none known (the report then carries only the commands' output). */
  serverLog: string;
  owner: { uid: number; gid: number };
  /** Set when dbcast runs as root for another owner: its files and psql get the owner's ids. */
  actAsOwner: boolean;
  liveMajor: string;
  liveSystemId: string;
  staging: string;
  previous: string;
  failed: string;
}

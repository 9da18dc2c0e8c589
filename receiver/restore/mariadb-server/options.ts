// --restore mariadb-server: its flags and what they resolve to. The flags shared with the
// PostgreSQL cluster preset (--data-dir, --stop-command, --start-command, --check-timeout-sec)
// are described generically: the registry merges both presets' tables into one set of flags.
import * as fs from 'fs';
import { bool, num, text, type FlagValues } from '../../../runtime/flag-values';
import { UsageError } from '../../../runtime/usage-error';
import type { FlagTable } from '../preset';
import type { RestoreTarget } from '../target';
import { dataDirPathProblem } from './datadir';

export interface ReplicaSettings {
  host: string;
  port: number;
  user: string;
  /** A file holding the replication password (never on the command line). */
  passwordFile: string;
}

export interface MariadbServerSettings {
  dataDir: string;
  stopCommand: string;
  startCommand: string;
  /** How long the server has to stop, and to answer the check query after a start. */
  checkTimeoutMs: number;
  /** The server's error log, quoted when it does not start; unset: <datadir>/*.err or the unit's journal. */
  serverLog?: string;
  /** systemd unit the default commands drive (for its journal), when they are the defaults. */
  unit?: string;
  replica?: ReplicaSettings;
}

export const DEFAULT_CHECK_TIMEOUT_SEC = 300;
const MAX_CHECK_TIMEOUT_SEC = 86_400;
const MAX_COMMAND_BYTES = 4096;

export const MARIADB_SERVER_FLAGS = {
  'data-dir': { type: 'string', describe: '--restore mariadb-server/postgres-cluster: the live server\'s data directory (the copy is staged beside it, swapped in, the old one kept as DIR.previous)' },
  'stop-command': { type: 'string', describe: '--restore mariadb-server/postgres-cluster: command (sh) that stops the live server and returns once it is down [the preset\'s default, e.g. systemctl stop mariadb]' },
  'start-command': { type: 'string', describe: '--restore mariadb-server/postgres-cluster: command (sh) that starts the server on the data directory [the preset\'s default, e.g. systemctl start mariadb]' },
  'check-timeout-sec': { type: 'string', describe: `--restore mariadb-server/postgres-cluster: seconds the server has to stop, and to answer a check query once started, before it counts as failed [${DEFAULT_CHECK_TIMEOUT_SEC}]` },
  'server-log': { type: 'string', describe: '--restore mariadb-server/postgres-cluster: the server\'s log file, whose last error lines go in the report when it does not come up [the preset\'s default: MariaDB DIR/*.err, else the systemd unit\'s journal]' },
  'as-replica': { type: 'boolean', describe: '--restore mariadb-server: after the swap, replicate from --primary-host from the backup\'s GTID (CHANGE MASTER ... MASTER_USE_GTID=slave_pos)' },
  'primary-host': { type: 'string', describe: '--restore mariadb-server --as-replica: the primary\'s host name or address' },
  'primary-port': { type: 'string', describe: '--restore mariadb-server --as-replica: the primary\'s port [3306]' },
  'primary-user': { type: 'string', describe: '--restore mariadb-server --as-replica: the replication account on the primary' },
  'primary-password-file': { type: 'string', describe: '--restore mariadb-server --as-replica: file holding that account\'s password (first line; keep it 0600)' },
} as const satisfies FlagTable;

/** The systemd unit of the default commands: mariadb, or mariadb@NAME for /var/lib/mysql-NAME
 *  (the data directory of a multi-instance setup by the usual convention). */
export function defaultUnit(dataDir: string): string {
  const m = /^\/var\/lib\/mysql-([A-Za-z0-9_.-]+)$/.exec(dataDir);
  return m ? `mariadb@${m[1]}` : 'mariadb';
}

const quoteArg = (s: string): string => (/^[A-Za-z0-9_.@:/=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
export const defaultStopCommand = (unit: string): string => `systemctl stop ${quoteArg(unit)}`;
export const defaultStartCommand = (unit: string): string => `systemctl start ${quoteArg(unit)}`;

const REPLICA_KEYS = ['primary-host', 'primary-port', 'primary-user', 'primary-password-file'] as const;

export function mariadbServerSettings(raw: FlagValues, shared: RestoreTarget): MariadbServerSettings {
  const given = text(raw, 'data-dir', undefined, 4096);
  if (given === undefined) throw new UsageError('data-dir', 'the live server\'s data directory (needed with --restore mariadb-server)', given);
  const dataDir = given.length > 1 ? given.replace(/\/+$/, '') : given;
  const form = dataDirPathProblem(dataDir);
  if (form) throw new UsageError('data-dir', form, given);
  if (shared.spoolDir && !shared.whileReceiving && (shared.spoolDir + '/').startsWith(dataDir + '/')) {
    throw new UsageError('spool-dir', 'a directory outside --data-dir (the data directory is moved away during the swap)', shared.spoolDir);
  }
  const unit = defaultUnit(dataDir);
  const stopCommand = text(raw, 'stop-command', undefined, MAX_COMMAND_BYTES);
  const startCommand = text(raw, 'start-command', undefined, MAX_COMMAND_BYTES);
  const s: MariadbServerSettings = {
    dataDir,
    stopCommand: stopCommand ?? defaultStopCommand(unit),
    startCommand: startCommand ?? defaultStartCommand(unit),
    checkTimeoutMs: num(raw, 'check-timeout-sec', DEFAULT_CHECK_TIMEOUT_SEC, 1, MAX_CHECK_TIMEOUT_SEC, true) * 1000,
  };
  if (stopCommand === undefined && startCommand === undefined) s.unit = unit;
  const serverLog = text(raw, 'server-log', undefined, 4096);
  if (serverLog !== undefined) s.serverLog = serverLog;
  if (bool(raw, 'as-replica')) {
    const host = text(raw, 'primary-host', undefined, 255);
    if (host === undefined || !/^[A-Za-z0-9_.:-]+$/.test(host)) throw new UsageError('primary-host', 'the primary\'s host name or address (needed with --as-replica)', host);
    const user = text(raw, 'primary-user', undefined, 128);
    if (user === undefined || !/^[A-Za-z0-9_.@-]+$/.test(user)) throw new UsageError('primary-user', 'the replication account: letters, digits, _ . @ - (needed with --as-replica)', user);
    const passwordFile = text(raw, 'primary-password-file', undefined, 4096);
    if (passwordFile === undefined) throw new UsageError('primary-password-file', 'a file holding the replication password (needed with --as-replica; passwords never go on the command line)', passwordFile);
    s.replica = { host, port: num(raw, 'primary-port', 3306, 1, 65535, true), user, passwordFile };
  } else {
    for (const k of REPLICA_KEYS) if (raw[k] !== undefined) throw UsageError.onlyWith(k, '--as-replica', raw[k]);
  }
  return s;
}

/** The replication password: the file's first line. Throws with what is wrong. */
export function readReplicaPassword(file: string): string {
  const pw = fs.readFileSync(file, 'utf8').split('\n')[0].replace(/\r$/, '');
  if (pw === '') throw new Error(`${file} is empty (its first line is the replication password)`);
  return pw;
}

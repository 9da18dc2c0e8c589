// The --restore flags: those every preset shares, then each preset's own.
import type { FlagSpec, FlagTable } from './preset';
import { PRESET_NAMES, PRESETS } from './presets';

export const SHARED_RESTORE_FLAGS = {
  restore: { type: 'string', describe: `restore preset: ${PRESET_NAMES.join(' or ')} (a staging copy of the database or server, swapped in only when everything succeeded)` },
  database: { type: 'string', describe: '--restore: the live database to replace' },
  'db-host': { type: 'string', describe: '--restore: server host, or socket directory/path starting with / [the client\'s default]' },
  'db-port': { type: 'string', describe: '--restore: server port [the client\'s default]' },
  'db-user': { type: 'string', describe: '--restore: user (passwords from ~/.pgpass, ~/.my.cnf, PGPASSWORD/MYSQL_PWD) [the client\'s default]' },
  'restore-arg': { type: 'string', array: true, describe: '--restore: extra option for pg_restore/mariadb, repeatable (e.g. --restore-arg=--no-owner)' },
  'spool-dir': { type: 'string', describe: '--restore: where the stream is kept (mode 0600) until it is verified [$TMPDIR or /tmp]' },
  'restore-while-receiving': { type: 'boolean', describe: '--restore: feed the restore as bytes arrive instead of after the SHA-256 matched (faster; unverified bytes reach the database: use with --key-file)' },
  'restore-user': { type: 'string', describe: '--restore: the account the restore runs as (PostgreSQL: a non-superuser role that will own the staging database; MariaDB: an account with rights on <db>__incoming only, password in [client_dbcast_restore]) [--db-user]' },
} as const satisfies FlagTable;

/** "text [default]" -> [text, default]. */
const splitDefault = (d: string): [string, string | undefined] => { const m = /^(.*?)\s*\[([^\]]*)\]$/.exec(d); return m ? [m[1], m[2]] : [d, undefined]; };

/** Each preset's own flags, in the order of the registry; a flag two presets take (--jobs)
 *  says what it means for each. */
export const PRESET_FLAGS: FlagTable = PRESETS.reduce<Record<string, FlagSpec>>((all, p) => {
  for (const [key, spec] of Object.entries(p.flags)) {
    const before = all[key];
    if (!before) { all[key] = spec; continue; }
    const [a, da] = splitDefault(before.describe); const [b, db] = splitDefault(spec.describe);
    all[key] = { ...spec, describe: `${a}; ${b}${da !== undefined && da === db ? ` [${da}]` : ''}` };
  }
  return all;
}, {});

export const RESTORE_FLAGS = { ...SHARED_RESTORE_FLAGS, ...PRESET_FLAGS };

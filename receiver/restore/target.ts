// Where a restore preset restores to, as validated from the flags every preset shares
// (restore-options.ts); a preset adds its own settings (e.g. postgres/options.ts).

export interface DbConnection {
  /** Host name, or (both servers) a directory/socket path starting with "/". Unset: the tools' defaults. */
  host?: string;
  port?: number;
  user?: string;
}

export interface RestoreTarget {
  /** The preset's name (--restore), as registered in presets.ts. */
  kind: string;
  /** The live database; staging is `<database>__incoming`, the kept copy `<database>__previous`. */
  database: string;
  conn: DbConnection;
  /** Extra options for pg_restore / mariadb (e.g. -O -x). */
  restoreArgs: string[];
  /** Where the stream is spooled until it is verified. */
  spoolDir: string;
  /** --restore-while-receiving: feed the restore as bytes arrive instead of from the verified spool. */
  whileReceiving: boolean;
  /** --restore-user: the restore tool connects as this account (PostgreSQL: it owns the
   *  staging database; MariaDB: it may touch only the staging schema). Unset: conn.user. */
  restoreUser?: string;
}

export const STAGING_SUFFIX = '__incoming';
export const PREVIOUS_SUFFIX = '__previous';
/** PostgreSQL names are at most 63 bytes; MariaDB's 64. The suffixes must fit too. */
export const MAX_DATABASE_NAME_BYTES = 63 - STAGING_SUFFIX.length;
export const DATABASE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_$]*$/;

export const stagingName = (db: string): string => db + STAGING_SUFFIX;
export const previousName = (db: string): string => db + PREVIOUS_SUFFIX;

/** "name" → "\"name\"" (PostgreSQL) — names are validated anyway; quoting keeps case. */
export const pgIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
export const sqlLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`;
export const myIdent = (s: string): string => `\`${s.replace(/`/g, '``')}\``;

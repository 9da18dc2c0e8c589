// Put a restored staging database in place of the live one, keeping the old one as
// <db>__previous. The two renames run in one transaction: there is never a moment without
// a database under the live name, and a failure leaves the live database as it was.
import { psql, psqlOrThrow, SqlError } from './client';
import { pgIdent, previousName, sqlLiteral, stagingName, type DbConnection } from '../target';

/** Sessions that were connecting while we ended the others get a few more chances to go. */
const RENAME_ATTEMPTS = 10;
const RENAME_RETRY_MS = 300;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function swapPostgres(conn: DbConnection, db: string): Promise<string> {
  const live = pgIdent(db); const staging = pgIdent(stagingName(db)); const previous = pgIdent(previousName(db));
  const row = (await psqlOrThrow(conn, 'reading the live database',
    `SELECT datallowconn, pg_get_userbyid(datdba) FROM pg_database WHERE datname = ${sqlLiteral(db)};`)).trim();
  if (row === '') {
    await psqlOrThrow(conn, 'renaming the staging database', `ALTER DATABASE ${staging} RENAME TO ${live};`);
    return `restored into new database ${db}`;
  }
  const [allowConn, owner] = row.split('|');
  // The previous copy of the run before last goes now: its name is needed.
  await psqlOrThrow(conn, `dropping ${previousName(db)}`, `DROP DATABASE IF EXISTS ${previous} WITH (FORCE);`);
  // Refuse new sessions, end the existing ones, then rename (which needs the database idle).
  await psqlOrThrow(conn, 'refusing new connections to the live database', `ALTER DATABASE ${live} ALLOW_CONNECTIONS false;`);
  let last: SqlError | null = null;
  for (let attempt = 0; attempt < RENAME_ATTEMPTS; attempt++) {
    const r = await psql(conn, [
      `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${sqlLiteral(db)} AND pid <> pg_backend_pid();`,
      'BEGIN;',
      `ALTER DATABASE ${live} RENAME TO ${previous};`,
      `ALTER DATABASE ${staging} RENAME TO ${live};`,
      `ALTER DATABASE ${live} OWNER TO ${pgIdent(owner)};`,
      'COMMIT;',
    ].join('\n'));
    if (r.code === 0) { last = null; break; }
    last = new SqlError('swapping the databases', r);
    if (!/being accessed by other users/.test(r.stderr)) break;
    await sleep(RENAME_RETRY_MS);
  }
  if (last) {
    // Live database untouched; let its clients back in.
    await psql(conn, `ALTER DATABASE ${live} ALLOW_CONNECTIONS ${allowConn === 't' ? 'true' : 'false'};`);
    throw last;
  }
  await psql(conn, `ALTER DATABASE ${previous} ALLOW_CONNECTIONS ${allowConn === 't' ? 'true' : 'false'};`);
  return `swapped into ${db}; the old one is kept as ${previousName(db)}`;
}

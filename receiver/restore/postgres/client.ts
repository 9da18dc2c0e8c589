// psql for the administrative statements of the PostgreSQL preset.
import { runTool, type ToolResult } from '../tool';
import type { DbConnection } from '../target';

export const MAINTENANCE_DB = 'postgres';

export function pgConnArgs(conn: DbConnection): string[] {
  const args: string[] = [];
  if (conn.host) args.push('-h', conn.host);
  if (conn.port) args.push('-p', String(conn.port));
  if (conn.user) args.push('-U', conn.user);
  return args;
}

/** Run SQL (one statement per line is fine) with psql; rows come back unaligned, `|`-separated. */
export function psql(conn: DbConnection, sql: string, db = MAINTENANCE_DB): Promise<ToolResult> {
  return runTool('psql', ['-X', '-q', '-A', '-t', '-w', '-v', 'ON_ERROR_STOP=1', ...pgConnArgs(conn), '-d', db, '-f', '-'], sql);
}

export class SqlError extends Error {
  constructor(what: string, r: ToolResult) {
    super(`${what}: ${r.stderr || `psql exited with status ${r.code}`}`);
  }
}

/** psql, throwing with psql's message when the statement failed. */
export async function psqlOrThrow(conn: DbConnection, what: string, sql: string, db = MAINTENANCE_DB): Promise<string> {
  const r = await psql(conn, sql, db);
  if (r.code !== 0) throw new SqlError(what, r);
  return r.stdout;
}

// --db-host/--db-port/--db-user as the PostgreSQL tools take them.
import type { SourceConnection } from '../preset';

export function pgConnArgs(conn: SourceConnection): string[] {
  const args: string[] = [];
  if (conn.host) args.push('-h', conn.host);
  if (conn.port) args.push('-p', String(conn.port));
  if (conn.user) args.push('-U', conn.user);
  return args;
}

// --db-host/--db-port/--db-user as the MariaDB tools take them.
import type { SourceConnection } from '../preset';

export function myConnArgs(conn: SourceConnection): string[] {
  const args: string[] = [];
  if (conn.host) args.push(conn.host.startsWith('/') ? `--socket=${conn.host}` : `--host=${conn.host}`);
  if (conn.port) args.push(`--port=${conn.port}`);
  if (conn.user) args.push(`--user=${conn.user}`);
  return args;
}

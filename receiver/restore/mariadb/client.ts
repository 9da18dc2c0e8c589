// The mariadb (or mysql) command-line client for the MariaDB preset's administrative statements.
import { runTool, type ToolResult } from '../tool';
import type { DbConnection } from '../target';

export function myConnArgs(conn: DbConnection): string[] {
  const args: string[] = [];
  if (conn.host) args.push(conn.host.startsWith('/') ? `--socket=${conn.host}` : `--host=${conn.host}`);
  if (conn.port) args.push(`--port=${conn.port}`);
  if (conn.user) args.push(`--user=${conn.user}`);
  return args;
}

export class MyError extends Error {
  constructor(what: string, r: ToolResult) { super(`${what}: ${r.stderr || `the client exited with status ${r.code}`}`); }
}

/** Batch output escapes tab, newline, NUL and backslash; undo that. */
function unescapeField(s: string): string {
  return s.replace(/\\([\\ntr0])/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', 0: '\0', '\\': '\\' } as Record<string, string>)[c]);
}

export class MyClient {
  constructor(readonly bin: string, readonly conn: DbConnection) {}

  /** Rows of a query, fields unescaped. `db` is the current database (unqualified names resolve there). */
  async query(what: string, sql: string, db?: string): Promise<string[][]> {
    const r = await runTool(this.bin, ['--batch', '--skip-column-names', ...myConnArgs(this.conn), ...(db ? [`--database=${db}`] : [])], sql);
    if (r.code !== 0) throw new MyError(what, r);
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t').map(unescapeField));
  }

  /** Run statements that may contain semicolons (trigger and routine bodies), one by one. */
  async exec(what: string, statements: string[], db?: string): Promise<void> {
    if (statements.length === 0) return;
    const delimiter = '//dbcast-end//';
    if (statements.some((s) => s.includes(delimiter))) throw new Error(`${what}: a statement contains ${delimiter}`);
    const script = `DELIMITER ${delimiter}\n${statements.map((s) => `${s}\n${delimiter}\n`).join('')}`;
    const r = await runTool(this.bin, [...myConnArgs(this.conn), ...(db ? [`--database=${db}`] : [])], script);
    if (r.code !== 0) throw new MyError(what, r);
  }
}

/** The client's last message lines without the failing statement it echoes between "-----"
 *  lines (a multi-megabyte INSERT would crowd the ERROR line out of a one-line report). */
export function clientMessage(stderrTail: string): string {
  const parts = stderrTail.split(' | ');
  const errors = parts.filter((p) => /^(ERROR|mariadb:|mysql:)/.test(p));
  return (errors.length > 0 ? errors : parts.filter((p) => !/^-{5,}$/.test(p))).join(' | ');
}

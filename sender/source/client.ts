// Running the server's own client (psql, mariadb) for the identity query, and finding the
// programs on PATH. The client honours the operator's usual settings (.pgpass, PG* variables,
// ~/.my.cnf), so it reaches the server the dump will reach.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The identity query returns one short row; a server that does not answer in this long is down. */
const CLIENT_TIMEOUT_MS = 60_000;
const MAX_CLIENT_OUTPUT_BYTES = 1024 * 1024;

export type ClientResult = { ok: true; stdout: string } | { ok: false; message: string };

export function runClient(program: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ClientResult> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout: CLIENT_TIMEOUT_MS, maxBuffer: MAX_CLIENT_OUTPUT_BYTES, env, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) { resolve({ ok: true, stdout }); return; }
      const said = stderr.trim().split('\n').slice(-3).join(' ').trim();
      resolve({ ok: false, message: `${path.basename(program)} failed: ${said || err.message}` });
    });
  });
}

/** The first of `names` that is an executable file on PATH, as its full path; null if none. */
export function findOnPath(names: readonly string[], searchPath = process.env.PATH ?? ''): string | null {
  const dirs = searchPath.split(':').filter((d) => d !== '');
  for (const name of names) {
    for (const dir of dirs) {
      const full = path.join(dir, name);
      try {
        if (fs.statSync(full).isFile()) { fs.accessSync(full, fs.constants.X_OK); return full; }
      } catch { /* not here */ }
    }
  }
  return null;
}

/** argv as one /bin/sh command line (each word single-quoted where needed): what the operator
 *  would type, and what the sender runs. */
export function shellCommand(argv: readonly string[]): string {
  return argv.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

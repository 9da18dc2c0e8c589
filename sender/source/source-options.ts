// --source and its flags → the source target. Every failure is a UsageError naming the flag.
import { bool, num, text, type FlagValues } from '../../runtime/flag-values';
import { UsageError } from '../../runtime/usage-error';
import type { SourceConnection, SourceTarget } from './preset';
import { SOURCE_NAMES, sourcePresetNamed } from './presets';
import { SOURCE_FLAGS } from './source-flags';

/** PostgreSQL names are at most 63 bytes. Plain names only: never an option or a connection string to the tools. */
const MAX_DATABASE_NAME_BYTES = 63;
const DATABASE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_$]*$/;

function dumpArgs(raw: FlagValues, refused: RegExp): string[] {
  const key = 'dump-arg';
  const v = raw[key];
  if (v === undefined) return [];
  const list = (Array.isArray(v) ? v : [v]).map(String);
  for (const a of list) {
    if (!a.startsWith('-')) throw new UsageError(key, 'an option for the dump program, starting with - (e.g. --dump-arg=--exclude-table=audit)', a);
    if (refused.test(a)) throw new UsageError(key, 'an option that does not choose the server, the database, the output or the format (dbcast sets those from --source and its flags)', a);
  }
  return list;
}

export function parseSourceOptions(raw: FlagValues): SourceTarget | undefined {
  const kind = raw.source;
  if (kind === undefined) {
    for (const k of Object.keys(SOURCE_FLAGS)) {
      if (k !== 'source' && raw[k] !== undefined && raw[k] !== false) throw UsageError.onlyWith(k, '--source', raw[k]);
    }
    return undefined;
  }
  const preset = typeof kind === 'string' ? sourcePresetNamed(kind) : undefined;
  if (!preset) throw new UsageError('source', SOURCE_NAMES.join(' or '), kind);
  if (raw.command !== undefined) throw new UsageError('source', 'either --source or --command, not both', kind, `--source and --command exclude each other: --source builds the dump command itself (give one of them)`);
  let database = '';
  if (preset.wholeServer) {
    if (raw.database !== undefined) throw UsageError.onlyWith('database', `a --source that dumps one database (not ${preset.name}, which copies the whole server)`, raw.database);
  } else {
    const db = text(raw, 'database', undefined, MAX_DATABASE_NAME_BYTES);
    if (db === undefined) throw new UsageError('database', 'the database to dump (needed with --source)', undefined);
    if (!DATABASE_NAME_PATTERN.test(db)) throw new UsageError('database', `a database name of letters, digits, _ and $, at most ${MAX_DATABASE_NAME_BYTES} bytes`, db);
    database = db;
  }
  const conn: SourceConnection = {};
  const host = text(raw, 'db-host', undefined, 1024);
  if (host !== undefined) {
    if (host.startsWith('-')) throw new UsageError('db-host', 'a host name or a socket path', host);
    conn.host = host;
  }
  if (raw['db-port'] !== undefined) conn.port = num(raw, 'db-port', 0, 1, 65535, true);
  const user = text(raw, 'db-user', undefined, 128);
  if (user !== undefined) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/.test(user)) throw new UsageError('db-user', 'an account name of letters, digits, _ . @ and -', user);
    conn.user = user;
  }
  return { kind: preset.name, database, conn, dumpArgs: dumpArgs(raw, preset.refusedDumpArgs), allowReplica: bool(raw, 'allow-replica-source') };
}

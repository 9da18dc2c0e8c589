// --source postgres-base: a physical copy of the whole cluster, pg_basebackup as one tar on
// stdout with the WAL it needs (for --restore postgres-cluster). Identity as --source postgres.
//
// pg_basebackup -D - writes one tar only: a cluster with tablespaces beyond pg_default and
// pg_global cannot be sent this way (refused before anything is announced, naming them).
import { runClient } from '../client';
import type { SourcePreset, SourceTarget } from '../preset';
import { pgConnArgs } from '../postgres/connection';
import { identifyPostgres, MAINTENANCE_DB, PSQL_ARGS } from '../postgres/identity';

const EXTRA_TABLESPACES_SQL = "SELECT coalesce(string_agg(spcname, ', ' ORDER BY spcname), '') FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')";

async function extraTablespaces(client: string, t: SourceTarget): Promise<string | null> {
  const r = await runClient(client, [...PSQL_ARGS, ...pgConnArgs(t.conn), '-d', MAINTENANCE_DB, '-c', EXTRA_TABLESPACES_SQL]);
  if (!r.ok) return `cannot list the tablespaces: ${r.message}`;
  const names = r.stdout.trim();
  return names === '' ? null
    : `the cluster has tablespaces besides pg_default (${names}); pg_basebackup -D - writes a single tablespace to stdout. Send it with --command (e.g. a pg_basebackup -Ft directory, archived) instead`;
}

export const postgresBase: SourcePreset = {
  name: 'postgres-base',
  wholeServer: true,
  dumpPrograms: ['pg_basebackup'],
  clientPrograms: ['psql'],
  // Where it writes, in which format, with which WAL and compression: what the receiver expects (one plain tar with its WAL).
  refusedDumpArgs: /^(-h|--host|-p|--port|-U|--username|-d|--dbname|-D|--pgdata|-F|--format|-X|--wal-method|-z|--gzip|-Z|--compress|-T|--tablespace-mapping|-W|--password)(=|$)|^-[hpUdDFXZT]./,
  dumpArgv: (program: string, t: SourceTarget) => [program, '-D', '-', '-Ft', '-X', 'fetch', '--checkpoint=fast', '-w', ...pgConnArgs(t.conn), ...t.dumpArgs],
  identify: identifyPostgres,
  unsuitable: extraTablespaces,
};

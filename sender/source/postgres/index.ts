// --source postgres: pg_dump -Fc of one database; identity from the server's control data.
import type { SourcePreset, SourceTarget } from '../preset';
import { pgConnArgs } from './connection';
import { identifyPostgres } from './identity';

export const postgres: SourcePreset = {
  name: 'postgres',
  dumpPrograms: ['pg_dump'],
  clientPrograms: ['psql'],
  // Connection, output file, format and the database belong to dbcast; --clean/--create are the restore's to choose.
  refusedDumpArgs: /^(-h|--host|-p|--port|-U|--username|-d|--dbname|-f|--file|-F|--format|-W|--password)(=|$)|^-[hpUdfF]./,
  // -w: never prompt for a password (there is no terminal to answer it): fail instead.
  dumpArgv: (program: string, t: SourceTarget) => [program, '-Fc', '-w', ...pgConnArgs(t.conn), ...t.dumpArgs, t.database],
  identify: identifyPostgres,
};

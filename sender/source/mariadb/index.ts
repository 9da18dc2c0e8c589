// --source mariadb: mariadb-dump of one database in one consistent InnoDB snapshot, with its
// routines, triggers and events; identity from the server's variables.
import type { SourcePreset, SourceTarget } from '../preset';
import { myConnArgs } from './connection';
import { identifyMariadb } from './identity';

export const mariadb: SourcePreset = {
  name: 'mariadb',
  dumpPrograms: ['mariadb-dump', 'mysqldump'],
  clientPrograms: ['mariadb', 'mysql'],
  // Connection, output file and which databases belong to dbcast (one database, no USE: the restore chooses where it goes).
  refusedDumpArgs: /^(-h|--host|-P|--port|-u|--user|-S|--socket|-r|--result-file|-B|--databases|-A|--all-databases|-T|--tab|-p|--password)(=|$)|^-[hPuSrTp]./,
  dumpArgv: (program: string, t: SourceTarget) => [program, '--single-transaction', '--routines', '--triggers', '--events', ...myConnArgs(t.conn), ...t.dumpArgs, t.database],
  identify: identifyMariadb,
};

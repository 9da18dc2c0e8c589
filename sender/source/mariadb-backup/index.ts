// --source mariadb-backup: a physical copy of the whole server, mariabackup streamed as
// xbstream (for --restore mariadb-server). Identity as --source mariadb. mariabackup reads the
// data directory itself: it runs on the server's host, as a user that may read it.
import type { SourcePreset, SourceTarget } from '../preset';
import { myConnArgs } from '../mariadb/connection';
import { identifyMariadb } from '../mariadb/identity';

export const mariadbBackup: SourcePreset = {
  name: 'mariadb-backup',
  wholeServer: true,
  dumpPrograms: ['mariabackup', 'mariadb-backup'],
  clientPrograms: ['mariadb', 'mysql'],
  // The stream's form and the connection are dbcast's; --prepare/--copy-back are not backups.
  refusedDumpArgs: /^(-H|--host|-P|--port|-u|--user|-S|--socket|-p|--password|--stream|--prepare|--copy-back|--move-back|--compress)(=|$)|^-[HPuSp]./,
  dumpArgv: (program: string, t: SourceTarget) => [program, '--backup', '--stream=xbstream', ...myConnArgs(t.conn), ...t.dumpArgs],
  identify: identifyMariadb,
};

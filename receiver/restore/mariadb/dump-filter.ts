// What must not reach the server from a mariadb-dump / mysqldump stream when it restores into
// a staging schema: statements that name a database (they would write into, or drop, the
// live one) and, when asked, replication positions (they would repoint this server). This
// keeps an honest `--databases` dump in the staging schema; it is not what stops a hostile
// one (a line filter cannot see inside lines): that is verification first, the client's
// --sandbox and a --restore-user with rights on the staging schema only (README, Security).
import type { LineVerdict } from '../line-filter';

const DATABASE_LINE = /^\s*(?:\/\*!\d+\s*)?(?:USE|CREATE DATABASE|DROP DATABASE|CREATE SCHEMA|DROP SCHEMA)\b(?:\s*\/\*!\d+ IF (?:NOT )?EXISTS\s*\*\/|\s+IF (?:NOT )?EXISTS)?\s*(?:`((?:[^`]|``)+)`|([A-Za-z0-9_$]+))/i;
/** Client commands that switch the database or reach files and shells; mariadb-dump writes none. */
const CLIENT_COMMAND_LINE = /^\s*(?:\\[a-zA-Z!.]|(?:connect|source|system|tee|pager)\b)/i;
const REPLICATION_LINE = /^(?:\/\*!\d+\s*)?(?:CHANGE MASTER|CHANGE REPLICATION SOURCE|STOP ALL SLAVES|START ALL SLAVES|STOP SLAVE|START SLAVE|STOP REPLICA|START REPLICA|SET GLOBAL gtid_slave_pos|SET @@GLOBAL\.GTID_PURGED)\b/i;

export function mariadbDumpJudge(stripReplication: boolean): (line: string) => LineVerdict {
  let database: string | null = null;
  return (line) => {
    const m = DATABASE_LINE.exec(line);
    if (m) {
      const name = m[1] ?? m[2];
      if (database !== null && database !== name) return { fail: `the dump holds more than one database (${database}, ${name}); dump one database per job` };
      database = name;
      return 'drop';
    }
    if (CLIENT_COMMAND_LINE.test(line)) return { fail: `the dump runs a client command (${line.trim().slice(0, 40)}); mariadb-dump writes none` };
    if (stripReplication && REPLICATION_LINE.test(line)) return 'drop';
    return 'keep';
  };
}

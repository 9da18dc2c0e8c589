// What must not reach the server from a mariadb-dump / mysqldump stream when it restores into
// a staging schema: statements that name a database (they would write into, or drop, the
// live one) and, when asked, replication positions (they would repoint this server).
import type { LineVerdict } from './line-filter';

const DATABASE_LINE = /^(?:\/\*!\d+\s*)?(?:USE|CREATE DATABASE|DROP DATABASE)\b(?:\s*\/\*!\d+ IF (?:NOT )?EXISTS\s*\*\/|\s+IF (?:NOT )?EXISTS)?\s*`((?:[^`]|``)+)`/i;
const REPLICATION_LINE = /^(?:\/\*!\d+\s*)?(?:CHANGE MASTER|CHANGE REPLICATION SOURCE|STOP ALL SLAVES|START ALL SLAVES|STOP SLAVE|START SLAVE|STOP REPLICA|START REPLICA|SET GLOBAL gtid_slave_pos|SET @@GLOBAL\.GTID_PURGED)\b/i;

export function mariadbDumpJudge(stripReplication: boolean): (line: string) => LineVerdict {
  let database: string | null = null;
  return (line) => {
    const m = DATABASE_LINE.exec(line);
    if (m) {
      if (database !== null && database !== m[1]) return { fail: `the dump holds more than one database (${database}, ${m[1]}); dump one database per job` };
      database = m[1];
      return 'drop';
    }
    if (stripReplication && REPLICATION_LINE.test(line)) return 'drop';
    return 'keep';
  };
}

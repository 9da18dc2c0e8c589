// --as-replica: point the freshly started copy at the primary from the backup's GTID and wait
// until both replication threads run. The statements go through the client's stdin, so the
// password never appears in a process list.
import type { Logger } from '../../../runtime/log';
import { sqlLiteral } from '../target';
import { GTID_LIST } from './backup-info';
import type { ReplicaSettings } from './options';
import type { ServerCheck } from './server';

const POLL_INTERVAL_MS = 500;

/** The statements that make the server a replica from `gtid` (pure, for the tests). */
export function replicaStatements(r: ReplicaSettings, password: string, gtid: string): string {
  if (!GTID_LIST.test(gtid)) throw new Error(`not a GTID list: ${gtid}`);
  return [
    'STOP SLAVE;',
    'RESET SLAVE ALL;',
    `SET GLOBAL gtid_slave_pos = ${sqlLiteral(gtid)};`,
    `CHANGE MASTER TO MASTER_HOST = ${sqlLiteral(r.host)}, MASTER_PORT = ${r.port}, MASTER_USER = ${sqlLiteral(r.user)}, MASTER_PASSWORD = ${sqlLiteral(password)}, MASTER_USE_GTID = slave_pos;`,
    'START SLAVE;',
  ].join('\n');
}

/** SHOW SLAVE STATUS\G → field → value. */
export function parseSlaveStatus(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_]+):\s?(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** Null once both threads run; else why not (the server's own error when it gave one). */
export function replicationProblem(st: Record<string, string>): string | null {
  if (Object.keys(st).length === 0) return 'no replication configured';
  if (st.Slave_IO_Running === 'Yes' && st.Slave_SQL_Running === 'Yes') return null;
  const errs = [st.Last_IO_Error, st.Last_SQL_Error].filter((e) => e);
  return `Slave_IO_Running=${st.Slave_IO_Running}, Slave_SQL_Running=${st.Slave_SQL_Running}${errs.length ? `: ${errs.join('; ')}` : ''}`;
}

export async function startReplica(check: ServerCheck, r: ReplicaSettings, password: string, gtid: string, timeoutMs: number, log: Logger): Promise<string> {
  log.info(`mariadb-server: replicating from ${r.user}@${r.host}:${r.port} from GTID ${gtid}`);
  await check.run(replicaStatements(r, password, gtid));
  const end = Date.now() + timeoutMs;
  for (;;) {
    // \G output: one "field: value" per line (its tabular form escapes nothing we could split on).
    const st = parseSlaveStatus(await check.run('SHOW SLAVE STATUS\\G', true));
    const problem = replicationProblem(st);
    if (!problem) return `replicating from ${r.host}:${r.port} (GTID ${gtid})`;
    if (Date.now() >= end) throw new Error(`replication from ${r.host}:${r.port} not running after ${timeoutMs / 1000} s: ${problem}`);
    await new Promise((res) => setTimeout(res, POLL_INTERVAL_MS));
  }
}

// A MariaDB server's identity: @@server_uuid where the server has it (MariaDB 10.11 does not:
// then server id and hostname, as the identity schema says), @@read_only, @@gtid_current_pos.
import { runClient } from '../client';
import type { IdentifyResult, SourceTarget } from '../preset';
import { myConnArgs } from './connection';

// SHOW ... LIKE answers with no row where the variable does not exist (SELECT @@server_uuid would fail).
const IDENTITY_SQL = "SELECT @@server_id, @@hostname, @@read_only, @@gtid_current_pos; SHOW GLOBAL VARIABLES LIKE 'server_uuid';";

/** The client's batch output (tab-separated rows) → the identity, or why not. */
export function parseMariadbIdentity(out: string): IdentifyResult {
  const rows = out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  const first = rows[0];
  if (!first || first.length !== 4 || !/^\d+$/.test(first[0])) return { ok: false, reason: `unexpected answer to the identity query: ${JSON.stringify(out.slice(0, 200))}` };
  const [serverId, hostname, readOnly, gtid] = first;
  const uuid = rows.find((r) => r[0].toLowerCase() === 'server_uuid')?.[1];
  return {
    ok: true,
    identity: {
      engine: 'mariadb',
      systemId: uuid ? uuid : `server-id:${serverId}@${hostname}`,
      inRecovery: readOnly === '1',
      ...(gtid ? { position: gtid } : {}),
    },
  };
}

export async function identifyMariadb(client: string, t: SourceTarget): Promise<IdentifyResult> {
  const r = await runClient(client, ['--batch', '--skip-column-names', ...myConnArgs(t.conn), ...(t.database ? [`--database=${t.database}`] : []), '-e', IDENTITY_SQL]);
  if (!r.ok) return { ok: false, reason: r.message };
  return parseMariadbIdentity(r.stdout);
}

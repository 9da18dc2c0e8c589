// A PostgreSQL server's identity: system identifier (pg_control_system), the timeline it is
// on, whether it is in recovery, and its WAL position.
//
// The timeline: pg_control_checkpoint() reports the timeline of the last checkpoint, and a
// freshly promoted server keeps reporting the old one until its end-of-recovery checkpoint is
// done (requested, not waited for, and spread over checkpoint_timeout). The WAL file name of
// the current insert position carries the timeline WAL is written on now, at once: its first
// 8 hex digits. A standby has no insert position; there the newer of its last restartpoint's
// and its WAL receiver's timeline is the one it replays.
import { runClient } from '../client';
import type { IdentifyResult, SourceTarget } from '../preset';
import { pgConnArgs } from './connection';

const IDENTITY_SQL = `SELECT s.system_identifier, r.rec,
  CASE WHEN r.rec THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END,
  (SELECT timeline_id FROM pg_control_checkpoint()),
  (SELECT max(received_tli) FROM pg_stat_wal_receiver),
  CASE WHEN r.rec THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
FROM pg_control_system() s, (SELECT pg_is_in_recovery() AS rec) r`;

export const PSQL_ARGS = ['-X', '-q', '-A', '-t', '-w', '-F', '|', '-v', 'ON_ERROR_STOP=1'];
/** Where a whole-server preset's queries connect. */
export const MAINTENANCE_DB = 'postgres';

/** The timeline in a WAL file name (TTTTTTTTXXXXXXXXYYYYYYYY, hex). */
export function timelineOfWalFile(name: string): number | null {
  return /^[0-9A-F]{24}$/.test(name) ? parseInt(name.slice(0, 8), 16) : null;
}

/** psql's row (fields separated by |, NULL as empty) → the identity, or why not. */
export function parsePostgresIdentity(row: string): IdentifyResult {
  const f = row.trim().split('|');
  if (f.length !== 6) return { ok: false, reason: `unexpected answer to the identity query: ${JSON.stringify(row.slice(0, 200))}` };
  const [systemId, rec, walFile, checkpointTli, receivedTli, lsn] = f;
  if (!/^\d+$/.test(systemId)) return { ok: false, reason: `no system identifier in ${JSON.stringify(row.slice(0, 200))}` };
  const inRecovery = rec === 't';
  const timeline = inRecovery
    ? Math.max(Number(checkpointTli) || 0, Number(receivedTli) || 0)
    : timelineOfWalFile(walFile);
  if (!timeline) return { ok: false, reason: `no timeline in ${JSON.stringify(row.slice(0, 200))}` };
  return { ok: true, identity: { engine: 'postgres', systemId, timeline, inRecovery, ...(lsn ? { position: lsn } : {}) } };
}

export async function identifyPostgres(client: string, t: SourceTarget): Promise<IdentifyResult> {
  // Connected to the database the dump reads: the same server, reached the same way.
  const r = await runClient(client, [...PSQL_ARGS, ...pgConnArgs(t.conn), '-d', t.database || MAINTENANCE_DB, '-c', IDENTITY_SQL]);
  if (!r.ok) return { ok: false, reason: r.message };
  return parsePostgresIdentity(r.stdout);
}

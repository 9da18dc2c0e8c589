// Who produced a dump: the database server's identity as the sender learned it before the first
// byte (sender source presets) and carried in ANNOUNCE's info `source` object. The receiver's
// guard (receiver/source-guard.ts) compares it with the last identity the job accepted, so a
// demoted old primary cannot swap yesterday's truth in. Decoded from the network: a reason,
// never a throw.

export const SOURCE_ENGINES = ['postgres', 'mariadb'] as const;
export type SourceEngine = (typeof SOURCE_ENGINES)[number];

/** Bounds on the text fields (the whole info must fit MAX_ANNOUNCE_INFO_BYTES anyway). */
export const MAX_SYSTEM_ID_CHARS = 128;
export const MAX_SOURCE_HOST_CHARS = 255;
export const MAX_SOURCE_DATABASE_CHARS = 128;
export const MAX_SOURCE_POSITION_CHARS = 256;
/** PostgreSQL timelines are 32-bit unsigned. */
export const MAX_TIMELINE = 0xffffffff;

export interface SourceIdentity {
  engine: SourceEngine;
  /** PostgreSQL: the system identifier (decimal text). MariaDB: @@server_uuid when the server has
   *  it, else "server-id:<@@server_id>@<@@hostname>". Identifies the cluster's lineage. */
  systemId: string;
  /** PostgreSQL only: the timeline; a promotion bumps it. */
  timeline?: number;
  /** PostgreSQL pg_is_in_recovery(); MariaDB @@read_only=1. */
  inRecovery: boolean;
  /** The sender was told --allow-replica-source: dumping from a replica was a choice. */
  replicaAllowed: boolean;
  /** The sender's hostname. */
  host: string;
  database: string;
  /** PostgreSQL LSN or MariaDB gtid_current_pos, for the record only. */
  position?: string;
}

export type SourceIdentityResult = { ok: true; identity: SourceIdentity } | { ok: false; reason: string };

const CONTROL = /[\u0000-\u001f\u007f]/;

function text(o: Record<string, unknown>, key: string, maxChars: number, allowEmpty: boolean): string | { reason: string } {
  const v = o[key];
  if (typeof v !== 'string') return { reason: `source.${key} is not a string` };
  if (!allowEmpty && v === '') return { reason: `source.${key} is empty` };
  if (v.length > maxChars) return { reason: `source.${key} is longer than ${maxChars} characters` };
  if (CONTROL.test(v)) return { reason: `source.${key} has control characters` };
  return v;
}

/** Validates the `source` object of the stream info (runtime/stream-info.ts). Unknown keys are left out. */
export function decodeSourceIdentity(v: unknown): SourceIdentityResult {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'source is not an object' };
  const o = v as Record<string, unknown>;
  if (!(SOURCE_ENGINES as readonly unknown[]).includes(o.engine)) {
    return { ok: false, reason: `source.engine is not one of ${SOURCE_ENGINES.join(', ')}` };
  }
  const engine = o.engine as SourceEngine;
  const systemId = text(o, 'systemId', MAX_SYSTEM_ID_CHARS, false);
  if (typeof systemId !== 'string') return { ok: false, ...systemId };
  const host = text(o, 'host', MAX_SOURCE_HOST_CHARS, false);
  if (typeof host !== 'string') return { ok: false, ...host };
  // A whole-server dump names no database.
  const database = text(o, 'database', MAX_SOURCE_DATABASE_CHARS, true);
  if (typeof database !== 'string') return { ok: false, ...database };
  for (const key of ['inRecovery', 'replicaAllowed'] as const) {
    if (typeof o[key] !== 'boolean') return { ok: false, reason: `source.${key} is not true or false` };
  }
  const identity: SourceIdentity = {
    engine, systemId, inRecovery: o.inRecovery as boolean, replicaAllowed: o.replicaAllowed as boolean, host, database,
  };
  if (o.timeline !== undefined) {
    const tl = o.timeline;
    if (typeof tl !== 'number' || !Number.isInteger(tl) || tl < 1 || tl > MAX_TIMELINE) {
      return { ok: false, reason: `source.timeline is not an integer 1..${MAX_TIMELINE}` };
    }
    if (engine !== 'postgres') return { ok: false, reason: 'source.timeline is only for postgres' };
    identity.timeline = tl;
  }
  if (o.position !== undefined) {
    const position = text(o, 'position', MAX_SOURCE_POSITION_CHARS, false);
    if (typeof position !== 'string') return { ok: false, ...position };
    identity.position = position;
  }
  return { ok: true, identity };
}

/** Same cluster lineage: what the guard calls "the same source" (timeline and position may move). */
export function sameSource(a: SourceIdentity, b: SourceIdentity): boolean {
  return a.engine === b.engine && a.systemId === b.systemId;
}

/** For logs: "postgres 7301…/timeline 3 on db1 (primary)". */
export function formatSourceIdentity(id: SourceIdentity): string {
  const sys = id.systemId.length > 12 ? `${id.systemId.slice(0, 12)}…` : id.systemId;
  const tl = id.timeline !== undefined ? `/timeline ${id.timeline}` : '';
  const role = id.inRecovery ? (id.replicaAllowed ? 'replica, allowed' : 'replica') : 'primary';
  const db = id.database !== '' ? ` database ${id.database}` : '';
  return `${id.engine} ${sys}${tl} on ${id.host}${db} (${role})`;
}

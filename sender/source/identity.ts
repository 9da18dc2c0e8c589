// The source identity a sender announces (runtime/stream-info.ts `source`). The schema is
// shared with the receivers' guard; until runtime/source-identity.ts is on this branch the
// type is spelled out here, field for field as agreed.
export interface SourceIdentity {
  engine: 'postgres' | 'mariadb';
  /** PostgreSQL system identifier; MariaDB @@server_uuid, else "server-id:<@@server_id>@<@@hostname>". */
  systemId: string;
  /** PostgreSQL timeline. */
  timeline?: number;
  /** PostgreSQL pg_is_in_recovery(); MariaDB @@read_only = 1. */
  inRecovery: boolean;
  /** The sender was given --allow-replica-source. */
  replicaAllowed: boolean;
  /** The sender's hostname. */
  host: string;
  database: string;
  /** PostgreSQL LSN, MariaDB @@gtid_current_pos. */
  position?: string;
}

// What a source preset (--source NAME) is: a folder beside this file exporting one of these,
// registered by one line in presets.ts. It builds the dump command an operator should use and
// reads the source's identity with the server's own client, on the same connection flags.
import type { SourceIdentity } from './identity';

/** --db-host/--db-port/--db-user: unset means the client's default (PG* variables, ~/.my.cnf). */
export interface SourceConnection {
  /** Host name, or a socket directory (PostgreSQL) / socket path (MariaDB) starting with "/". */
  host?: string;
  port?: number;
  user?: string;
}

/** A validated --source: what to dump, from where, and whether a replica may be the source. */
export interface SourceTarget {
  /** The preset's name, as registered in presets.ts. */
  kind: string;
  /** '' for a whole-server preset. */
  database: string;
  conn: SourceConnection;
  /** --dump-arg: extra options for the dump program, after the preset's own. */
  dumpArgs: string[];
  /** --allow-replica-source: a standby / read-only server may be the source (announced as such). */
  allowReplica: boolean;
}

/** What the server says about itself; the sender adds host, database and replicaAllowed. */
export type ServerIdentity = Pick<SourceIdentity, 'engine' | 'systemId' | 'timeline' | 'inRecovery' | 'position'>;

export type IdentifyResult = { ok: true; identity: ServerIdentity } | { ok: false; reason: string };

export interface SourcePreset {
  /** --source NAME. */
  readonly name: string;
  /** A physical backup of the whole server: --database is refused, the target's database is ''. */
  readonly wholeServer?: boolean;
  /** The dump programs tried on PATH, first found wins (mariadb-dump before mysqldump). */
  readonly dumpPrograms: readonly string[];
  /** The clients tried on PATH for the identity query. */
  readonly clientPrograms: readonly string[];
  /** --dump-arg values that would dump from elsewhere, to elsewhere, or in another format. */
  readonly refusedDumpArgs: RegExp;
  /** The dump command as argv (program first), without a shell. */
  dumpArgv(program: string, target: SourceTarget): string[];
  /** The server's identity, read with `client` on the target's connection. */
  identify(client: string, target: SourceTarget): Promise<IdentifyResult>;
  /** Before the dump: why this server cannot be sent this way (null: it can). */
  unsuitable?(client: string, target: SourceTarget): Promise<string | null>;
}

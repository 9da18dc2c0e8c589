// The --source flags of `dbcast send` (src/flags.ts shows them in help, the daemon's config
// takes the same keys). The send table is separate from receive's, so --database and
// --db-host mean here what they mean for --restore, on the other side.
import { SOURCE_NAMES } from './presets';

export interface SourceFlagSpec {
  readonly type: 'string' | 'number' | 'boolean';
  readonly describe: string;
  readonly placeholder?: string;
  readonly defaultDescription?: string;
  readonly choices?: readonly string[];
  readonly array?: boolean;
}

export const SOURCE_FLAGS = {
  source: { type: 'string', placeholder: 'PRESET', choices: SOURCE_NAMES, describe: 'instead of --command: run the preset\'s dump and announce the server\'s identity. postgres, mariadb: one --database (pg_dump -Fc; mariadb-dump --single-transaction --routines --triggers --events); postgres-base, mariadb-backup: the whole server (pg_basebackup tar; mariabackup xbstream)' },
  database: { type: 'string', placeholder: 'DB', describe: '--source: the database to dump' },
  'db-host': { type: 'string', placeholder: 'HOST', describe: '--source: server host, or socket directory/path starting with /', defaultDescription: 'the client\'s default' },
  'db-port': { type: 'number', placeholder: 'PORT', describe: '--source: server port', defaultDescription: 'the client\'s default' },
  'db-user': { type: 'string', placeholder: 'USER', describe: '--source: user (passwords from ~/.pgpass, ~/.my.cnf, PGPASSWORD/MYSQL_PWD)', defaultDescription: 'the client\'s default' },
  'dump-arg': { type: 'string', placeholder: 'OPT', array: true, describe: '--source: extra option for pg_dump/mariadb-dump, repeatable (e.g. --dump-arg=--exclude-table=audit)' },
  'allow-replica-source': { type: 'boolean', describe: '--source: a standby (in recovery) or read_only server may be the source; announced as such. Without it such a source is refused (exit 2)' },
} as const satisfies Readonly<Record<string, SourceFlagSpec>>;

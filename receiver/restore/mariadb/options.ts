// The MariaDB preset's own flags (--strip-replication, --jobs) and what --restore-arg may not say.
import * as os from 'os';
import { bool, num, type FlagValues } from '../../../runtime/flag-values';
import { UsageError } from '../../../runtime/usage-error';
import type { FlagTable } from '../preset';
import type { RestoreTarget } from '../target';

export interface MariadbSettings {
  /** Drop CHANGE MASTER / gtid_slave_pos / GTID_PURGED lines from the dump. */
  stripReplication: boolean;
  /** Tables imported at once from the verified spool ('auto' is resolved by the preflight). */
  jobs: number | 'auto';
}

/** What the sink gets from the preflight: the client found and the options it supports. */
export interface MariadbReady {
  target: RestoreTarget & MariadbSettings & { jobs: number };
  /** mariadb or mysql. */
  clientBin: string;
  /** --sandbox when the client has it; the option group of --restore-user. */
  importArgs: string[];
}

export const MARIADB_FLAGS = {
  'strip-replication': { type: 'boolean', describe: '--restore mariadb: drop CHANGE MASTER / gtid_slave_pos / GTID_PURGED lines' },
  jobs: { type: 'string', describe: '--restore mariadb: import N tables at once from the verified spool (split at mariadb-dump\'s table sections); auto = cores [auto]' },
} as const satisfies FlagTable;

/** mariadb client options that would choose the target database themselves. */
export const MARIADB_TARGET_OPTIONS = /^(-D|--database|-e|--execute|-o|--one-database)(=|$)|^-[De]./;

/** The same bound as --restore postgres --jobs. */
export const MAX_JOBS = 64;

/** --jobs auto: one client per core (each mostly waits on the server's inserts). */
export const autoJobs = (): number => Math.max(1, Math.min(MAX_JOBS, os.cpus().length));

export function mariadbSettings(raw: FlagValues, shared: RestoreTarget): MariadbSettings {
  const jobs = raw.jobs === undefined || raw.jobs === 'auto' ? 'auto' : num(raw, 'jobs', 1, 1, MAX_JOBS, true);
  if (shared.whileReceiving && typeof jobs === 'number' && jobs > 1) {
    throw new UsageError('jobs', '1 or auto with --restore-while-receiving (the tables are split from the whole verified file)', raw.jobs);
  }
  return { stripReplication: bool(raw, 'strip-replication'), jobs };
}

// The PostgreSQL preset's own flag (--jobs) and what --restore-arg may not say.
import { num, type FlagValues } from '../../../runtime/flag-values';
import { UsageError } from '../../../runtime/usage-error';
import type { FlagTable } from '../preset';
import type { RestoreTarget } from '../target';

export interface PostgresSettings {
  /** pg_restore -j N on the verified spool ('auto' is resolved by the preflight). */
  jobs: number | 'auto';
}

/** What the sink gets from the preflight: --jobs resolved. */
export type PostgresTarget = RestoreTarget & { jobs: number };

export const POSTGRES_FLAGS = {
  jobs: { type: 'string', describe: '--restore postgres: pg_restore -j N on the verified spool; auto = min(4, cores), at least 2 [auto]' },
} as const satisfies FlagTable;

/** pg_restore options that would choose the target database themselves. */
export const POSTGRES_TARGET_OPTIONS = /^(-d|--dbname|-C|--create|-f|--file|-l|--list|-c|--clean)(=|$)|^-[dfC]./;

export const MAX_JOBS = 64;

export function postgresSettings(raw: FlagValues, shared: RestoreTarget): PostgresSettings {
  const jobs = raw.jobs === undefined || raw.jobs === 'auto' ? 'auto' : num(raw, 'jobs', 1, 1, MAX_JOBS, true);
  if (shared.whileReceiving && typeof jobs === 'number' && jobs > 1) {
    throw new UsageError('jobs', '1 or auto with --restore-while-receiving (pg_restore -j needs the whole file)', raw.jobs);
  }
  return { jobs };
}

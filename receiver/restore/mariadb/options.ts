// The MariaDB preset's own flag (--strip-replication) and what --restore-arg may not say.
import type { FlagValues } from '../../../runtime/flag-values';
import type { FlagTable } from '../preset';
import type { RestoreTarget } from '../target';

export interface MariadbSettings {
  /** Drop CHANGE MASTER / gtid_slave_pos / GTID_PURGED lines from the dump. */
  stripReplication: boolean;
}

/** What the sink gets from the preflight: the client found and the options it supports. */
export interface MariadbReady {
  target: RestoreTarget & MariadbSettings;
  /** mariadb or mysql. */
  clientBin: string;
  /** --sandbox when the client has it; the option group of --restore-user. */
  importArgs: string[];
}

export const MARIADB_FLAGS = {
  'strip-replication': { type: 'boolean', describe: '--restore mariadb: drop CHANGE MASTER / gtid_slave_pos / GTID_PURGED lines' },
} as const satisfies FlagTable;

/** mariadb client options that would choose the target database themselves. */
export const MARIADB_TARGET_OPTIONS = /^(-D|--database|-e|--execute|-o|--one-database)(=|$)|^-[De]./;

export function mariadbSettings(raw: FlagValues): MariadbSettings {
  return { stripReplication: raw['strip-replication'] === true };
}

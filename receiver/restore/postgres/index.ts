// --restore postgres: pg_restore into a staging database, swapped in once verified.
import type { RestorePreset } from '../preset';
import { POSTGRES_FLAGS, POSTGRES_TARGET_OPTIONS, postgresSettings, type PostgresSettings, type PostgresTarget } from './options';
import { postgresPreflight } from './preflight';
import { PostgresRestoreSink } from './sink';

export const postgres: RestorePreset<PostgresSettings, PostgresTarget> = {
  name: 'postgres',
  flags: POSTGRES_FLAGS,
  targetOptions: POSTGRES_TARGET_OPTIONS,
  settings: postgresSettings,
  preflight: postgresPreflight,
  openSink: (target, log) => new PostgresRestoreSink(target, log),
};

// --restore mariadb: the mariadb client into a staging schema, swapped in once verified.
import type { RestorePreset } from '../preset';
import { MARIADB_FLAGS, MARIADB_TARGET_OPTIONS, mariadbSettings, type MariadbReady, type MariadbSettings } from './options';
import { mariadbPreflight } from './preflight';
import { MariadbRestoreSink } from './sink';

export const mariadb: RestorePreset<MariadbSettings, MariadbReady> = {
  name: 'mariadb',
  flags: MARIADB_FLAGS,
  targetOptions: MARIADB_TARGET_OPTIONS,
  settings: mariadbSettings,
  preflight: mariadbPreflight,
  openSink: (r, log) => new MariadbRestoreSink(r.target, r.clientBin, r.importArgs, log),
};

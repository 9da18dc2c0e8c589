// --restore mariadb-server: a mariabackup stream replaces the whole server's data directory.
import type { RestorePreset } from '../preset';
import { MARIADB_SERVER_FLAGS, mariadbServerSettings, type MariadbServerSettings } from './options';
import { mariadbServerPreflight, type MariadbServerReady } from './preflight';
import { MariadbServerSink } from './sink';

export const mariadbServer: RestorePreset<MariadbServerSettings, MariadbServerReady> = {
  name: 'mariadb-server',
  flags: MARIADB_SERVER_FLAGS,
  // A whole server: no database to name, no restore tool to pass options to, no import account.
  refusesShared: ['database', 'restore-arg', 'restore-user'],
  targetOptions: /^$/,
  settings: mariadbServerSettings,
  preflight: mariadbServerPreflight,
  openSink: (r, log) => new MariadbServerSink(r, log),
};

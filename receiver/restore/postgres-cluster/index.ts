// --restore postgres-cluster: a physical base backup (pg_basebackup -D - -Ft -X fetch) extracted
// beside the live data directory, swapped in with the server stopped, started and checked;
// rolled back to the old directory when it does not come up.
import type { RestorePreset } from '../preset';
import { PG_CLUSTER_FLAGS, PG_CLUSTER_REFUSES, pgClusterSettings, type PgClusterReady, type PgClusterSettings } from './options';
import { pgClusterPreflight } from './preflight';
import { PgClusterSink } from './sink';

export const postgresCluster: RestorePreset<PgClusterSettings, PgClusterReady> = {
  name: 'postgres-cluster',
  flags: PG_CLUSTER_FLAGS,
  refusesShared: PG_CLUSTER_REFUSES,
  // --restore-arg is refused altogether (PG_CLUSTER_REFUSES).
  targetOptions: /^/,
  settings: pgClusterSettings,
  preflight: pgClusterPreflight,
  openSink: (ready, log) => new PgClusterSink(ready, log),
};

// Debian's cluster layout: /var/lib/postgresql/<version>/<cluster> with its configuration in
// /etc/postgresql/<version>/<cluster>/ (data_directory says where the data is) and its log in
// /var/log/postgresql/. The default stop/start commands and server log come from it.
import * as fs from 'fs';
import * as path from 'path';

export interface DebianCluster { version: string; cluster: string }

const CLUSTER_NAME = /^[A-Za-z0-9_.-]+$/;
const VERSION = /^\d+(\.\d+)?$/;

/** /var/lib/postgresql/15/main → { 15, main } (the path Debian's pg_createcluster uses). */
export function clusterFromPath(dataDir: string): DebianCluster | null {
  const m = /^\/var\/lib\/postgresql\/([^/]+)\/([^/]+)$/.exec(path.resolve(dataDir));
  if (!m || !VERSION.test(m[1]) || !CLUSTER_NAME.test(m[2])) return null;
  return { version: m[1], cluster: m[2] };
}

/** A cluster whose postgresql.conf in `etcDir` names this data directory (data_directory = '...'). */
export function clusterFromConfig(dataDir: string, etcDir = '/etc/postgresql'): DebianCluster | null {
  const want = path.resolve(dataDir);
  let versions: string[];
  try { versions = fs.readdirSync(etcDir); } catch { return null; }
  for (const version of versions.filter((v) => VERSION.test(v))) {
    let clusters: string[];
    try { clusters = fs.readdirSync(path.join(etcDir, version)); } catch { continue; }
    for (const cluster of clusters.filter((c) => CLUSTER_NAME.test(c))) {
      let conf: string;
      try { conf = fs.readFileSync(path.join(etcDir, version, cluster, 'postgresql.conf'), 'utf8'); } catch { continue; }
      const m = /^\s*data_directory\s*=\s*'([^']*)'/m.exec(conf);
      if (m && path.resolve(m[1]) === want) return { version, cluster };
    }
  }
  return null;
}

export function debianCluster(dataDir: string, etcDir?: string): DebianCluster | null {
  return clusterFromConfig(dataDir, etcDir) ?? clusterFromPath(dataDir);
}

/** The names are checked by the patterns above, so they are safe in a shell command. */
export const ctlClusterCommand = (c: DebianCluster, action: 'stop' | 'start'): string => `pg_ctlcluster ${c.version} ${c.cluster} ${action}`;
export const debianServerLog = (c: DebianCluster): string => `/var/log/postgresql/postgresql-${c.version}-${c.cluster}.log`;


// What a pg_basebackup base.tar may contain, checked entry by entry as it is extracted: the
// base data directory only (regular files and directories). Tablespaces show up as symlinks or
// files under pg_tblspc/ and as lines in tablespace_map: their data is not in the stream, so
// such a backup is refused. PG_VERSION is compared with the live cluster's as soon as it arrives.
import type { ExtractPolicy, ExtractSummary } from './tar-extractor';
import type { TarEntry } from './tar-header';

const WATCHED = new Set(['PG_VERSION', 'backup_label', 'tablespace_map']);
/** A WAL segment file name: timeline, log, segment (8 hex digits each). */
const WAL_SEGMENT = /^pg_wal\/[0-9A-F]{24}$/;

export class BaseBackupPolicy implements ExtractPolicy {
  /** What the stream's PG_VERSION and backup_label said. */
  backupMajor: string | null = null;
  backupLabel = '';

  constructor(private readonly liveMajor: string) {}

  refuse(e: TarEntry): string | null {
    const tablespace = e.path.startsWith('pg_tblspc/');
    if (e.type === 'symlink' || (tablespace && e.type !== 'directory')) {
      return tablespace
        ? `the backup has a tablespace (${e.path}${e.linkTarget ? ` -> ${e.linkTarget}` : ''}) whose data is not in the stream: only single-tablespace base backups can be restored`
        : `a symlink (${e.path} -> ${e.linkTarget}): a base data directory from pg_basebackup -Ft has none`;
    }
    if (e.type === 'hardlink') return `a hard link (${e.path})`;
    if (e.type === 'other') return `an entry of tar type ${JSON.stringify(e.flag)} (${e.path}): only files and directories are restored`;
    return null;
  }

  watch(e: TarEntry): boolean { return e.type === 'file' && WATCHED.has(e.path); }

  contents(e: TarEntry, data: Buffer): string | null {
    const text = data.toString('utf8');
    if (e.path === 'PG_VERSION') {
      this.backupMajor = text.trim();
      if (this.backupMajor !== this.liveMajor) return `the backup is PostgreSQL ${this.backupMajor}, the live cluster ${this.liveMajor}: a base backup restores only onto the same major version`;
    }
    if (e.path === 'tablespace_map' && text.trim() !== '') return `the backup's tablespace_map lists tablespaces (${text.trim().split('\n')[0]}...) whose data is not in the stream: only single-tablespace base backups can be restored`;
    if (e.path === 'backup_label') this.backupLabel = text;
    return null;
  }
}

/** After the whole stream: is this a complete base data directory that can start? */
export function baseBackupProblem(s: ExtractSummary): string | null {
  for (const f of ['PG_VERSION', 'global/pg_control']) if (!s.paths.has(f)) return `the stream is not a PostgreSQL data directory (no ${f})`;
  if (!s.paths.has('backup_label')) return 'the stream has no backup_label: not a pg_basebackup base backup';
  if (![...s.paths].some((p) => WAL_SEGMENT.test(p))) return 'the backup has no WAL in pg_wal/ (send it with pg_basebackup -X fetch): it could not start consistent';
  return null;
}

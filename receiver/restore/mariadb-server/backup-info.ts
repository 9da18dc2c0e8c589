// What mariabackup writes into the backup beside the data: the binlog position and GTID of the
// copy (xtrabackup_binlog_info in 10.x, mariadb_backup_binlog_info in 11.x: "file<TAB>position<TAB>gtid")
// and the tool and server versions (xtrabackup_info / mariadb_backup_info: "key = value" lines).
// Pure: text in, values or a reason out.

/** The names each release line uses, newest first. */
export const BINLOG_INFO_FILES = ['mariadb_backup_binlog_info', 'xtrabackup_binlog_info'] as const;
export const BACKUP_INFO_FILES = ['mariadb_backup_info', 'xtrabackup_info'] as const;

export interface BinlogPosition {
  file: string;
  position: number;
  /** The GTID of the last change in the copy ('' when the server kept no GTID). */
  gtid: string;
}

/** A GTID list as MariaDB writes it: domain-server-seq, comma separated. */
export const GTID_LIST = /^\d+-\d+-\d+(,\d+-\d+-\d+)*$/;

export function parseBinlogInfo(text: string): BinlogPosition | { reason: string } {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '');
  if (!line) return { reason: 'the binlog info is empty (the source server has no binary log?)' };
  const [file, pos, gtid = '', ...rest] = line.split(/\t+/);
  if (rest.length > 0 || !/^[^\s/]+$/.test(file) || !/^\d+$/.test(pos ?? '')) return { reason: `the binlog info is not "file<TAB>position<TAB>gtid": ${JSON.stringify(line.slice(0, 120))}` };
  if (gtid !== '' && !GTID_LIST.test(gtid)) return { reason: `the binlog info's GTID is not a GTID list: ${JSON.stringify(gtid.slice(0, 120))}` };
  return { file, position: Number(pos), gtid };
}

export function parseBackupInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** "10.11.19-MariaDB-0+deb12u1-log" → "10.11" (the release series: a physical copy prepares
 *  and starts only with the same one). */
export function releaseSeries(version: string): string | null {
  const m = /(\d+)\.(\d+)\.\d+/.exec(version);
  return m ? `${m[1]}.${m[2]}` : null;
}

/** `mariabackup --version` prints "mariabackup based on MariaDB server 10.11.19-MariaDB ..." (on stderr). */
export function mariabackupVersion(output: string): string | null {
  const m = /MariaDB server (\d+\.\d+\.\d+)/.exec(output) ?? /Ver \S+ .*?(\d+\.\d+\.\d+)-MariaDB/.exec(output);
  return m ? m[1] : null;
}

/** Why the copy cannot be prepared by this mariabackup / run by this server, or null. */
export function versionProblem(info: Record<string, string>, toolVersion: string, liveVersion: string | null): string | null {
  const backup = info.server_version ?? info.tool_version;
  if (!backup) return 'the backup names no server version (no xtrabackup_info / mariadb_backup_info in the stream?)';
  const series = releaseSeries(backup);
  if (series !== releaseSeries(toolVersion)) return `the backup comes from MariaDB ${backup}, this mariabackup is ${toolVersion}: prepare needs the same release series (${series})`;
  if (liveVersion && series !== releaseSeries(liveVersion)) return `the backup comes from MariaDB ${backup}, the server here is ${liveVersion}: the copy starts only on the same release series (${series})`;
  return null;
}

export function describePosition(p: BinlogPosition | null): string {
  if (!p) return 'no binlog position in the backup';
  return `binlog ${p.file}:${p.position}${p.gtid ? `, GTID ${p.gtid}` : ''}`;
}

// What the restored copy starts as, written into its postgresql.auto.conf (the file ALTER SYSTEM
// and pg_basebackup -R write) plus a signal file:
//  - own server (default): recovery.signal with recovery_target = 'immediate' and
//    recovery_target_action = 'promote': it replays the WAL the backup brought (-X fetch), then
//    picks a new timeline, so its WAL can never be mistaken for the primary's. restore_command
//    'false' only satisfies PostgreSQL's rule that archive recovery has one (the WAL is in pg_wal).
//    Once promoted, postgresql.auto.conf is put back as it was (recovery_target = 'immediate'
//    left behind would make a later standby stop and promote).
//  - --as-standby: standby.signal with primary_conninfo (and primary_slot_name): it streams
//    from the primary from where the backup ends.

export interface RecoverySettings { signal: 'recovery.signal' | 'standby.signal'; settings: Record<string, string>; temporary: boolean }

/** A value in a PostgreSQL configuration file: single-quoted, ' doubled, \ escaped. */
export const confValue = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
/** A value in a libpq connection string. */
export const conninfoValue = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function recoverySettings(o: { asStandby: boolean; primaryConninfo?: string; primaryPassfile?: string; primarySlotName?: string }): RecoverySettings {
  if (!o.asStandby) {
    return { signal: 'recovery.signal', temporary: true, settings: { restore_command: 'false', recovery_target: 'immediate', recovery_target_action: 'promote' } };
  }
  const conninfo = [o.primaryConninfo ?? '', o.primaryPassfile ? `passfile=${conninfoValue(o.primaryPassfile)}` : ''].filter(Boolean).join(' ');
  const settings: Record<string, string> = { primary_conninfo: conninfo };
  if (o.primarySlotName) settings.primary_slot_name = o.primarySlotName;
  return { signal: 'standby.signal', temporary: false, settings };
}

/** postgresql.auto.conf with these settings replacing any earlier lines for the same keys. */
export function withSettings(conf: string, settings: Record<string, string>): string {
  const keys = Object.keys(settings).map((k) => k.toLowerCase());
  const kept = conf.split('\n').filter((line) => {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?/.exec(line);
    return !(m && keys.includes(m[1].toLowerCase()));
  });
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  const added = Object.entries(settings).map(([k, v]) => `${k} = ${confValue(v)}`);
  return [...kept, '# written by dbcast receive --restore postgres-cluster', ...added, ''].join('\n');
}

/** Configuration files the live cluster keeps across a swap (when it has them). */
export const KEPT_FILES = ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf', 'postgresql.auto.conf'] as const;
/** Never taken from the backup: the copy's recovery mode is ours to decide. */
export const DROPPED_FILES = ['standby.signal', 'recovery.signal', 'postmaster.pid', 'postmaster.opts'] as const;

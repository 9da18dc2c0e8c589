// --restore and the flags every preset shares → the target, with the preset's own settings.
// Every failure names the flag and the expected form.
import * as os from 'os';
import { bool, num, text, type FlagValues } from '../../runtime/flag-values';
import { UsageError } from '../../runtime/usage-error';
import type { RestorePreset } from './preset';
import { PRESET_NAMES, PRESETS, presetNamed, type PresetTarget } from './presets';
import { SHARED_RESTORE_FLAGS } from './restore-flags';
import { DATABASE_NAME_PATTERN, MAX_DATABASE_NAME_BYTES, type DbConnection, type RestoreTarget } from './target';

function databaseName(raw: FlagValues, key: string): string {
  const v = text(raw, key, undefined, MAX_DATABASE_NAME_BYTES);
  if (v === undefined) throw new UsageError(key, `a database name (needed with --restore)`, v);
  if (!DATABASE_NAME_PATTERN.test(v)) throw new UsageError(key, `a database name of letters, digits, _ and $, at most ${MAX_DATABASE_NAME_BYTES} bytes`, v);
  return v;
}

function restoreArgs(raw: FlagValues, preset: RestorePreset): string[] {
  const key = 'restore-arg';
  const v = raw[key];
  if (v === undefined) return [];
  const list = (Array.isArray(v) ? v : [v]).map(String);
  for (const a of list) {
    if (!a.startsWith('-')) throw new UsageError(key, 'an option for the restore tool, starting with - (e.g. --restore-arg=--no-owner)', a);
    if (preset.targetOptions.test(a)) throw new UsageError(key, 'an option that does not choose the target database (dbcast restores into the staging database itself)', a);
  }
  return list;
}

/** A flag given where it means nothing is refused, naming what it belongs to. */
function refuseUnless(raw: FlagValues, key: string, what: string): void {
  if (raw[key] !== undefined && raw[key] !== false) throw UsageError.onlyWith(key, what, raw[key]);
}

export function parseRestoreOptions(raw: FlagValues): PresetTarget | undefined {
  const kind = raw.restore;
  if (kind === undefined) {
    const keys = [...Object.keys(SHARED_RESTORE_FLAGS), ...PRESETS.flatMap((p) => Object.keys(p.flags))];
    for (const k of keys) if (k !== 'restore') refuseUnless(raw, k, '--restore');
    return undefined;
  }
  const preset = typeof kind === 'string' ? presetNamed(kind) : undefined;
  if (!preset) throw new UsageError('restore', PRESET_NAMES.join(' or '), kind);
  for (const other of PRESETS) {
    if (other === preset) continue;
    for (const k of Object.keys(other.flags)) if (!(k in preset.flags)) refuseUnless(raw, k, `--restore ${other.name}`);
  }
  for (const k of preset.refusesShared ?? []) refuseUnless(raw, k, `a --restore that takes it (not ${preset.name})`);
  const conn: DbConnection = {};
  const host = text(raw, 'db-host', undefined, 1024);
  if (host !== undefined) conn.host = host;
  if (raw['db-port'] !== undefined) conn.port = num(raw, 'db-port', 0, 1, 65535, true);
  const user = text(raw, 'db-user', undefined, 128);
  if (user !== undefined) conn.user = user;
  const spoolDir = text(raw, 'spool-dir', os.tmpdir(), 4096) as string;
  const restoreUser = text(raw, 'restore-user', undefined, 128);
  if (restoreUser !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/.test(restoreUser)) {
    throw new UsageError('restore-user', 'an account name of letters, digits, _ . @ and -', restoreUser);
  }
  const shared: RestoreTarget = {
    kind: preset.name,
    database: preset.refusesShared?.includes('database') ? '' : databaseName(raw, 'database'),
    conn,
    restoreArgs: restoreArgs(raw, preset),
    spoolDir,
    whileReceiving: bool(raw, 'restore-while-receiving'),
    ...(restoreUser !== undefined ? { restoreUser } : {}),
  };
  return { ...shared, ...preset.settings(raw, shared) };
}

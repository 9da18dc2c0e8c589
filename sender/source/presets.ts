// The source presets, by --source NAME. A new preset is a folder beside postgres/ and
// mariadb/ exporting a SourcePreset (preset.ts), and one line here.
import { mariadb } from './mariadb';
import { mariadbBackup } from './mariadb-backup';
import { postgres } from './postgres';
import { postgresBase } from './postgres-base';
import type { SourcePreset } from './preset';

export const SOURCE_PRESETS: readonly SourcePreset[] = [
  postgres,
  mariadb,
  postgresBase,
  mariadbBackup,
];

export const SOURCE_NAMES: readonly string[] = SOURCE_PRESETS.map((p) => p.name);

export function sourcePresetNamed(name: string): SourcePreset | undefined {
  return SOURCE_PRESETS.find((p) => p.name === name);
}

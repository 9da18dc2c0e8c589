// The restore presets, by --restore NAME. A new preset is a folder beside postgres/ and
// mariadb/ exporting a RestorePreset (preset.ts), and one line here.
import type { RestorePreset } from './preset';
import type { RestoreTarget } from './target';
import { mariadb } from './mariadb';
import { postgres } from './postgres';
import { postgresCluster } from './postgres-cluster';
import { mariadbServer } from './mariadb-server';

export const PRESETS = [
  postgres,
  mariadb,
  postgresCluster,
  mariadbServer,
] as const;

export const PRESET_NAMES: readonly string[] = PRESETS.map((p) => p.name);

export function presetNamed(name: string): RestorePreset | undefined {
  return PRESETS.find((p) => p.name === name);
}

/** The preset that parsed this target (its kind is one of PRESET_NAMES). */
export function presetOf(target: RestoreTarget): RestorePreset {
  const preset = presetNamed(target.kind);
  if (!preset) throw new Error(`no restore preset '${target.kind}'`);
  return preset;
}

type SettingsOf<P> = P extends RestorePreset<infer S, infer _R> ? S : never;
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** A validated --restore: the shared target, and the settings of its preset (the others' absent). */
export type PresetTarget = RestoreTarget & Partial<Intersection<SettingsOf<(typeof PRESETS)[number]>>>;

// The restore's preflight, through the target's preset; what it found opens the sink later.
import type { Logger } from '../../runtime/log';
import type { Sink } from '../sinks/sink';
import type { PreflightResult, RestorePreset } from './preset';
import { presetOf } from './presets';
import type { RestoreTarget } from './target';

/** A preset and what its preflight found, kept together until the sink is opened. */
export interface ReadyRestore { preset: RestorePreset; ready: unknown }

export async function preflightRestore(target: RestoreTarget): Promise<PreflightResult<ReadyRestore>> {
  const preset = presetOf(target);
  const p = await preset.preflight(target);
  return p.ok ? { ...p, ready: { preset, ready: p.ready } } : p;
}

export function openRestoreSink(r: ReadyRestore, log: Logger): Sink {
  return r.preset.openSink(r.ready, log);
}

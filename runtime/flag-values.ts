// Reading one flag's value (from the command line or a config key): every failure is a
// UsageError naming the flag and the expected form.
import { UsageError } from './usage-error';

/** Flag values as yargs or the config file give them. */
export type FlagValues = Record<string, unknown>;

export function num(raw: FlagValues, key: string, def: number, min: number, max: number, integer: boolean): number {
  const v = raw[key];
  if (v === undefined) return def;
  const form = `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`;
  if (typeof v !== 'string' && typeof v !== 'number') throw new UsageError(key, form, v);
  const s = String(v).trim();
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new UsageError(key, form, v);
  const n = Number(s);
  if ((integer && !Number.isInteger(n)) || n < min || n > max) throw new UsageError(key, form, v);
  return n;
}

export function text(raw: FlagValues, key: string, def: string | undefined, maxBytes: number): string | undefined {
  const v = raw[key];
  if (v === undefined) return def;
  if (Array.isArray(v)) throw new UsageError(key, 'a single value (the flag was given more than once)', v);
  const s = String(v);
  if (s === '' || Buffer.byteLength(s) > maxBytes) throw new UsageError(key, `a non-empty text of at most ${maxBytes} bytes`, v);
  return s;
}

/** An on/off flag: absent is off; a config value that is not true/false is refused, never read as off. */
export function bool(raw: FlagValues, key: string): boolean {
  const v = raw[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new UsageError(key, 'true or false', v);
  return v;
}

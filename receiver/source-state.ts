// Per receive job: the source identity it last accepted and what the operator accepted for the
// next run (`dbcast accept-source`). One small JSON file beside the seen-sessions file (the
// daemon keeps one per job in its state-dir). A missing file is a job with no history.
import * as fs from 'fs';
import * as path from 'path';
import { REPORT_FILE_MODE, writeFileAtomic } from '../runtime/safe-file';
import { decodeSourceIdentity, type SourceIdentity } from '../runtime/source-identity';
import type { SourceAcceptance } from './source-guard';

export interface SourceState {
  accepted: SourceIdentity | null;
  /** When it was accepted, and by which session (for `dbcast status` and the operator). */
  acceptedAtMs: number | null;
  session: string | null;
  /** The operator accepted a change for the next run; cleared once a run used it. */
  acceptNext: SourceAcceptance | null;
}

export const EMPTY_SOURCE_STATE: SourceState = { accepted: null, acceptedAtMs: null, session: null, acceptNext: null };

/** Throws (with the file named) on a file that is not ours: the guard must not run blind. */
export function readSourceState(file: string): SourceState {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...EMPTY_SOURCE_STATE };
    throw err;
  }
  let v: unknown;
  try { v = JSON.parse(text); } catch { throw new Error('not JSON'); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
  const o = v as Record<string, unknown>;
  const state: SourceState = { ...EMPTY_SOURCE_STATE };
  if (o.accepted !== null && o.accepted !== undefined) {
    const d = decodeSourceIdentity(o.accepted);
    if (!d.ok) throw new Error(`accepted: ${d.reason}`);
    state.accepted = d.identity;
  }
  if (typeof o.acceptedAtMs === 'number') state.acceptedAtMs = o.acceptedAtMs;
  if (typeof o.session === 'string') state.session = o.session;
  if (o.acceptNext !== null && o.acceptNext !== undefined) {
    const a = o.acceptNext as Record<string, unknown>;
    if (typeof a !== 'object' || (a.systemId !== undefined && typeof a.systemId !== 'string')) throw new Error('acceptNext: not {systemId?}');
    state.acceptNext = a.systemId === undefined ? {} : { systemId: a.systemId as string };
  }
  return state;
}

export function writeSourceState(file: string, state: SourceState): void {
  writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, REPORT_FILE_MODE);
}

/** Where the daemon keeps a receive job's source state (beside its seen-sessions file). */
export function sourceStatePath(stateDir: string, job: string): string {
  return path.join(stateDir, `source-${encodeURIComponent(job)}.json`);
}

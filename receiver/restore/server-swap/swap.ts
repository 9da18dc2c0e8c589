// The stop / swap / start / check / roll back sequence for a whole server's data directory,
// shared by the physical presets (PostgreSQL, MariaDB). The engine brings the control
// (commands, the check query, its log); this file owns the order and what each failure means:
//  - before the live directory moved (remove old .previous, stop): the old server is made sure
//    to answer again (started if the stop left it down): kept-old;
//  - after it moved (move, start, check): stop whatever runs, put the previous directory back,
//    start it, check it: kept-old; if any of that fails: rollback-failed, said loudly.
// Every step is logged; the result names the step that failed.
import type { Logger } from '../../../runtime/log';
import { exists, move, removeTree } from './dirs';

export interface StepResult { ok: boolean; message: string }

export interface ServerControl {
  /** Is a server running on the live directory (its pid file is there)? */
  running(): Promise<boolean>;
  stop(): Promise<StepResult>;
  start(): Promise<StepResult>;
  /** Wait (bounded) until the server answers the check, on the new data or the old. */
  check(which: 'new' | 'old'): Promise<StepResult>;
  /** The server's last log lines, for the report. */
  lastLog(): string;
}

export interface SwapPlan {
  live: string;
  staging: string;
  previous: string;
  /** Where a copy that did not come up goes while the old one is put back (then removed). */
  failed: string;
  control: ServerControl;
  log: Logger;
}

export type SwapOutcome = 'swapped' | 'kept-old' | 'rollback-failed';
export interface SwapResult { outcome: SwapOutcome; failedStep?: string; detail: string }

type Step = 'remove-old-previous' | 'stop' | 'move-live-to-previous' | 'move-staging-to-live' | 'start' | 'check';

export async function swapDataDir(p: SwapPlan): Promise<SwapResult> {
  const { log, control } = p;
  const step = async (name: Step | string, run: () => Promise<StepResult>): Promise<StepResult> => {
    log.info(`swap step ${name}: starting`);
    let r: StepResult;
    try { r = await run(); } catch (err) { r = { ok: false, message: (err as Error).message }; }
    if (r.ok) log.info(`swap step ${name}: ok${r.message ? ` (${r.message})` : ''}`);
    else log.error(`swap step ${name}: failed: ${r.message}`);
    return r;
  };
  const fs = (run: () => Promise<void>) => async (): Promise<StepResult> => { await run(); return { ok: true, message: '' }; };
  const failed = (name: Step, r: StepResult): string => `step ${name} failed: ${r.message}`;

  // 1. The run before last's copy goes: its name is needed (done before the stop: no downtime).
  let r = await step('remove-old-previous', fs(() => removeTree(p.previous)));
  if (!r.ok) return { outcome: 'kept-old', failedStep: 'remove-old-previous', detail: `${failed('remove-old-previous', r)}; ${p.live} untouched` };

  // 2. Stop the live server.
  const wasRunning = await control.running();
  r = wasRunning ? await step('stop', () => control.stop()) : { ok: true, message: 'was not running' };
  if (r.ok && (await control.running())) r = { ok: false, message: 'the stop command succeeded but the server still runs (its pid file is there)' };
  if (!r.ok) return ensureOldUp('stop', failed('stop', r), p, step, wasRunning);
  if (!wasRunning) log.warn(`the live server on ${p.live} was not running; it will be started on the new data`);

  // 3. The swap: two renames in one directory.
  r = await step('move-live-to-previous', fs(() => move(p.live, p.previous)));
  if (!r.ok) return ensureOldUp('move-live-to-previous', failed('move-live-to-previous', r), p, step, true);
  r = await step('move-staging-to-live', fs(() => move(p.staging, p.live)));
  if (!r.ok) return rollBack('move-staging-to-live', failed('move-staging-to-live', r), p, step, false);

  // 4. Start on the new data and check it answers.
  r = await step('start', () => control.start());
  if (!r.ok) return rollBack('start', failed('start', r), p, step, true);
  r = await step('check', () => control.check('new'));
  if (!r.ok) return rollBack('check', failed('check', r), p, step, true);
  return { outcome: 'swapped', detail: `swapped: the server answers on the new data${r.message ? `, ${r.message}` : ''}; the old data kept as ${p.previous}` };
}

type StepFn = (name: string, run: () => Promise<StepResult>) => Promise<StepResult>;

/** The live directory never moved: make sure the old server answers. */
async function ensureOldUp(failedStep: Step, why: string, p: SwapPlan, step: StepFn, wasRunning: boolean): Promise<SwapResult> {
  if (!wasRunning) return { outcome: 'kept-old', failedStep, detail: `${why}; ${p.live} untouched (its server was not running)` };
  let r = await step('recover-check-old', () => p.control.check('old'));
  if (!r.ok) {
    r = await step('recover-start-old', () => p.control.start());
    if (r.ok) r = await step('recover-check-old', () => p.control.check('old'));
  }
  if (r.ok) return { outcome: 'kept-old', failedStep, detail: `${why}; data directory untouched, the old server answers` };
  return { outcome: 'rollback-failed', failedStep, detail: `ROLLBACK FAILED: the old server does not answer (${r.message}) after ${why}; its data directory is untouched` };
}

/** The new data is (or was about to be) live and did not come up: put the old one back. */
async function rollBack(failedStep: Step, why: string, p: SwapPlan, step: StepFn, newIsLive: boolean): Promise<SwapResult> {
  const serverLog = p.control.lastLog();
  const logPart = serverLog ? `; server log: ${serverLog}` : '';
  let r: StepResult = { ok: true, message: '' };
  if (newIsLive) {
    if (await p.control.running()) {
      r = await step('rollback-stop-new', () => p.control.stop());
      if (r.ok && (await p.control.running())) r = { ok: false, message: 'the server still runs after the stop command' };
    }
    if (r.ok) r = await step('rollback-remove-old-failed', async () => { await removeTree(p.failed); return { ok: true, message: '' }; });
    if (r.ok) r = await step('rollback-move-new-aside', async () => { await move(p.live, p.failed); return { ok: true, message: '' }; });
  }
  if (r.ok) r = await step('rollback-move-previous-to-live', async () => {
    if (await exists(p.live)) throw new Error(`${p.live} is in the way`);
    await move(p.previous, p.live);
    return { ok: true, message: '' };
  });
  if (r.ok) r = await step('rollback-start-old', () => p.control.start());
  if (r.ok) r = await step('rollback-check-old', () => p.control.check('old'));
  if (!r.ok) {
    const where = (await exists(p.previous)) ? `the old data is in ${p.previous}` : `the old data is in ${p.live}`;
    return { outcome: 'rollback-failed', failedStep, detail: `ROLLBACK FAILED (${r.message}) after ${why}; ${where}${(await exists(p.failed)) ? `, the new in ${p.failed}` : ''}${logPart}` };
  }
  await removeTree(p.failed).catch((err: Error) => p.log.warn(`could not remove ${p.failed}: ${err.message}`));
  return { outcome: 'kept-old', failedStep, detail: `${why}; rolled back, the old server answers${logPart}` };
}

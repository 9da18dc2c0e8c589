// The stop / swap / start / check / roll back sequence for a whole server's data directory,
// shared by the physical presets (PostgreSQL, MariaDB). The engine brings the control
// (commands, the check query, its log); this file owns the order and what each failure means:
//  - before the live directory moved (remove old .previous, stop): the old server is made sure
//    to answer again (started if the stop left it down): kept-old;
//  - after it moved (move, start, check): stop whatever runs, put the previous directory back,
//    start it, check it: kept-old; if any of that fails: rollback-failed, said loudly, and a
//    marker left beside the data directory (dirs.ts) so later runs refuse until it is cleared.
// Every step is logged; the result names the step that failed.
import type { Logger } from '../../../runtime/log';
import { exists, move, removeTree, writeRollbackMarker } from './dirs';

export interface StepResult { ok: boolean; message: string }

export interface ServerControl {
  /** Is a server running on the live directory (its pid file is there)? */
  running(): Promise<boolean>;
  stop(): Promise<StepResult>;
  start(): Promise<StepResult>;
  /** Wait (bounded) until the server answers the check, on the new data or the old. */
  check(which: 'new' | 'old'): Promise<StepResult>;
  /** The server's last log lines, for the report. */
  lastLog(): Promise<string>;
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
/**
 * detail: the whole story in one line. The same in parts, for an engine whose report puts them
 * in its own order: `state` (what the server is left as), `why` (what the failed step said),
 * `serverLog` (its last error lines).
 */
export interface SwapResult { outcome: SwapOutcome; failedStep?: Step; detail: string; state: string; why?: string; serverLog?: string }

export type Step = 'remove-old-previous' | 'stop' | 'move-live-to-previous' | 'move-staging-to-live' | 'start' | 'check';

export async function swapDataDir(p: SwapPlan): Promise<SwapResult> {
  const r = await swapSteps(p);
  if (r.outcome === 'rollback-failed') {
    try { writeRollbackMarker(p.live, new Date().toISOString(), r.detail); } catch (err) {
      p.log.error(`could not leave the rollback marker beside ${p.live}: ${(err as Error).message}`);
    }
  }
  return r;
}

async function swapSteps(p: SwapPlan): Promise<SwapResult> {
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

  // 1. The run before last's copy goes: its name is needed (done before the stop: no downtime).
  let r = await step('remove-old-previous', fs(() => removeTree(p.previous)));
  if (!r.ok) return { outcome: 'kept-old', failedStep: 'remove-old-previous', detail: `step remove-old-previous failed: ${r.message}; ${p.live} untouched`, state: `${p.live} untouched`, why: r.message };

  // 2. Stop the live server.
  const wasRunning = await control.running();
  r = wasRunning ? await step('stop', () => control.stop()) : { ok: true, message: 'was not running' };
  if (r.ok && (await control.running())) r = { ok: false, message: 'the stop command succeeded but the server still runs' };
  if (!r.ok) return ensureOldUp('stop', r.message, p, step, wasRunning);
  if (!wasRunning) log.warn(`the live server on ${p.live} was not running; it will be started on the new data`);

  // 3. The swap: two renames in one directory.
  r = await step('move-live-to-previous', fs(() => move(p.live, p.previous)));
  if (!r.ok) return ensureOldUp('move-live-to-previous', r.message, p, step, true);
  r = await step('move-staging-to-live', fs(() => move(p.staging, p.live)));
  if (!r.ok) return rollBack('move-staging-to-live', r.message, p, step, false);

  // 4. Start on the new data and check it answers.
  r = await step('start', () => control.start());
  if (!r.ok) return rollBack('start', r.message, p, step, true);
  r = await step('check', () => control.check('new'));
  if (!r.ok) return rollBack('check', r.message, p, step, true);
  return { outcome: 'swapped', detail: `swapped: the server answers on the new data${r.message ? `, ${r.message}` : ''}; the old data kept as ${p.previous}`, state: 'swapped' };
}

type StepFn = (name: string, run: () => Promise<StepResult>) => Promise<StepResult>;

/** The live directory never moved: make sure the old server answers. */
async function ensureOldUp(failedStep: Step, whyMessage: string, p: SwapPlan, step: StepFn, wasRunning: boolean): Promise<SwapResult> {
  const why = `step ${failedStep} failed: ${whyMessage}`;
  const base = { failedStep, why: whyMessage };
  if (!wasRunning) return { ...base, outcome: 'kept-old', state: `${p.live} untouched (its server was not running)`, detail: `${why}; ${p.live} untouched (its server was not running)` };
  let r = await step('recover-check-old', () => p.control.check('old'));
  if (!r.ok) {
    r = await step('recover-start-old', () => p.control.start());
    if (r.ok) r = await step('recover-check-old', () => p.control.check('old'));
  }
  if (r.ok) return { ...base, outcome: 'kept-old', state: 'the old server answers, its data directory untouched', detail: `${why}; data directory untouched, the old server answers` };
  return { ...base, outcome: 'rollback-failed', state: `ROLLBACK FAILED: the old server does not answer (${r.message}); its data directory is untouched`, detail: `ROLLBACK FAILED: the old server does not answer (${r.message}) after ${why}; its data directory is untouched` };
}

/** The new data is (or was about to be) live and did not come up: put the old one back. */
async function rollBack(failedStep: Step, whyMessage: string, p: SwapPlan, step: StepFn, newIsLive: boolean): Promise<SwapResult> {
  const why = `step ${failedStep} failed: ${whyMessage}`;
  const serverLog = await p.control.lastLog();
  const logPart = serverLog ? `; server log: ${serverLog}` : '';
  const base = { failedStep, why: whyMessage, serverLog };
  let r: StepResult = { ok: true, message: '' };
  let oldServerTried = false;
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
  if (r.ok) { oldServerTried = true; r = await step('rollback-start-old', () => p.control.start()); }
  if (r.ok) r = await step('rollback-check-old', () => p.control.check('old'));
  if (!r.ok) {
    const where = `${(await exists(p.previous)) ? `the old data is in ${p.previous}` : `the old data is in ${p.live}`}${(await exists(p.failed)) ? `, the new in ${p.failed}` : ''}`;
    const what = oldServerTried ? 'the old server did not come back' : 'the old data could not be put back';
    return { ...base, outcome: 'rollback-failed', state: `ROLLBACK FAILED: ${what} (${r.message}); ${where}`, detail: `ROLLBACK FAILED (${r.message}) after ${why}; ${where}${logPart}` };
  }
  await removeTree(p.failed).catch((err: Error) => p.log.warn(`could not remove ${p.failed}: ${err.message}`));
  return { ...base, outcome: 'kept-old', state: 'rolled back, the old server answers', detail: `${why}; rolled back, the old server answers${logPart}` };
}

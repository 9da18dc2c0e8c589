// Stop the live server, put the prepared copy in place of its data directory (two renames in
// one parent directory), start it, and wait until it answers from that directory. If it does
// not: stop it, put the previous directory back, start and check that one. Every step is
// logged; a failure names its step, and says whether the old server is back (kept-old) or not
// (rollback-failed).
import * as fs from 'fs';
import type { Logger } from '../../../runtime/log';
import { previousDir, stagingDir } from './datadir';
import type { MariadbServerSettings } from './options';
import { errorSummary, processesIn, serverLogTail, type ServerCheck } from './server';
import { describeCommand, runShell } from '../server-swap/shell-command';

export type SwapStep = 'stop' | 'move the live data directory aside' | 'move the copy into place' | 'start' | 'check';

/** Failed: `message` says what the step did, `state` what the server is left as (first, in
 *  the report, which has little room), `log` the server's last error lines. */
export type SwapResult =
  | { ok: true; version: string }
  | { ok: false; step: SwapStep; message: string; rolledBack: boolean; state: string; log: string };

/** A step that failed, carrying what the report says about it. */
class StepFailure extends Error { constructor(readonly step: SwapStep, message: string) { super(message); } }

export class ServerSwap {
  constructor(private readonly s: MariadbServerSettings, private readonly check: ServerCheck, private readonly log: Logger) {}

  private get live(): string { return this.s.dataDir; }

  async run(): Promise<SwapResult> {
    const { live } = this;
    const prev = previousDir(live);
    const staged = stagingDir(live);
    try {
      await this.stop('stop');
    } catch (err) {
      const f = err as StepFailure;
      return this.bringBackOld(f.step, f.message, false);
    }
    this.step(`moving ${live} to ${prev}`);
    try { fs.renameSync(live, prev); } catch (err) {
      return this.bringBackOld('move the live data directory aside', (err as Error).message, false);
    }
    this.step(`moving ${staged} to ${live}`);
    try { fs.renameSync(staged, live); } catch (err) {
      return this.bringBackOld('move the copy into place', (err as Error).message, true);
    }
    try {
      const version = await this.startAndCheck();
      return { ok: true, version };
    } catch (err) {
      const f = err as StepFailure;
      const log = await serverLogTail(this.s);
      this.log.error(`mariadb-server: step '${f.step}' failed: ${f.message}${log ? `; the server's last log lines:\n${log}` : ''}`);
      this.log.warn('mariadb-server: rolling back to the previous data directory');
      const fail = (state: string): SwapResult => ({ ok: false, step: f.step, rolledBack: false, message: f.message, state, log: errorSummary(log) });
      try { await this.stop('stop'); } catch (e) {
        return fail(`ROLLBACK FAILED: the new server could not be stopped (${(e as Error).message}); ${live} holds the new copy, the old one is in ${prev}`);
      }
      try {
        this.step(`moving the copy that failed to ${staged}`);
        fs.renameSync(live, staged);
      } catch (e) {
        return fail(`ROLLBACK FAILED: cannot move ${live} aside (${(e as Error).message}); the old data directory is in ${prev}`);
      }
      return this.bringBackOld(f.step, f.message, true, errorSummary(log));
    }
  }

  private step(what: string): void { this.log.info(`mariadb-server: ${what}`); }

  /** Stop, and make sure nothing answers any more (moving a running server's files is fatal). */
  private async stop(step: SwapStep): Promise<void> {
    this.step(`stopping the server: ${this.s.stopCommand}`);
    const r = await runShell(this.s.stopCommand, this.s.checkTimeoutMs);
    if (r.code !== 0) {
      // A server that was not running cannot be stopped; what counts is that it is down.
      if ((await this.check.probe()).up) throw new StepFailure(step, `the stop command ${describeCommand(r, this.s.checkTimeoutMs)}`);
    }
    if (!(await this.check.waitDown(this.s.checkTimeoutMs))) throw new StepFailure(step, `the server still answers ${this.s.checkTimeoutMs / 1000} s after the stop command`);
    // Not answering is not proof (a check login can fail on a running server): nothing may
    // still run in the data directory either.
    const end = Date.now() + this.s.checkTimeoutMs;
    for (let pids = processesIn(this.live); pids.length > 0; pids = processesIn(this.live)) {
      if (Date.now() >= end) throw new StepFailure(step, `process ${pids.join(', ')} still runs in ${this.live} ${this.s.checkTimeoutMs / 1000} s after the stop command`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Start and wait until the server answers from the live data directory; its version. */
  private async startAndCheck(): Promise<string> {
    this.step(`starting the server: ${this.s.startCommand}`);
    const r = await runShell(this.s.startCommand, this.s.checkTimeoutMs);
    if (r.code !== 0) {
      // Its output goes to our log; the report gets the server's own error lines instead.
      this.log.error(`mariadb-server: the start command ${describeCommand(r, this.s.checkTimeoutMs)}`);
      throw new StepFailure('start', `the start command ${describeCommand({ ...r, output: '' }, this.s.checkTimeoutMs)}`);
    }
    this.step(`waiting (at most ${this.s.checkTimeoutMs / 1000} s) for the server to answer`);
    const p = await this.check.waitUp(this.s.checkTimeoutMs);
    if (!p.up) throw new StepFailure('check', `the server did not answer within ${this.s.checkTimeoutMs / 1000} s: ${p.error}`);
    const want = fs.realpathSync(this.live);
    if (p.datadir !== want && p.datadir !== this.live) throw new StepFailure('check', `the server that answers runs on ${p.datadir}, not ${this.live}`);
    this.step(`the server answers (MariaDB ${p.version}, data directory ${p.datadir})`);
    return p.version;
  }

  /** The old data directory back in place (from .previous when `fromPrevious`), started, checked. */
  private async bringBackOld(step: SwapStep, message: string, fromPrevious: boolean, log = ''): Promise<SwapResult> {
    const prev = previousDir(this.live);
    const result = (rolledBack: boolean, state: string, l = log): SwapResult => ({ ok: false, step, message, rolledBack, state, log: l });
    if (fromPrevious) {
      try {
        this.step(`moving ${prev} back to ${this.live}`);
        fs.renameSync(prev, this.live);
      } catch (e) {
        return result(false, `ROLLBACK FAILED: cannot move ${prev} back to ${this.live}: ${(e as Error).message}`);
      }
    }
    if ((await this.check.probe()).up) {
      // The stop step failed and the server kept running: nothing was moved.
      return result(true, 'the old server still runs, untouched');
    }
    try {
      await this.startAndCheck();
    } catch (e) {
      const oldLog = await serverLogTail(this.s);
      this.log.error(`mariadb-server: the old server did not come back: ${(e as Error).message}${oldLog ? `; its last log lines:\n${oldLog}` : ''}`);
      return result(false, `ROLLBACK FAILED: the old server did not come back (${(e as Error).message})`, errorSummary(oldLog));
    }
    return result(true, 'rolled back, the old server answers');
  }
}

// One configured job inside the daemon: when to run it, the child `dbcast send|receive` that
// does the run, and the run record afterwards. A run still going when the next is due is
// recorded as skipped, never started twice. After each run: one summary line (with the run's
// facts as log fields) and the job's on-success / on-failure hook.
import { spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { checkClockSync } from '../../runtime/clock-sync';
import { jobArgs, type JobConfig } from '../config';
import type { Logger } from '../../runtime/log';
import { appendRun, clearRunStarted, markRunStarted, resultOfExit, type RunRecord } from '../run-history';
import { runHook } from './hooks';
import type { JobView } from './metrics';
import { runSummary } from './run-summary';
import { sourceStatePath } from '../../receiver/source-state';
import { createSchedule, scheduleRuns, type JobSchedule } from './schedule';
import { nextWindow } from './window';

const BIN = path.join(__dirname, '..', '..', '..', 'bin', 'dbcast');
/** A listening receiver that fails at once is restarted after a pause that grows to this. */
const MAX_RESTART_PAUSE_MS = 60_000;
const KILL_GRACE_MS = 30_000;

export class JobRunner {
  private task: JobSchedule | null = null;
  private timer: NodeJS.Timeout | null = null;
  private child: ChildProcess | null = null;
  private stopped = false;
  private restartPauseMs = 1000;
  /** Hooks still running; stop() waits for them (each ends by its timeout). */
  private readonly hooks = new Set<Promise<void>>();
  readonly label: string;

  constructor(readonly job: JobConfig, private readonly stateDir: string, private readonly log: Logger,
    private readonly onRecord: (r: RunRecord) => void = () => undefined) {
    this.label = `${job.role} job '${job.job}'`;
  }

  private record(r: RunRecord): void {
    appendRun(this.stateDir, r);
    this.onRecord(r);
  }

  start(): void {
    const j = this.job;
    if (j.role === 'send') {
      this.task = scheduleRuns(j.schedule as string, j.timezone, () => this.runOnce());
      this.log.info(`${this.label}: scheduled "${j.schedule}"${j.timezone ? ` (${j.timezone})` : ''}, next run ${this.task.getNextRun()?.toISOString() ?? 'never'}`);
    } else if (j.schedule) {
      this.task = createSchedule(j.schedule, j.timezone);
      this.armWindow();
    } else {
      this.log.info(`${this.label}: listening for the job's sessions at all times`);
      this.runOnce();
    }
  }

  /** Scheduled receiver: listen from open-before-sec ahead of the next run to window-sec after it. */
  private armWindow(): void {
    if (this.stopped || !this.task) return;
    const now = Date.now();
    const w = nextWindow(this.task.getNextRuns(3).map((d: Date) => d.getTime()), now, this.job.openBeforeMs, this.job.windowMs);
    if (!w) { this.log.warn(`${this.label}: the schedule has no next run`); return; }
    const wait = Math.max(0, w.openAtMs - now);
    this.log.info(`${this.label}: next window ${new Date(w.openAtMs).toISOString()} to ${new Date(w.closeAtMs).toISOString()} around the run at ${new Date(w.scheduledMs).toISOString()}`);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.runOnce(['--start-timeout-sec', String(Math.max(1, Math.round((w.closeAtMs - Date.now()) / 1000)))]);
    }, wait);
  }

  /** For the metrics: when the job runs next (a scheduled receiver: the sender's time), and whether a run is going. */
  view(): JobView {
    return { job: this.job.job, role: this.job.role, nextRunMs: this.task?.getNextRun()?.getTime() ?? null, running: this.child !== null };
  }

  /** One run now; also `dbcast run` (src/run-job.ts), which stops the runner from its onRecord. */
  runOnce(extra: string[] = []): void {
    if (this.stopped) return;
    const startedAt = new Date();
    // Sortable and unique enough to find a run in logs, records and a hook's mail.
    const runId = `${startedAt.toISOString().replace(/[-:]|\.\d+/g, '')}-${randomBytes(3).toString('hex')}`;
    const meta = { job: this.job.job, role: this.job.role, runId };
    if (this.child) {
      this.log.warn(`${this.label}: the previous run is still going; this one is skipped`, meta);
      const skipped: RunRecord = { job: this.job.job, role: this.job.role, startedAt: startedAt.toISOString(), endedAt: startedAt.toISOString(), exitCode: null, ok: false, result: 'skipped', runId, note: 'skipped: the previous run is still going', report: null };
      this.record(skipped);
      this.afterRun(skipped, null);
      return;
    }
    const clock = checkClockSync();
    if (clock.state === 'not-synchronized') this.log.warn(`${this.label}: this host's clock is not synchronised (${clock.source}); scheduled runs on several hosts may miss each other`);
    const reportFile = path.join(this.stateDir, `report-${this.job.role}-${this.job.job}-${process.pid}.json`);
    fs.rmSync(reportFile, { force: true });
    // Receive jobs remember the sessions they took: one announced again is a replay.
    const seen = this.job.role === 'receive' && this.job.flags['seen-sessions'] === undefined
      ? [`--seen-sessions=${path.join(this.stateDir, `seen-sessions-${encodeURIComponent(this.job.job)}.txt`)}`] : [];
    const sourceState = this.job.role === 'receive' && this.job.flags['source-state'] === undefined
      ? [`--source-state=${sourceStatePath(this.stateDir, this.job.job)}`] : [];
    const args = [BIN, this.job.role, ...jobArgs(this.job.flags), ...extra, ...seen, ...sourceState, `--report=${reportFile}`];
    this.log.info(`${this.label}: run starts`, meta);
    // Its lines are logged here, with our time: the child leaves its own out.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DBCAST_LOG_TIMESTAMPS: '0' } });
    this.child = child;
    // For `dbcast status`: a run in progress (removed again when its record is written).
    try { if (child.pid !== undefined) markRunStarted(this.stateDir, { job: this.job.job, role: this.job.role, startedAt: startedAt.toISOString(), pid: child.pid }); } catch (err) { this.log.warn(`${this.label}: cannot mark the run as in progress: ${(err as Error).message}`); }
    let partial = '';
    child.stderr?.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) this.log.verbose(`${this.label}: ${l}`, meta);
    });
    child.on('close', (code, signal) => {
      this.child = null;
      clearRunStarted(this.stateDir, this.job.role, this.job.job);
      let report: unknown = null;
      try { report = JSON.parse(fs.readFileSync(reportFile, 'utf8')); } catch { /* no report: the run ended before one was written */ }
      if (this.stopped && this.job.role === 'receive' && !(report as { sessionId?: string | null } | null)?.sessionId) {
        fs.rmSync(reportFile, { force: true });
        this.log.info(`${this.label}: stopped while listening (no session had started)`, meta);
        return;
      }
      const result = resultOfExit(code);
      const ok = result === 'ok';
      const note = ok ? 'ok' : signal ? `killed by ${signal}` : summarize(report, code);
      const rec: RunRecord = { job: this.job.job, role: this.job.role, startedAt: startedAt.toISOString(), endedAt: new Date().toISOString(), exitCode: code, ok, result, runId, note, report };
      this.record(rec);
      const summary = runSummary(rec, signal);
      const line = `${this.label}: ${summary.text}`;
      if (ok) this.log.info(line, summary.fields); else if (result === 'degraded') this.log.warn(line, summary.fields); else this.log.error(line, summary.fields);
      if (this.job.role === 'send') this.warnClockOffsets(report);
      this.afterRun(rec, report === null ? null : reportFile);
      this.next(code);
    });
  }

  /** The job's hook for this result, if it has one; the report file (kept for it) goes afterwards. */
  private afterRun(r: RunRecord, reportFile: string | null): void {
    const done = (): void => { if (reportFile) fs.rmSync(reportFile, { force: true }); };
    const which = r.result === 'ok' ? 'on-success' : 'on-failure';
    const command = r.result === 'ok' ? this.job.hooks.onSuccess : this.job.hooks.onFailure;
    if (!command) { done(); return; }
    // Under the run id: the next run (a listening receiver starts again at once) writes its own.
    let report = '';
    if (reportFile) {
      report = path.join(this.stateDir, `hook-report-${r.runId}.json`);
      try { fs.renameSync(reportFile, report); } catch (err) { this.log.warn(`${this.label}: ${which}: cannot keep the report for the hook: ${(err as Error).message}`); report = ''; }
    }
    const meta = { job: r.job, role: r.role, runId: r.runId, hook: which };
    const env = {
      DBCAST_JOB: r.job, DBCAST_ROLE: r.role, DBCAST_RUN_ID: r.runId ?? '', DBCAST_EXIT_CODE: r.exitCode === null ? '' : String(r.exitCode),
      DBCAST_RESULT: r.result ?? '', DBCAST_REPORT: report, DBCAST_NOTE: r.note,
    };
    const timeoutSec = this.job.hooks.timeoutMs / 1000;
    const p = runHook(command, env, this.job.hooks.timeoutMs).then((h) => {
      const took = `${(h.durationMs / 1000).toFixed(1)} s`;
      const out = h.output ? `: ${h.output}` : '';
      const fields = { ...meta, hookExitCode: h.exitCode, hookDurationSec: Math.round(h.durationMs / 100) / 10, hookTimedOut: h.timedOut };
      if (h.error) this.log.error(`${this.label}: ${which} hook could not start: ${h.error}`, fields);
      else if (h.timedOut) this.log.error(`${this.label}: ${which} hook killed after hook-timeout-sec ${timeoutSec}${out}`, fields);
      else if (h.exitCode === 0) this.log.info(`${this.label}: ${which} hook done in ${took}`, fields);
      else this.log.error(`${this.label}: ${which} hook failed (${h.exitCode === null ? `killed by ${h.signal}` : `exit ${h.exitCode}`}) after ${took}${out}`, fields);
    }).finally(() => {
      if (report) fs.rmSync(report, { force: true });
      this.hooks.delete(p);
    });
    this.hooks.add(p);
  }

  private warnClockOffsets(report: unknown): void {
    const opts = this.job.options as { maxWaitMs?: number };
    const halfWindowMs = (opts.maxWaitMs ?? 0) / 2;
    const receivers = (report as { receivers?: Array<{ name: string; clockOffsetMs: number | null }> } | null)?.receivers ?? [];
    for (const r of receivers) {
      if (r.clockOffsetMs !== null && halfWindowMs > 0 && Math.abs(r.clockOffsetMs) > halfWindowMs) {
        this.log.warn(`${this.label}: receiver ${r.name}'s clock is ${(r.clockOffsetMs / 1000).toFixed(1)} s off ours: more than half of max-wait-sec`);
      }
    }
  }

  private next(code: number | null): void {
    if (this.stopped) return;
    if (this.job.role === 'send') return; // cron fires the next run
    if (this.job.schedule) { this.armWindow(); return; }
    if (code === 2) { this.log.error(`${this.label}: bad flags; not restarting (fix the config, then reload)`); return; }
    // Listening at all times: straight back to listening; pause when runs fail at once.
    const pause = code === 0 ? 0 : this.restartPauseMs;
    this.restartPauseMs = code === 0 ? 1000 : Math.min(MAX_RESTART_PAUSE_MS, this.restartPauseMs * 2);
    this.timer = setTimeout(() => { this.timer = null; this.runOnce(); }, pause);
  }

  /** Stop scheduling; a run in progress gets SIGTERM (it aborts cleanly) and is awaited, and so are running hooks. */
  async stop(finishRunning: boolean): Promise<void> {
    this.stopped = true;
    await this.task?.destroy();
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (child && !finishRunning) {
      await new Promise<void>((resolve) => {
        child.once('close', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
      });
    }
    // Each hook ends by its timeout; `dbcast run` and a stopping daemon wait for them.
    await Promise.all([...this.hooks]);
  }

  get running(): boolean { return this.child !== null; }
}

function summarize(report: unknown, code: number | null): string {
  const r = report as { outcome?: string; message?: string; abortReason?: string; abortMessage?: string; degradedReason?: string | null; receivers?: Array<{ name: string; outcome: string; code: string; detail: string }> } | null;
  if (!r) return `exit ${code}, no report`;
  if (r.receivers) {
    // Missing receivers are named in degradedReason (or, before a start, in abortMessage).
    const bad = r.receivers.filter((x) => x.outcome !== 'ok' && x.outcome !== 'missing').map((x) => `${x.name}: ${x.code}${x.detail ? ` (${x.detail})` : ''}`);
    return [r.abortReason ? `${r.abortReason}: ${r.abortMessage}` : '', r.degradedReason ? `degraded: ${r.degradedReason}` : '', ...bad].filter(Boolean).join('; ') || `exit ${code}`;
  }
  return `${r.outcome}: ${r.message}`;
}

// `dbcast run JOB --config FILE`: one run of a configured job now, through the daemon's job
// runner (same child command line, run record and summary line), then exit with the run's exit
// code. For systemd timers (systemd/dbcast-run@.timer) in place of the daemon's own schedule.
import * as fs from 'fs';
import { EXIT } from '../runtime/exit-codes';
import { createLogger } from '../runtime/log';
import { ConfigError, loadConfig, type DaemonConfig, type JobConfig } from './config';
import { JobRunner } from './daemon/job-runner';
import type { RunRecord } from './run-history';

export type Role = 'send' | 'receive';

function describeJob(j: JobConfig): string { return `${j.role} ${j.job}`; }

/** The one job `dbcast run` means, or a message naming what the config has. */
export function pickJob(config: DaemonConfig, name: string, role: Role | undefined): JobConfig | string {
  const named = config.jobs.filter((j) => j.job === name);
  const matches = named.filter((j) => role === undefined || j.role === role);
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) return `${config.file} has both a send and a receive job named ${name}; add --role send or --role receive`;
  const have = config.jobs.map(describeJob).join(', ');
  return `${config.file} has no ${role ? `${role} ` : ''}job named ${name}; its jobs: ${have}`;
}

/** A scheduled receiver started by its timer listens for its whole window (open-before-sec plus window-sec). */
function extraArgs(job: JobConfig): string[] {
  if (job.role !== 'receive' || !job.schedule) return [];
  return ['--start-timeout-sec', String(Math.max(1, Math.round((job.openBeforeMs + job.windowMs) / 1000)))];
}

export async function runJob(configFile: string, name: string, role: Role | undefined): Promise<number> {
  let config: DaemonConfig;
  try { config = loadConfig(configFile); } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`dbcast run: ${err.message}\n`); return EXIT.USAGE; }
    throw err;
  }
  const job = pickJob(config, name, role);
  if (typeof job === 'string') { process.stderr.write(`dbcast run: ${job}\n`); return EXIT.USAGE; }
  const log = createLogger('run', config.logLevel, config.logFormat);
  try { fs.mkdirSync(config.stateDir, { recursive: true, mode: 0o750 }); } catch (err) {
    log.error(`state-dir ${config.stateDir}: ${(err as Error).message}`); return EXIT.USAGE;
  }
  return new Promise<number>((resolve) => {
    let record: RunRecord | null = null;
    // Exit code null: the child was killed by a signal.
    const codeOf = (r: RunRecord | null): number => (r ? r.exitCode ?? EXIT.INTERNAL : EXIT.OK);
    const runner = new JobRunner(job, config.stateDir, log, (r) => {
      record = r;
      // Stopping before the runner's next step keeps it from re-arming a schedule or listening again.
      void runner.stop(true).then(() => resolve(codeOf(r)));
    });
    // systemctl stop: end the run cleanly (receivers are told, restores keep the old database).
    const onSignal = (): void => { void runner.stop(false).then(() => resolve(codeOf(record))); };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    runner.runOnce(extraArgs(job));
  });
}

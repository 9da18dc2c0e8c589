// `dbcast daemon --config FILE`: runs every configured job on its schedule. SIGTERM/SIGINT:
// stop scheduling, let running transfers abort cleanly (their receivers are told), exit.
// SIGHUP: re-read the config; a bad one is logged and the old one kept.
import * as fs from 'fs';
import * as path from 'path';
import { checkClockSync } from '../../runtime/clock-sync';
import { ConfigError, loadConfig, type DaemonConfig } from '../config';
import { EXIT } from '../../runtime/exit-codes';
import { createLogger, type Logger } from '../../runtime/log';
import { appendRun, readRuns, type RunRecord } from '../run-history';
import { JobRunner } from './job-runner';
import { DaemonMetrics } from './metrics';
import { missedRecord, missedRuns } from './missed-runs';

const LOCK_FILE = 'daemon.pid';

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** One daemon per state directory: its run records and reports would mix. */
function takeLock(stateDir: string): string | null {
  const file = path.join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try { fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' }); return null; } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return `cannot write ${file}: ${(err as Error).message}`;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (pid && pidAlive(pid) && pid !== process.pid) return `another dbcast daemon (pid ${pid}) uses ${stateDir}`;
      fs.rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  return `cannot take ${file}`;
}

/** Runs scheduled while the daemon was down: a warning and a record each job; the jobs to catch up. */
function reportMissedRuns(config: DaemonConfig, history: RunRecord[], log: Logger, onRecord: (r: RunRecord) => void): Set<DaemonConfig['jobs'][number]> {
  const catchUp = new Set<DaemonConfig['jobs'][number]>();
  const nowMs = Date.now();
  for (const job of config.jobs) {
    const missed = missedRuns(job, history, nowMs);
    if (!missed) continue;
    const record = missedRecord(job, missed, nowMs, job.catchUp);
    log.warn(`${job.role} job '${job.job}': ${record.note}${job.catchUp ? '' : ' (catch-up: true would run it once at start)'}`);
    try { appendRun(config.stateDir, record); } catch (err) { log.error(`run record: ${(err as Error).message}`); }
    onRecord(record);
    if (job.catchUp) catchUp.add(job);
  }
  return catchUp;
}

export async function runDaemon(configFile: string): Promise<number> {
  let config: DaemonConfig;
  try { config = loadConfig(configFile); } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`dbcast daemon: ${err.message}\n`); return EXIT.USAGE; }
    throw err;
  }
  const log: Logger = createLogger('daemon', config.logLevel, config.logFormat);
  try { fs.mkdirSync(config.stateDir, { recursive: true, mode: 0o750 }); } catch (err) {
    log.error(`state-dir ${config.stateDir}: ${(err as Error).message}`); return EXIT.USAGE;
  }
  const lockProblem = takeLock(config.stateDir);
  if (lockProblem) { log.error(lockProblem); return EXIT.INTERNAL; }
  const clock = checkClockSync();
  if (clock.state === 'synchronized') log.info(`clock synchronised (${clock.source})`);
  else log.warn(`clock ${clock.state === 'unknown' ? 'synchronisation unknown' : 'NOT synchronised'} (${clock.source}): scheduled runs rely on synchronised clocks`);

  const metrics = new DaemonMetrics();
  const history = readRuns(config.stateDir);
  for (const r of history) metrics.seed(r); // last success survives restarts
  let server: import('http').Server | null = null;
  if (config.metricsListen) {
    try {
      server = await metrics.listen(config.metricsListen);
      log.info(`metrics on http://${config.metricsListen.host}:${config.metricsListen.port}/metrics`);
    } catch (err) {
      log.error(`metrics-listen ${config.metricsListen.host}:${config.metricsListen.port}: ${(err as Error).message}`);
      fs.rmSync(path.join(config.stateDir, LOCK_FILE), { force: true });
      return EXIT.USAGE;
    }
  }
  const onRecord = (r: Parameters<DaemonMetrics['record']>[0]): void => metrics.record(r);
  let runners = config.jobs.map((j) => new JobRunner(j, config.stateDir, log, onRecord));
  metrics.watch(() => runners.map((r) => r.view())); // next run and in progress, at each scrape
  const catchUp = reportMissedRuns(config, history, log, onRecord);
  runners.forEach((r) => r.start());
  for (const r of runners) if (catchUp.has(r.job)) r.runOnce();
  log.info(`daemon started with ${runners.length} job(s) from ${configFile}; run records in ${path.join(config.stateDir, 'runs.jsonl')}`);

  const onHup = (): void => {
    let next: DaemonConfig;
    try { next = loadConfig(configFile); } catch (err) {
      log.error(`SIGHUP: keeping the running config: ${(err as Error).message}`); return;
    }
    if (next.stateDir !== config.stateDir) { log.error('SIGHUP: state-dir cannot change on reload; restart the daemon'); return; }
    // Running transfers finish under the old runner; new runs follow the new config.
    const old = runners;
    config = next;
    runners = next.jobs.map((j) => new JobRunner(j, next.stateDir, log, onRecord));
    void Promise.all(old.map((r) => r.stop(true))).then(() => runners.forEach((r) => r.start()));
    log.info(`SIGHUP: config reloaded, ${runners.length} job(s)`);
  };
  process.on('SIGHUP', onHup);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  process.off('SIGHUP', onHup);
  const busy = runners.filter((r) => r.running).map((r) => r.label);
  log.info(`${signal}: stopping${busy.length ? `; ending the running ${busy.join(', ')}` : ''}`);
  await Promise.all(runners.map((r) => r.stop(false)));
  server?.close();
  fs.rmSync(path.join(config.stateDir, LOCK_FILE), { force: true });
  log.info('daemon stopped');
  return EXIT.OK;
}

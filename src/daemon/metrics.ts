// The daemon's optional Prometheus endpoint (top-level `metrics-listen: 127.0.0.1:9187`):
// per job and receiver, from each run's record. prom-client keeps the exposition format
// right (escaping `\`, `"` and newlines in label values, types, HELP lines) so we do not write
// it by hand. Receiver names come from the sender's report, i.e. from JOINs the protocol
// decoded and validated (at most MAX_NAME_BYTES of text); we take them as they are.
//
// The job's label is `dbcast_job`: Prometheus sets `job` itself (the scrape job) and would
// rename ours to `exported_job`. Counters count the runs this daemon process saw (Prometheus'
// rate()/increase() handle the reset at a restart); the last-run gauges are seeded from
// runs.jsonl at start, so the last success survives a restart.
//
// Per-receiver series are bounded: a receiver the job's latest run did not list reads
// receiver_ok 0 (it did not succeed in that run) and loses its repairs and clock-offset
// series (they described a run it was not in); its last-seen time stays where it was, so an
// alert on its age fires. One missing from the job's runs for RECEIVER_SERIES_TTL_MS and
// RECEIVER_SERIES_MISSED_RUNS runs is dropped altogether; and a job keeps at most
// MAX_RECEIVER_SERIES_PER_JOB receivers, the least recently seen going first. Time is the run
// records' own (endedAt), so seeding from runs.jsonl gives the series the daemon had before.
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { Counter, Gauge, Registry } from 'prom-client';
import { runResult, type RunRecord } from '../run-history';

/** As many receivers as one session admits (the sender's maxReceivers): one full run always fits. */
export const MAX_RECEIVER_SERIES_PER_JOB = 256;
/** Both a week and 3 runs: a frequent job keeps a vanished replica visible (receiver_ok 0) over
 *  a long weekend, and a weekly job does not forget it at its first missed run. */
export const RECEIVER_SERIES_TTL_MS = 7 * 24 * 3600 * 1000;
export const RECEIVER_SERIES_MISSED_RUNS = 3;

interface SeenReceiver { lastListedMs: number; missedRuns: number }

interface ReceiverLine { name: string; outcome: string; bytes: number; repairsRequested: number; clockOffsetMs: number | null }
interface ReportShape { totalBytes?: number; bytesDelivered?: number; repairPacketsSent?: number; repairsRequested?: number; dropped?: Record<string, number>; receivers?: ReceiverLine[] }

/** What the daemon's scheduler says about a job right now, read at each scrape. */
export interface JobView { job: string; role: string; nextRunMs: number | null; running: boolean }

/** The results dbcast_runs_total counts (skipped and missed runs have their own counter). */
export const RUN_RESULTS = ['ok', 'degraded', 'failed'] as const;
const JOB = ['dbcast_job', 'role'] as const;
const RECEIVER = ['dbcast_job', 'receiver'] as const;

/** The version in dbcast's package.json (src/daemon/ in a checkout, dist/src/daemon/ when built). */
export function packageVersion(from = __dirname): string {
  for (let dir = from, i = 0; i < 4; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dbcast' && typeof pkg.version === 'string') return pkg.version;
    } catch { /* not here: one level up */ }
  }
  return 'unknown';
}

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly lastSuccess = new Gauge({ name: 'dbcast_last_success_timestamp_seconds', help: 'End of the last successful run (a degraded run is not one)', labelNames: JOB, registers: [this.registry] });
  private readonly lastRun = new Gauge({ name: 'dbcast_last_run_timestamp_seconds', help: 'End of the last run, successful or not', labelNames: JOB, registers: [this.registry] });
  private readonly lastOk = new Gauge({ name: 'dbcast_last_run_ok', help: '1 if the last run succeeded (0 when it failed or was degraded)', labelNames: JOB, registers: [this.registry] });
  private readonly bytes = new Gauge({ name: 'dbcast_last_run_bytes', help: 'Payload bytes of the last run', labelNames: JOB, registers: [this.registry] });
  private readonly duration = new Gauge({ name: 'dbcast_last_run_duration_seconds', help: 'Duration of the last run', labelNames: JOB, registers: [this.registry] });
  private readonly repairs = new Gauge({ name: 'dbcast_last_run_repairs', help: 'Repair packets sent (sender) or asked for (receiver) in the last run', labelNames: JOB, registers: [this.registry] });
  private readonly dropped = new Gauge({ name: 'dbcast_last_run_dropped_packets', help: 'Packets dropped as invalid or foreign in the last run', labelNames: [...JOB, 'reason'], registers: [this.registry] });
  private readonly runs = new Counter({ name: 'dbcast_runs_total', help: 'Runs since the daemon started, by result (ok, degraded, failed)', labelNames: [...JOB, 'result'], registers: [this.registry] });
  private readonly notStarted = new Counter({ name: 'dbcast_runs_not_started_total', help: 'Scheduled runs not started since the daemon started, by reason (skipped: the previous run was still going; missed: reported at start, the daemon was down at their time)', labelNames: [...JOB, 'reason'], registers: [this.registry] });
  private readonly bytesTotal = new Counter({ name: 'dbcast_bytes_total', help: 'Payload bytes of the runs since the daemon started', labelNames: JOB, registers: [this.registry] });
  private readonly repairsTotal = new Counter({ name: 'dbcast_repairs_total', help: 'Repair packets sent (sender) or asked for (receiver) since the daemon started', labelNames: JOB, registers: [this.registry] });
  private readonly receiverOk = new Gauge({ name: 'dbcast_receiver_ok', help: 'Sender: 1 if this receiver succeeded in the last run (0 also when it was not in it or never joined)', labelNames: RECEIVER, registers: [this.registry] });
  private readonly receiverSeen = new Gauge({ name: 'dbcast_receiver_last_seen_timestamp_seconds', help: 'Sender: end of the last run this receiver joined (stays put while it does not come)', labelNames: RECEIVER, registers: [this.registry] });
  private readonly receiverRepairs = new Gauge({ name: 'dbcast_receiver_repairs_requested', help: 'Sender: repairs this receiver asked for in the last run', labelNames: RECEIVER, registers: [this.registry] });
  private readonly receiverOffset = new Gauge({ name: 'dbcast_receiver_clock_offset_seconds', help: 'Sender: the receiver clock minus ours, measured at join', labelNames: RECEIVER, registers: [this.registry] });

  /** Per job: the receivers that have series, least recently listed first (Map order). */
  private readonly known = new Map<string, Map<string, SeenReceiver>>();
  private jobs: () => JobView[] = () => [];

  constructor(version = packageVersion()) {
    new Gauge({ name: 'dbcast_build_info', help: 'Always 1; the labels say which dbcast and Node run', labelNames: ['version', 'nodejs_version'], registers: [this.registry] })
      .set({ version, nodejs_version: process.versions.node }, 1);
    const jobs = (): JobView[] => this.jobs();
    const runs = this.runs;
    new Gauge({
      name: 'dbcast_next_run_timestamp_seconds', help: 'When the job runs next by its schedule (no series: not scheduled)', labelNames: JOB, registers: [this.registry],
      collect(this: Gauge<'dbcast_job' | 'role'>) {
        this.reset();
        for (const j of jobs()) {
          if (j.nextRunMs !== null) this.set({ dbcast_job: j.job, role: j.role }, j.nextRunMs / 1000);
          // Every configured job has its counters from the start, so increase() sees its first run.
          for (const result of RUN_RESULTS) runs.inc({ dbcast_job: j.job, role: j.role, result }, 0);
        }
      },
    });
    new Gauge({
      name: 'dbcast_run_in_progress', help: '1 while a run of the job is going (an always-listening receiver: while it listens)', labelNames: JOB, registers: [this.registry],
      collect(this: Gauge<'dbcast_job' | 'role'>) {
        this.reset();
        for (const j of jobs()) this.set({ dbcast_job: j.job, role: j.role }, j.running ? 1 : 0);
      },
    });
  }

  /** The configured jobs, read at every scrape (a reload replaces them). */
  watch(jobs: () => JobView[]): void { this.jobs = jobs; }

  /** Receivers of `job` that currently have series (for tests and debugging). */
  receiversOf(job: string): string[] {
    return [...(this.known.get(job)?.keys() ?? [])];
  }

  /** A past run from runs.jsonl, at start: the last-run gauges, not the counters. */
  seed(r: RunRecord): void { this.apply(r, false); }

  /** A run that just ended. */
  record(r: RunRecord): void { this.apply(r, true); }

  private apply(r: RunRecord, count: boolean): void {
    const l = { dbcast_job: r.job, role: r.role };
    const result = runResult(r);
    // Not runs: the last-run gauges stay as they were.
    if (result === 'skipped' || result === 'missed') { if (count) this.notStarted.inc({ ...l, reason: result }); return; }
    const end = Date.parse(r.endedAt) / 1000;
    this.lastRun.set(l, end);
    this.lastOk.set(l, result === 'ok' ? 1 : 0);
    if (result === 'ok') this.lastSuccess.set(l, end);
    this.duration.set(l, end - Date.parse(r.startedAt) / 1000);
    if (count) this.runs.inc({ ...l, result });
    const rep = r.report as ReportShape | null;
    if (!rep) return;
    const bytes = rep.totalBytes ?? rep.bytesDelivered ?? 0;
    const repairs = rep.repairPacketsSent ?? rep.repairsRequested ?? 0;
    this.bytes.set(l, bytes);
    this.repairs.set(l, repairs);
    if (count && bytes >= 0) this.bytesTotal.inc(l, bytes);
    if (count && repairs >= 0) this.repairsTotal.inc(l, repairs);
    for (const [reason, n] of Object.entries(rep.dropped ?? {})) this.dropped.set({ ...l, reason }, n);
    // Only a sender's report lists receivers; a run without one leaves them as they were.
    if (Array.isArray(rep.receivers)) this.recordReceivers(r.job, Number.isFinite(end) ? end * 1000 : 0, rep.receivers);
  }

  private recordReceivers(job: string, endMs: number, lines: ReceiverLine[]): void {
    let known = this.known.get(job);
    if (!known) { known = new Map(); this.known.set(job, known); }
    const inRun = new Set<string>();
    for (const x of lines) {
      if (typeof x?.name !== 'string' || inRun.has(x.name)) continue; // a damaged record, or a name twice
      inRun.add(x.name);
      const rl = { dbcast_job: job, receiver: x.name };
      this.receiverOk.set(rl, x.outcome === 'ok' ? 1 : 0);
      // An expected receiver that never joined (outcome missing) keeps its series, but was not seen.
      if (x.outcome !== 'missing') this.receiverSeen.set(rl, endMs / 1000);
      if (typeof x.repairsRequested === 'number' && x.outcome !== 'missing') this.receiverRepairs.set(rl, x.repairsRequested); else this.receiverRepairs.remove(rl);
      if (typeof x.clockOffsetMs === 'number') this.receiverOffset.set(rl, x.clockOffsetMs / 1000); else this.receiverOffset.remove(rl);
      known.delete(x.name); // re-insert: Map order is recency
      known.set(x.name, { lastListedMs: endMs, missedRuns: 0 });
    }
    for (const [name, seen] of known) {
      if (inRun.has(name)) continue;
      seen.missedRuns++;
      if (seen.missedRuns >= RECEIVER_SERIES_MISSED_RUNS && endMs - seen.lastListedMs >= RECEIVER_SERIES_TTL_MS) {
        this.dropReceiver(job, name);
        continue;
      }
      const rl = { dbcast_job: job, receiver: name };
      this.receiverOk.set(rl, 0);
      this.receiverRepairs.remove(rl);
      this.receiverOffset.remove(rl);
    }
    for (const name of known.keys()) {
      if (known.size <= MAX_RECEIVER_SERIES_PER_JOB) break;
      this.dropReceiver(job, name);
    }
  }

  private dropReceiver(job: string, name: string): void {
    const rl = { dbcast_job: job, receiver: name };
    this.receiverOk.remove(rl);
    this.receiverSeen.remove(rl);
    this.receiverRepairs.remove(rl);
    this.receiverOffset.remove(rl);
    this.known.get(job)?.delete(name);
  }

  /** Serve /metrics; resolves once listening. */
  listen(hostPort: { host: string; port: number }): Promise<http.Server> {
    const server = http.createServer((req, res) => {
      if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(`${err.message}\n`),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(hostPort.port, hostPort.host, () => resolve(server));
    });
  }
}

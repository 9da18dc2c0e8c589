// The daemon's optional Prometheus endpoint (top-level `metrics-listen: 127.0.0.1:9187`):
// per job and receiver, from each run's record. prom-client keeps the exposition format
// right (escaping `\`, `"` and newlines in label values, types, HELP lines) so we do not write
// it by hand. Receiver names come from the sender's report, i.e. from JOINs the protocol
// decoded and validated (at most MAX_NAME_BYTES of text); we take them as they are.
//
// Per-receiver series are bounded: a receiver the job's latest run did not list reads
// receiver_ok 0 (it did not succeed in that run) and loses its repairs and clock-offset
// series (they described a run it was not in); one missing from the job's runs for
// RECEIVER_SERIES_TTL_MS and RECEIVER_SERIES_MISSED_RUNS runs is dropped altogether; and a job
// keeps at most MAX_RECEIVER_SERIES_PER_JOB receivers, the least recently seen going first.
// Time is the run records' own (endedAt), so seeding from runs.jsonl at start gives the
// same series as the daemon had before it restarted.
import * as http from 'http';
import { Gauge, Registry } from 'prom-client';
import type { RunRecord } from '../run-history';

/** As many receivers as one session admits (the sender's maxReceivers): one full run always fits. */
export const MAX_RECEIVER_SERIES_PER_JOB = 256;
/** Both a week and 3 runs: a frequent job keeps a vanished replica visible (receiver_ok 0) over
 *  a long weekend, and a weekly job does not forget it at its first missed run. */
export const RECEIVER_SERIES_TTL_MS = 7 * 24 * 3600 * 1000;
export const RECEIVER_SERIES_MISSED_RUNS = 3;

interface SeenReceiver { lastSeenMs: number; missedRuns: number }

interface ReceiverLine { name: string; outcome: string; bytes: number; repairsRequested: number; clockOffsetMs: number | null }
interface ReportShape { totalBytes?: number; bytesDelivered?: number; repairPacketsSent?: number; repairsRequested?: number; dropped?: Record<string, number>; receivers?: ReceiverLine[] }

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly lastSuccess = new Gauge({ name: 'dbcast_last_success_timestamp_seconds', help: 'End of the last successful run', labelNames: ['job', 'role'], registers: [this.registry] });
  private readonly lastRun = new Gauge({ name: 'dbcast_last_run_timestamp_seconds', help: 'End of the last run, successful or not', labelNames: ['job', 'role'], registers: [this.registry] });
  private readonly lastOk = new Gauge({ name: 'dbcast_last_run_ok', help: '1 if the last run succeeded', labelNames: ['job', 'role'], registers: [this.registry] });
  private readonly bytes = new Gauge({ name: 'dbcast_last_run_bytes', help: 'Payload bytes of the last run', labelNames: ['job', 'role'], registers: [this.registry] });
  private readonly duration = new Gauge({ name: 'dbcast_last_run_duration_seconds', help: 'Duration of the last run', labelNames: ['job', 'role'], registers: [this.registry] });
  private readonly repairs = new Gauge({ name: 'dbcast_last_run_repairs', help: 'Repair packets sent (sender) or asked for (receiver) in the last run', labelNames: ['job', 'role'], registers: [this.registry] });
  private readonly dropped = new Gauge({ name: 'dbcast_last_run_dropped_packets', help: 'Packets dropped as invalid or foreign in the last run', labelNames: ['job', 'role', 'reason'], registers: [this.registry] });
  private readonly receiverOk = new Gauge({ name: 'dbcast_receiver_ok', help: 'Sender: 1 if this receiver succeeded in the last run (0 also when it was not in it)', labelNames: ['job', 'receiver'], registers: [this.registry] });
  private readonly receiverRepairs = new Gauge({ name: 'dbcast_receiver_repairs_requested', help: 'Sender: repairs this receiver asked for in the last run', labelNames: ['job', 'receiver'], registers: [this.registry] });
  private readonly receiverOffset = new Gauge({ name: 'dbcast_receiver_clock_offset_seconds', help: 'Sender: the receiver clock minus ours, measured at join', labelNames: ['job', 'receiver'], registers: [this.registry] });

  /** Per job: the receivers that have series, least recently seen first (Map order). */
  private readonly known = new Map<string, Map<string, SeenReceiver>>();

  /** Receivers of `job` that currently have series (for tests and debugging). */
  receiversOf(job: string): string[] {
    return [...(this.known.get(job)?.keys() ?? [])];
  }

  record(r: RunRecord): void {
    if (r.note.startsWith('skipped')) return;
    const l = { job: r.job, role: r.role };
    const end = Date.parse(r.endedAt) / 1000;
    this.lastRun.set(l, end);
    this.lastOk.set(l, r.ok ? 1 : 0);
    if (r.ok) this.lastSuccess.set(l, end);
    this.duration.set(l, end - Date.parse(r.startedAt) / 1000);
    const rep = r.report as ReportShape | null;
    if (!rep) return;
    this.bytes.set(l, rep.totalBytes ?? rep.bytesDelivered ?? 0);
    this.repairs.set(l, rep.repairPacketsSent ?? rep.repairsRequested ?? 0);
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
      const rl = { job, receiver: x.name };
      this.receiverOk.set(rl, x.outcome === 'ok' ? 1 : 0);
      if (typeof x.repairsRequested === 'number') this.receiverRepairs.set(rl, x.repairsRequested); else this.receiverRepairs.remove(rl);
      if (typeof x.clockOffsetMs === 'number') this.receiverOffset.set(rl, x.clockOffsetMs / 1000); else this.receiverOffset.remove(rl);
      known.delete(x.name); // re-insert: Map order is recency
      known.set(x.name, { lastSeenMs: endMs, missedRuns: 0 });
    }
    for (const [name, seen] of known) {
      if (inRun.has(name)) continue;
      seen.missedRuns++;
      if (seen.missedRuns >= RECEIVER_SERIES_MISSED_RUNS && endMs - seen.lastSeenMs >= RECEIVER_SERIES_TTL_MS) {
        this.dropReceiver(job, name);
        continue;
      }
      const rl = { job, receiver: name };
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
    const rl = { job, receiver: name };
    this.receiverOk.remove(rl);
    this.receiverRepairs.remove(rl);
    this.receiverOffset.remove(rl);
    this.known.get(job)?.delete(name);
  }

  /** Serve /metrics; resolves once listening. */
  listen(hostPort: { host: string; port: number }): Promise<http.Server> {
    const server = http.createServer((req, res) => {
      if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
      void this.registry.metrics().then((body) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(hostPort.port, hostPort.host, () => resolve(server));
    });
  }
}

// The daemon's optional Prometheus endpoint (top-level `metrics-listen: 127.0.0.1:9187`):
// per job and receiver, from each run's record. prom-client keeps the exposition format
// right (escaping, types, HELP lines) so we do not write it by hand.
import * as http from 'http';
import { Gauge, Registry } from 'prom-client';
import type { RunRecord } from '../run-history';

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
  private readonly receiverOk = new Gauge({ name: 'dbcast_receiver_ok', help: 'Sender: 1 if this receiver succeeded in the last run', labelNames: ['job', 'receiver'], registers: [this.registry] });
  private readonly receiverRepairs = new Gauge({ name: 'dbcast_receiver_repairs_requested', help: 'Sender: repairs this receiver asked for in the last run', labelNames: ['job', 'receiver'], registers: [this.registry] });
  private readonly receiverOffset = new Gauge({ name: 'dbcast_receiver_clock_offset_seconds', help: 'Sender: the receiver clock minus ours, measured at join', labelNames: ['job', 'receiver'], registers: [this.registry] });

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
    for (const x of rep.receivers ?? []) {
      const rl = { job: r.job, receiver: x.name };
      this.receiverOk.set(rl, x.outcome === 'ok' ? 1 : 0);
      this.receiverRepairs.set(rl, x.repairsRequested);
      if (x.clockOffsetMs !== null) this.receiverOffset.set(rl, x.clockOffsetMs / 1000);
    }
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

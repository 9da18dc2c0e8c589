// Human-readable summaries for stderr, and the JSON report file.
import type { SenderReport } from '../protocol';
import { REPORT_FILE_MODE, writeFileAtomic } from './safe-file';

const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);

export function formatSenderReport(r: SenderReport, exitCode: number): string {
  const seconds = r.startedAtMs !== null && r.endedAtMs !== null ? (r.endedAtMs - r.startedAtMs) / 1000 : 0;
  const rate = seconds > 0 ? ` (${mib(r.totalBytes / seconds)} MiB/s)` : '';
  const lines = [
    `session ${r.sessionId} job '${r.job}': ${r.outcome}${r.abortReason ? ` (${r.abortReason}: ${r.abortMessage})` : ''}, ` +
      `${r.totalBytes} bytes in ${seconds.toFixed(2)} s${rate}, sha256 ${r.sha256 ?? '-'}, ` +
      `${r.dataPacketsSent} data + ${r.repairPacketsSent} repair packets, exit ${exitCode}`,
  ];
  const ok = r.receivers.filter((x) => x.outcome === 'ok').length;
  lines.push(`  receivers: ${ok} ok of ${Math.max(r.expectedReceivers, r.receivers.length)} expected` +
    `${r.receiversAtStart === null ? '' : `, ${r.receiversAtStart} at the start`}`);
  if (r.degraded) lines.push(`  DEGRADED: ${r.degradedReason}`);
  const rows = [['receiver', 'outcome', 'code', 'bytes', 'sha256', 'repairs', 'pipe-exit', 'restore', 'seconds', 'detail']];
  for (const x of r.receivers) {
    rows.push([
      x.address ? `${x.name}@${x.address}` : x.name, x.outcome, x.code, String(x.bytes), x.sha256Ok ? 'ok' : '-',
      String(x.repairsRequested), x.sinkExitCode === null ? '-' : String(x.sinkExitCode), x.restore ?? '-',
      x.durationMs === null ? '-' : (x.durationMs / 1000).toFixed(2), x.detail,
    ]);
  }
  // A refused JOIN of an expected name already has its missing row.
  const shown = new Set(r.receivers.map((x) => `${x.name}@${x.address}`));
  for (const x of r.refused.filter((y) => !shown.has(`${y.name}@${y.address}`))) rows.push([`${x.name}@${x.address}`, 'refused', x.reason, '-', '-', '-', '-', '-', '-', '']);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) lines.push('  ' + row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
  return lines.join('\n');
}

/** Write JSON atomically (a reader never sees half a report) through a new temp file no one else can steer. */
export function writeJsonFile(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n', REPORT_FILE_MODE);
}

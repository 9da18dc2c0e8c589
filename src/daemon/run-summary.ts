// The daemon's one line per run: result, exit, duration, size, receivers ok of expected,
// restore outcome, and the same facts as structured log fields. Pure.
import type { RunRecord } from '../run-history';
import { runResult } from '../run-history';

interface ReportShape {
  sessionId?: string | null;
  totalBytes?: number;
  bytesDelivered?: number;
  expectedReceivers?: number;
  restore?: string | null;
  receivers?: Array<{ outcome?: string; restore?: string | null }>;
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

export function runSummary(r: RunRecord, signal: string | null = null): { text: string; fields: Record<string, unknown> } {
  const result = runResult(r);
  const durationSec = Math.round((Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 100) / 10;
  const rep = (r.report ?? {}) as ReportShape;
  const fields: Record<string, unknown> = { job: r.job, role: r.role, runId: r.runId, result, exitCode: r.exitCode, durationSec };
  const parts = [`in ${durationSec.toFixed(1)} s`];
  if (signal) fields.signal = signal;
  if (rep.sessionId) fields.session = rep.sessionId;
  const bytes = rep.totalBytes ?? rep.bytesDelivered;
  if (typeof bytes === 'number') { fields.bytes = bytes; parts.push(mib(bytes)); }
  if (Array.isArray(rep.receivers)) {
    const ok = rep.receivers.filter((x) => x?.outcome === 'ok').length;
    const expected = typeof rep.expectedReceivers === 'number' ? Math.max(rep.expectedReceivers, rep.receivers.filter((x) => x?.outcome !== 'missing').length) : rep.receivers.length;
    fields.receiversOk = ok;
    fields.receiversExpected = expected;
    parts.push(`receivers ${ok}/${expected} ok`);
    const restores = new Map<string, number>();
    for (const x of rep.receivers) if (x?.restore) restores.set(x.restore, (restores.get(x.restore) ?? 0) + 1);
    if (restores.size > 0) {
      fields.restore = Object.fromEntries(restores);
      parts.push(`restore ${[...restores].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    }
  } else if (rep.restore) {
    fields.restore = rep.restore;
    parts.push(`restore ${rep.restore}`);
  }
  const exit = r.exitCode ?? signal ?? '-';
  const text = `run ${result === 'ok' ? 'succeeded' : result} (exit ${exit}) ${parts.join(', ')}${result === 'ok' ? '' : `: ${r.note}`}`;
  return { text, fields };
}

// Drops whole lines from a byte stream, judged by their first bytes only, so multi-megabyte
// INSERT lines pass through as slices without being buffered or decoded.

export type LineVerdict = 'keep' | 'drop' | { fail: string };

export class LineFilter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private mode: 'deciding' | 'keeping' | 'dropping' = 'deciding';
  failure: string | null = null;

  constructor(private readonly judge: (linePrefix: string) => LineVerdict, private readonly prefixBytes = 128) {}

  /** The bytes to pass on for this chunk (slices of it where possible). */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length && this.failure === null) {
      if (this.mode !== 'deciding') {
        const nl = chunk.indexOf(10, i);
        const end = nl < 0 ? chunk.length : nl + 1;
        if (this.mode === 'keeping') out.push(chunk.subarray(i, end));
        if (nl >= 0) this.mode = 'deciding';
        i = end;
        continue;
      }
      const need = this.prefixBytes - this.pendingBytes;
      const window = chunk.subarray(i, Math.min(chunk.length, i + need));
      const nl = window.indexOf(10);
      if (nl >= 0) {
        this.take(window.subarray(0, nl + 1));
        this.decide(out, true);
        i += nl + 1;
      } else if (window.length === need) {
        this.take(window);
        this.decide(out, false);
        i += need;
      } else {
        this.take(window);
        i = chunk.length;
      }
    }
    return out;
  }

  /** End of stream: a last line without a newline is judged too. */
  end(): Buffer[] {
    const out: Buffer[] = [];
    if (this.mode === 'deciding' && this.pendingBytes > 0 && this.failure === null) this.decide(out, true);
    return out;
  }

  private take(b: Buffer): void { this.pending.push(b); this.pendingBytes += b.length; }

  private decide(out: Buffer[], lineEnded: boolean): void {
    const line = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = []; this.pendingBytes = 0;
    const verdict = this.judge(line.toString('utf8'));
    if (typeof verdict === 'object') { this.failure = verdict.fail; return; }
    if (verdict === 'keep') out.push(line);
    if (!lineEnded) this.mode = verdict === 'keep' ? 'keeping' : 'dropping';
  }
}

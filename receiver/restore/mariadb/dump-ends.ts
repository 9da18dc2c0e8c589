// The first and last bytes of a dump: where mariadb-dump puts replication coordinates (the
// header and the trailer). Read back from the spool, or kept while streaming; bounded either way.
import * as fs from 'fs';

export const END_BYTES = 64 << 10;

/** Head and tail of a file as text (the whole file when it is small). */
export function readEnds(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const read = (at: number, n: number): Buffer => { const b = Buffer.alloc(n); return b.subarray(0, fs.readSync(fd, b, 0, n, at)); };
    if (size <= 2 * END_BYTES) return read(0, size).toString('utf8');
    return `${read(0, END_BYTES).toString('utf8')}\n${read(size - END_BYTES, END_BYTES).toString('utf8')}`;
  } finally {
    fs.closeSync(fd);
  }
}

/** The same while streaming: the first END_BYTES, and a rolling last END_BYTES. */
export class EndsCapture {
  private head: Buffer[] = [];
  private headBytes = 0;
  /** The latest chunks (references, as the spool's write stream keeps them), at least END_BYTES. */
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private total = 0;

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.headBytes < END_BYTES) {
      const part = chunk.subarray(0, END_BYTES - this.headBytes);
      this.head.push(Buffer.from(part)); this.headBytes += part.length;
    }
    this.tail.push(chunk); this.tailBytes += chunk.length;
    while (this.tail.length > 1 && this.tailBytes - this.tail[0].length >= END_BYTES) this.tailBytes -= (this.tail.shift() as Buffer).length;
  }

  text(): string {
    const head = Buffer.concat(this.head);
    if (this.total <= END_BYTES) return head.toString('utf8');
    const tail = Buffer.concat(this.tail).subarray(-END_BYTES);
    // The tail's bytes that are in the head already.
    const overlap = Math.max(0, head.length - (this.total - tail.length));
    return `${head.toString('utf8')}\n${tail.subarray(overlap).toString('utf8')}`;
  }
}

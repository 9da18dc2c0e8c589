// The last bytes a child process wrote to stderr: what an operator needs to see when it fails.
export class OutputTail {
  private tail = Buffer.alloc(0);

  constructor(private readonly maxBytes = 2048) {}

  push(chunk: Buffer): void {
    this.tail = this.tail.length + chunk.length <= this.maxBytes ? Buffer.concat([this.tail, chunk]) : Buffer.concat([this.tail, chunk]).subarray(-this.maxBytes);
  }

  /** The last `n` non-empty lines, joined with " | " (fits a one-line report field). */
  lines(n = 3): string {
    return this.tail.toString('utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(-n).join(' | ');
  }
}
